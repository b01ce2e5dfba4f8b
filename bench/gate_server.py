"""bench/gate.py's run through the real server: a bare git repository, changes proposed as
refs/proposals/main/<name>, a 1-second job that fails when the tree holds a change marked bad
(and at random with the flake rate), the dependent pipeline merging into main."""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

ENV = dict(os.environ, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
           GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org")  # fmt: skip

CONFIG = """
- connection:
    name: local
    driver: git
    baseurl: {root}/repos
    poll-interval: 0.2
- pipeline:
    name: gate
    manager: dependent
    failure-policy: {policy}
    trigger:
      local:
        - event: [proposal-created, proposal-updated]
- job:
    name: tests
    run:
      script: |
        sleep {build_time}
        if ls BAD-* >/dev/null 2>&1; then exit 1; fi
        if [ "$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')" -lt {threshold} ]; then echo flaked; exit 1; fi
        git rev-parse HEAD >> {root}/passed.txt
- project:
    name: demo
    gate: {{jobs: [tests]}}
"""


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=True
    ).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_policy(
    policy: str, changes: int, p: float, f: float, slots: int, build_time: float, seed: int
) -> dict:
    root = Path(tempfile.mkdtemp(prefix="osci-gate-bench-"))
    server = None
    try:
        bare, work = root / "repos" / "demo.git", root / "work"
        git("init", "-q", "--bare", "-b", "main", str(bare))
        git("config", "core.logAllRefUpdates", "always", cwd=bare)
        git("clone", "-q", str(bare), str(work))
        git("checkout", "-q", "-B", "main", cwd=work)
        (work / "README").write_text("demo\n")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "initial", cwd=work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
        config = root / "osci.yaml"
        config.write_text(
            textwrap.dedent(CONFIG).format(
                root=root, policy=policy, threshold=int(f * 65536), build_time=build_time
            )
        )
        port = free_port()
        env = dict(ENV, OSCI_ADMIN_TOKEN_FILE=str(root / "token"))
        log = (root / "server.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "osci", "server", "--config", str(config), "--data-dir", str(root / "data"),
             "--listen", f"127.0.0.1:{port}", "--slots", str(slots)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
        )  # fmt: skip
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/api/status").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        state = root / "data" / "connections" / "local" / "refs.json"
        while not (state.exists() and "demo" in state.read_text()):
            time.sleep(0.1)
        draw = random.Random(seed)
        bad = set()
        for n in range(1, changes + 1):
            name = f"c{n:03d}"
            git("checkout", "-q", "-B", name, "origin/main", cwd=work)
            marker = f"BAD-{name}" if draw.random() < p else f"file-{name}"
            if marker.startswith("BAD"):
                bad.add(f"main/{name}")
            (work / marker).write_text(name + "\n")
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", f"change {name}", cwd=work)
        initial = git("rev-parse", "main", cwd=bare)
        start = time.monotonic()
        git("push", "-q", "origin", *(f"{f'c{n:03d}'}:refs/proposals/main/c{n:03d}" for n in range(1, changes + 1)),
            cwd=work)  # fmt: skip
        wanted = {f"main/c{n:03d}" for n in range(1, changes + 1)}
        results: dict[str, str] = {}
        while time.monotonic() - start < 600:
            results = {}
            for event in client.get("/api/events", params={"limit": 500}).json():
                if event["type"].startswith("proposal-") and event["items"]:
                    item = event["items"][0]
                    if item["state"] not in ("waiting", "active"):
                        results[event["change"]] = item["result"]
            if wanted <= set(results):
                break
            time.sleep(0.2)
        makespan = time.monotonic() - start
        builds = [  # the builds that ran (not those skipped or aborted before they started)
            b
            for b in client.get("/api/builds", params={"limit": 1000}).json()
            if b.get("pipeline") == "gate" and b.get("start_time")
        ]
        landed = [c for c, r in results.items() if r == "SUCCESS"]
        innocent = [c for c, r in results.items() if r != "SUCCESS" and c not in bad]
        passed = set((root / "passed.txt").read_text().split()) if (root / "passed.txt").exists() else set()
        values = set(git("reflog", "show", "--format=%H", "refs/heads/main", cwd=bare).split()) - {initial}
        tree = git("ls-tree", "--name-only", "main", cwd=bare).split()
        oracle = math.ceil(changes / slots) * build_time
        return {
            "makespan_s": round(makespan, 2),
            "makespan_vs_oracle": round(makespan / oracle, 3),
            "builds": len(builds),
            "builds_per_landed": round(len(builds) / max(1, len(landed)), 3),
            "landed": len(landed),
            "bad": len(bad),
            "innocent_ejected_pct": round(100 * len(innocent) / changes, 2),
            "main_always_green": values <= passed and not any(name.startswith("BAD") for name in tree),
            "finished": wanted <= set(results),
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)


def run_server_bench(changes: int, p: float, f: float, slots: int = 8, build_time: float = 1.0,
                     seed: int = 3) -> dict[str, Any]:  # fmt: skip
    print(f"real server: {changes} changes, p={p}, f={f}, {slots} slots, {build_time:g}-second builds "
          f"(oracle {math.ceil(changes / slots) * build_time:g} s)")  # fmt: skip
    out: dict[str, Any] = {"changes": changes, "slots": slots, "build_time": build_time}
    for policy in ("zuul", "retry", "screen"):
        figures = one_policy(policy, changes, p, f, slots, build_time, seed)
        out[policy] = figures
        print(f"  {policy:8} makespan {figures['makespan_s']:.1f}s ({figures['makespan_vs_oracle']:.2f}x oracle), "
              f"{figures['builds']} builds, {figures['builds_per_landed']:.2f} per landed change "
              f"({figures['landed']} landed, {figures['bad']} bad), innocent ejected "
              f"{figures['innocent_ejected_pct']:.1f}%, main always green {figures['main_always_green']}")  # fmt: skip
    return out
