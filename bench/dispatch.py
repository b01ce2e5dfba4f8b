"""Dispatch through remote agents: many `osci agent` processes, thousands of no-op builds.

Starts `osci server` (SQLite) with an `agent` provider, creates one agent token per agent and
starts that many real `osci agent` processes on this machine, then:

- phase 1 (throughput): pushes to repositories whose project runs `--jobs` no-op jobs each on the
  agents' label, as fast as the server takes them, until `--builds` builds have finished;
  prints builds per second and the server's CPU (cores used) and memory;
- phase 2 (dispatch latency): one push at a time to a project with one job, each after the
  previous build finished (a free agent is always waiting); the latency is from the event's
  arrival at the server to the agent's first console line of the attempt (the agent has the
  assignment and starts it).

Goals (issue 7): >= 50 builds/s and p99 dispatch < 500 ms on this 2-core machine, with the
agents on the same machine. Prints its figures and ends with one line of JSON; always exits 0.

    .venv/bin/python bench/dispatch.py [--agents 50] [--builds 5000] [--jobs 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from server_throughput import finished, free_port, percentile, prepare_repo, push, rss_kib, wait_for_events

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def config(repos: Path, names: list[str], jobs: int, heartbeat: float) -> str:
    job_names = [f"noop-{n:02d}" for n in range(jobs)]
    job_defs = "".join(
        f"- job: {{name: {name}, nodeset: {{nodes: [{{name: n, label: bench}}]}}, run: {{script: 'true'}}}}\n"
        for name in job_names
    )
    projects = "".join(f"- project: {{name: {n}, check: {{jobs: [{', '.join(job_names)}]}}}}\n" for n in names)
    return f"""
