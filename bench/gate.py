"""Gating under failures: Zuul's algorithm and osci's, as failure policies of osci's own dependent
manager, on the same queues.

1. Simulated (the real Scheduler, in-memory ports, a simulated clock; bench/gatesim.py): a queue
   of `--changes` changes all enqueued at once, each bad with probability `--p` (a build of any
   state holding a bad change fails), every build failing anyway with probability `--f` (a
   flake), `--executors` builds at once, each taking `--build-time`. Several seeds; the same
   queue (same bad changes, same flake draws in order) for both policies.
2. The real server (`--server-changes` changes, 1-second builds): a bare git repository, the
   changes pushed as proposal refs (refs/proposals/main/<name>), a job that fails when the tree
   holds a file marking its change bad (plus a flake rate), the real dependent pipeline
   merging into main. Checks the branch history equals what the builds tested.

Prints per policy: makespan relative to the oracle (ceil(changes / executors) x build time),
builds per landed change, innocent changes ejected, whether every merged tree was tested.
The last line is JSON. Always exits 0.

    .venv/bin/python bench/gate.py [--seeds 5] [--changes 100] [--server-changes 20] [--no-server]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatesim import Harness, Sim, make_pipeline  # noqa: E402

POLICIES = ("zuul", "retry", "screen")


def simulate(policy: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    draw = random.Random(seed)
    changes = [f"c{n:03d}" for n in range(1, args.changes + 1)]
    bad = {c for c in changes if draw.random() < args.p}
    sim = Sim(bad=bad, flake=args.f, build_time=args.build_time, rng=random.Random(seed * 7919 + 1))
    pipeline = make_pipeline(failure_policy=policy, window=args.window)
    harness = Harness(sim, pipeline, slots=args.executors)
    asyncio.run(harness.run(changes))
    results = harness.results()
    landed = [c for c, r in results.items() if r == "SUCCESS"]
    innocent = [c for c, r in results.items() if r != "SUCCESS" and c not in bad]
    oracle = math.ceil(len(changes) / args.executors) * args.build_time
    return {
        "makespan": harness.clock.now / oracle,
        "builds_per_landed": sim.builds / max(1, len(landed)),
        "innocent_ejected": len(innocent) / len(changes),
        "bad_merged": len([c for c in landed if c in bad]),
        "main_green": sim.untested_merges == 0 and not any(c in bad for c in sim.branch),
        "landed": len(landed),
        "builds": sim.builds,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "makespan_vs_oracle": round(statistics.mean(r["makespan"] for r in runs), 3),
        "builds_per_landed": round(statistics.mean(r["builds_per_landed"] for r in runs), 3),
        "innocent_ejected_pct": round(100 * statistics.mean(r["innocent_ejected"] for r in runs), 3),
        "main_always_green": all(r["main_green"] for r in runs),
        "landed_mean": round(statistics.mean(r["landed"] for r in runs), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--f", type=float, default=0.02)
    parser.add_argument("--executors", type=int, default=8)
    parser.add_argument("--build-time", type=float, default=600.0)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--server-changes", type=int, default=20)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "simulated": {
            "changes": args.changes,
            "p": args.p,
            "f": args.f,
            "executors": args.executors,
            "seeds": args.seeds,
            "window": args.window,
        }  # fmt: skip
    }
    print(f"simulated: {args.changes} changes, p={args.p}, f={args.f}, {args.executors} executors, "
          f"{args.seeds} seeds, the real Scheduler on a simulated clock")  # fmt: skip
    print(
        f"  {'policy':8} {'makespan/oracle':>16} {'builds/landed':>14} {'innocent ejected':>17} {'main green':>11}"
    )
    for policy in POLICIES:
        runs = [simulate(policy, seed, args) for seed in range(1, args.seeds + 1)]
        summary = summarise(runs)
        figures["simulated"][policy] = summary
        print(f"  {policy:8} {summary['makespan_vs_oracle']:>15.3f}x {summary['builds_per_landed']:>14.3f} "
              f"{summary['innocent_ejected_pct']:>16.2f}% {str(summary['main_always_green']):>11}")  # fmt: skip
    if not args.no_server:
        from gate_server import run_server_bench

        figures["server"] = run_server_bench(args.server_changes, p=args.p, f=args.f)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
