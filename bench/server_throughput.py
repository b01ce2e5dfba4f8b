"""Throughput of the real server: many pushes across many repositories, one no-op job each.

Starts `osci server` (SQLite, local slots) on a fresh data dir, prepares N repositories with
a chain of commits each, then "pushes" by moving each repository's branch (`git update-ref`)
and notifying the server the way the post-receive hook does. Measures:

- builds per second over the whole run (first push to last build finished),
- event-to-start latency p50/p99 in a second phase where pushes come slowly and a slot is
  always free (the scheduler's own delay, not queueing),
- the server's resident memory at the 1,000th and the last build (is it flat?).

Goals (issue 3): >= 20 builds/s on a 2-core machine, p99 event-to-start < 200 ms, memory flat.
Prints its figures and ends with one line of JSON; always exits 0.

    .venv/bin/python bench/server_throughput.py [--repos 100] [--pushes 2000] [--slots 4]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.org",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.org",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(*args: str, cwd: Path | None = None, input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, input=input, capture_output=True, text=True, check=True
    ).stdout.strip()


def prepare_repo(root: Path, name: str, commits: int) -> list[str]:
    """A bare repository whose main branch is at the first commit, with `commits` more commits ready."""
    bare = root / f"{name}.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    blob = git("hash-object", "-w", "--stdin", cwd=bare, input="hello\n")
    tree = git("mktree", cwd=bare, input=f"100644 blob {blob}\tREADME\n")
    shas = []
    parent = None
    for number in range(commits + 1):
        args = ["commit-tree", tree, "-m", f"commit {number}"]
        if parent:
            args += ["-p", parent]
        parent = git(*args, cwd=bare)
        shas.append(parent)
    git("update-ref", "refs/heads/main", shas[0], cwd=bare)
    return shas[1:]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def finished(client: httpx.Client) -> int:
    text = client.get("/metrics").text
    total = 0
    for line in text.splitlines():
        if line.startswith("osci_builds_total{"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def push(client: httpx.Client, repos: Path, name: str, sha: str) -> None:
    """What a push does to a bare repository, then what its post-receive hook does.

    The ref is written the way `git update-ref` writes a loose ref (a new file renamed
    over the old), without starting a git process: the load generator shares the
    machine with the server, and its own cost should not be what is measured."""
    ref = repos / f"{name}.git" / "refs" / "heads" / "main"
    temporary = ref.with_name("main.lock")
    temporary.write_text(sha + "\n")
    os.replace(temporary, ref)
    client.post("/api/connection/local/notify", json={"project": name})


def wait_for_events(db_path: Path, count: int, timeout: float = 600) -> None:
    """Until the server has recorded `count` ref-updated events (read from its SQLite file)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
            seen = db.execute("SELECT count(*) FROM events WHERE type = 'ref-updated'").fetchone()[0]
        if seen >= count:
            return
        time.sleep(0.05)
    raise SystemExit(f"the server saw only {seen} of {count} pushes in {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--pushes", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency-pushes", type=int, default=100)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="osci-bench-server-"))
    repos = work / "repos"
    repos.mkdir()
    per_repo = -(-args.pushes // args.repos)
    latency_rounds = -(-args.latency_pushes // args.repos) + 1
    print(
        f"preparing {args.repos} repositories with {per_repo + latency_rounds} commits each in {work} ...",
        flush=True,
    )
    names = [f"r{n:03d}" for n in range(args.repos)]
    ready = {name: prepare_repo(repos, name, per_repo + latency_rounds) for name in names}
    projects = "".join(f"- project: {{name: {name}, check: {{jobs: [noop]}}}}\n" for name in names)
    (work / "osci.yaml").write_text(
        f"""
- connection: {{name: local, driver: git, baseurl: "{repos}", poll-interval: 0}}
- pipeline:
    name: check
    manager: independent
    trigger: {{local: [{{event: ref-updated}}]}}
- job: {{name: noop, run: {{script: "true"}}}}
{projects}"""
    )
    port = free_port()
    server_log = open(work / "server.log", "w")  # noqa: SIM115 (kept open for the server's life)
    server = subprocess.Popen(
        [sys.executable, "-m", "osci", "server", "--config", str(work / "osci.yaml"), "--data-dir", str(work / "data"),
         "--listen", f"127.0.0.1:{port}", "--slots", str(args.slots)],
        stdout=subprocess.DEVNULL, stderr=server_log, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if client.get("/api/status").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The connection records each repository's refs on first sight; wait for that.
        time.sleep(1.0)
        for name in names:
            client.post("/api/connection/local/notify", json={"project": name})

        # Phase 1: throughput. Pushes as fast as the client can make them, round-robin.
        samples: dict[str, int] = {}
        done_count = [0]
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    done_count[0] = finished(client)
                if done_count[0] >= args.pushes // 2 and "half" not in samples:
                    samples["half"] = rss_kib(server.pid)
                samples["peak"] = max(samples.get("peak", 0), rss_kib(server.pid))
                time.sleep(1.0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        start = time.time()
        pushed = 0
        db_path = work / "data" / "osci.db"
        for round_number in range(per_repo):
            # A repository's next push waits until the server has seen its previous one: two
            # pushes it has not looked at yet would be one ref update (old -> newest), as in git.
            wait_for_events(db_path, pushed)
            for name in names:
                if pushed >= args.pushes:
                    break
                push(client, repos, name, ready[name][round_number])
                pushed += 1
        push_seconds = time.time() - start
        while done_count[0] < args.pushes and time.time() - start < 1800:
            time.sleep(0.1)
        elapsed = time.time() - start
        samples["end"] = rss_kib(server.pid)
        stop.set()
        watcher.join()
        throughput = done_count[0] / elapsed

        # Phase 2: latency with a free slot: one push at a time, each after the previous build ended.
        latency_start_count = done_count[0]
        for number in range(args.latency_pushes):
            name = names[number % len(names)]
            push(client, repos, name, ready[name][per_repo + number // len(names)])
            target = latency_start_count + number + 1
            while finished(client) < target:
                time.sleep(0.01)
    finally:
        server.terminate()
        server.wait(60)
        client.close()

    db = sqlite3.connect(work / "data" / "osci.db")
    rows = db.execute(
        """SELECT (julianday(b.start_time) - julianday(e.received_at)) * 86400.0
           FROM builds b JOIN buildsets s ON b.buildset_id = s.id JOIN items i ON s.item_id = i.id
           JOIN events e ON i.event_id = e.id ORDER BY b.id"""
    ).fetchall()
    latencies = [r[0] * 1000.0 for r in rows[-args.latency_pushes :] if r[0] is not None]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    growth = (samples["end"] - samples.get("half", samples["end"])) / max(1, samples.get("half", 1))
    figures = {
        "repos": args.repos,
        "pushes": args.pushes,
        "slots": args.slots,
        "builds_finished": done_count[0],
        "seconds": round(elapsed, 2),
        "push_seconds": round(push_seconds, 2),
        "builds_per_second": round(throughput, 2),
        "event_to_start_p50_ms": round(p50, 1),
        "event_to_start_p99_ms": round(p99, 1),
        "rss_half_mib": round(samples.get("half", 0) / 1024, 1),
        "rss_end_mib": round(samples["end"] / 1024, 1),
        "rss_peak_mib": round(samples.get("peak", 0) / 1024, 1),
        "rss_growth_second_half": round(growth, 3),
        "goal_builds_per_second": throughput >= 20,
        "goal_p99_under_200ms": p99 < 200,
        "goal_memory_flat": growth < 0.10,
    }
    print(
        f"builds/s: {figures['builds_per_second']} ({done_count[0]} builds in {elapsed:.1f}s; pushes took {push_seconds:.1f}s)"
    )
    print(f"event-to-start with a free slot: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"server RSS: {figures['rss_half_mib']} MiB at build {args.pushes // 2}, {figures['rss_end_mib']} MiB at the end (peak {figures['rss_peak_mib']} MiB)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