- provider: {{name: agents, driver: agent, heartbeat-timeout: {heartbeat}}}
- connection: {{name: local, driver: git, baseurl: "{repos}", poll-interval: 0}}
- pipeline:
    name: check
    manager: independent
    trigger: {{local: [{{event: ref-updated}}]}}
{job_defs}{projects}- project: {{name: lat, check: {{jobs: [noop-00]}}}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--builds", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=50, help="no-op jobs per push")
    parser.add_argument("--latency-builds", type=int, default=200)
    parser.add_argument("--heartbeat-timeout", type=float, default=30.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="osci-bench-dispatch-"))
    repos = work / "repos"
    repos.mkdir()
    pushes = -(-args.builds // args.jobs)
    names = [f"r{n:03d}" for n in range(pushes)]
    print(f"preparing {pushes} repositories and the latency repository in {work} ...", flush=True)
    ready = {name: prepare_repo(repos, name, 1) for name in names}
    ready["lat"] = prepare_repo(repos, "lat", args.latency_builds)
    (work / "osci.yaml").write_text(config(repos, names, args.jobs, args.heartbeat_timeout))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = open(work / "server.log", "w")  # noqa: SIM115 (kept open for the server's life)
    server = subprocess.Popen(
        [sys.executable, "-m", "osci", "server", "--config", str(work / "osci.yaml"), "--data-dir", str(work / "data"),
         "--listen", f"127.0.0.1:{port}", "--slots", "1"],
        stdout=subprocess.DEVNULL, stderr=server_log, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    client = httpx.Client(base_url=url, timeout=60)
    agents: list[subprocess.Popen] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/api/status").status_code == 200:
                    break
            time.sleep(0.1)
        from osci.store import Store

        store = Store(f"sqlite:///{work / 'data' / 'osci.db'}")
        tokens = {f"agent{n:02d}": store.create_token(f"agent{n:02d}", "agent") for n in range(args.agents)}
        store.close()
        print(f"starting {args.agents} agents ...", flush=True)
        agent_log = open(work / "agents.log", "w")  # noqa: SIM115
        for name, token in tokens.items():
            agents.append(
                subprocess.Popen(
                    [sys.executable, "-m", "osci", "agent", "--server", url, "--label", "bench",
                     "--workdir", str(work / "agents" / name)],
                    stdout=agent_log, stderr=agent_log, stdin=subprocess.DEVNULL,
                    env=dict(os.environ, OSCI_AGENT_TOKEN=token),
                )  # fmt: skip
            )
        deadline = time.time() + 120
        while time.time() < deadline:
            ready_nodes = [n for n in client.get("/api/nodes").json()["nodes"] if n["state"] == "ready"]
            if len([n for n in ready_nodes if n["provider"] == "agents"]) >= args.agents:
                break
            time.sleep(0.5)
        else:
            raise SystemExit("the agents did not all register in 120 s")
        time.sleep(1.0)  # the git connection records each repository's refs on first sight
        for name in [*names, "lat"]:
            client.post("/api/connection/local/notify", json={"project": name})
        time.sleep(1.0)

        # Phase 1: throughput.
        samples: dict[str, int] = {}
        done = [0]
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    done[0] = finished(client)
                samples["peak"] = max(samples.get("peak", 0), rss_kib(server.pid))
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        cpu_before = cpu_seconds(server.pid)
        agents_before = sum(cpu_seconds(a.pid) for a in agents)
        start = time.time()
        for name in names:
            push(client, repos, name, ready[name][0])
        total = pushes * args.jobs
        while done[0] < total and time.time() - start < 1800:
            time.sleep(0.05)
        elapsed = time.time() - start
        server_cpu = cpu_seconds(server.pid) - cpu_before
        agents_cpu = sum(cpu_seconds(a.pid) for a in agents) - agents_before
        samples["end"] = rss_kib(server.pid)
        stop.set()
        watcher.join()
        throughput = done[0] / elapsed
        print(f"phase 1: {done[0]} builds in {elapsed:.1f} s: {throughput:.1f} builds/s", flush=True)

        # Phase 2: dispatch latency with free agents.
        db_path = work / "data" / "osci.db"
        base = finished(client)
        seen = len(names) + 0
        for number in range(args.latency_builds):
            wait_for_events(db_path, seen)
            push(client, repos, "lat", ready["lat"][number])
            seen += 1
            while finished(client) < base + number + 1:
                time.sleep(0.005)
        latencies = dispatch_latencies(db_path, client, args.latency_builds)
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.wait(30)
        server.terminate()
        server.wait(60)
        client.close()

    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    figures = {
        "agents": args.agents,
        "builds": done[0],
        "jobs_per_push": args.jobs,
        "seconds": round(elapsed, 2),
        "builds_per_second": round(throughput, 2),
        "dispatch_p50_ms": round(p50, 1),
        "dispatch_p99_ms": round(p99, 1),
        "latency_samples": len(latencies),
        "server_cpu_cores": round(server_cpu / elapsed, 2),
        "agents_cpu_cores": round(agents_cpu / elapsed, 2),
        "server_rss_end_mib": round(samples["end"] / 1024, 1),
        "server_rss_peak_mib": round(samples.get("peak", 0) / 1024, 1),
        "load_average": os.getloadavg()[0],
        "goal_builds_per_second": throughput >= 50,
        "goal_p99_under_500ms": p99 < 500,
    }
    print(f"builds/s: {figures['builds_per_second']} ({done[0]} builds on {args.agents} agents in {elapsed:.1f} s)")
    print(f"dispatch (event to the agent's first line), free agents: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"server: {figures['server_cpu_cores']} cores, RSS {figures['server_rss_end_mib']} MiB at the end "
        f"(peak {figures['server_rss_peak_mib']} MiB); agents together: {figures['agents_cpu_cores']} cores"
    )
    print(json.dumps(figures))


def dispatch_latencies(db_path: Path, client: httpx.Client, count: int) -> list[float]:
    """Event arrival (the store) to the agent's first console line (the build's log), in ms."""
    db = sqlite3.connect(db_path)
    rows = db.execute(
        """SELECT b.uuid, e.received_at FROM builds b JOIN buildsets s ON b.buildset_id = s.id
           JOIN items i ON s.item_id = i.id JOIN events e ON i.event_id = e.id
           WHERE i.project = 'lat' ORDER BY b.id"""
    ).fetchall()
    db.close()
    latencies = []
    for uuid, received in rows[-count:]:
        log = client.get(f"/api/build/{uuid}/log").text
        line = next((x for x in log.splitlines() if "osci agent " in x and ": attempt " in x), None)
        if line is None:
            continue
        stamp = datetime.strptime(line.split(" | ", 1)[0], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        arrived = datetime.fromisoformat(str(received)).replace(tzinfo=UTC)
        latencies.append((stamp - arrived).total_seconds() * 1000.0)
    return latencies


if __name__ == "__main__":
    main()
