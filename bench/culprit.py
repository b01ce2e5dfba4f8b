"""How well does culprit finding name the commit that broke a job, and at what cost?

Drives ``osci.analysis.culprit.find_culprit`` (the code the server runs) with a simulated
job over many ranges: n commits after the last good one, n log-uniform in 64..1,024; a flake
rate f in {0, 0.05, 0.1, 0.15, 0.2}; 40% of the ranges have no culprit (the failure that
started the search was a flake). The model is deterministic (seeded) and symmetric: a commit
at or after the culprit fails with probability 1 - f, any other commit fails with
probability f, every build independently.

Prints, per k (builds per round) and flake rate: accuracy when a culprit exists (the right
commit named), correct "no culprit" verdicts (flaky, nobody blamed) when none does, and the
builds spent against log2(n): "search" builds (reproducing the failure at the bad end, the
k-ary search, re-tests on disagreement) and "confirm" builds (the culprit's repeated failures
and its parent's repeated passes, confirm-failures = confirm-passes = 3), and rounds (one
round = up to k builds in parallel, the wall-clock cost). Goals: >= 99% accuracy, >= 98%
correct "no culprit" verdicts, and without flakes at k = 1 at most ceil(log2 n) + 1 search
builds (confirmation builds come on top, and are printed apart). Last line: JSON.

    .venv/bin/python bench/culprit.py [--ranges 3000] [--k 1,4] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
from collections import defaultdict
from typing import Any

from osci.analysis.culprit import CULPRIT, FAIL, FLAKY, PASS, Probe, Settings, find_culprit

FLAKE_RATES = (0.0, 0.05, 0.1, 0.15, 0.2)
NO_CULPRIT_SHARE = 0.4
GOAL_ACCURACY = 0.99
GOAL_NO_CULPRIT = 0.98


def make_range(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(seed * 1_000_003 + index)
    n = int(round(2 ** rng.uniform(6, 10)))
    flake = FLAKE_RATES[index % len(FLAKE_RATES)]
    culprit = None if rng.random() < NO_CULPRIT_SHARE else rng.randint(1, n)
    return {"n": n, "flake": flake, "culprit": culprit, "seed": rng.getrandbits(32)}


async def search(case: dict[str, Any], k: int) -> dict[str, Any]:
    n, flake, culprit = case["n"], case["flake"], case["culprit"]
    rng = random.Random(case["seed"])
    commits = [f"c{i:04d}" for i in range(n + 1)]

    async def run(probe: Probe) -> str:
        bad = culprit is not None and probe.position >= culprit
        fails = rng.random() < (1 - flake if bad else flake)
        return FAIL if fails else PASS

    result = await find_culprit(commits, run, Settings(max_parallel=k))
    if culprit is None:
        correct = result.verdict == FLAKY
    else:
        correct = result.verdict == CULPRIT and result.position == culprit
    return {
        "correct": correct,
        "verdict": result.verdict,
        "search": result.search_builds,
        "confirm": result.confirm_builds,
        "total": result.total_builds,
        "rounds": result.rounds,
        "bound": math.ceil(math.log2(n)) + 1,
        "log2n": math.log2(n),
    }


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=3000, help="ranges per k")
    parser.add_argument("--k", default="1,4", help="builds per round to try, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ks = [int(k) for k in args.k.split(",")]
    cases = [make_range(args.seed, i) for i in range(args.ranges)]
    figures: dict[str, Any] = {"ranges_per_k": args.ranges, "flake_rates": list(FLAKE_RATES), "k": {}}
    print(f"culprit finding: {args.ranges} ranges per k, n in 64..1024, flake rates {list(FLAKE_RATES)},")
    print(
        f"{NO_CULPRIT_SHARE:.0%} without a culprit; confirm-failures = confirm-passes = 3, confidence 0.995"
    )
    all_goals = True
    for k in ks:
        rows = [asyncio.run(search(case, k)) for case in cases]
        by_flake: dict[float, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
        for case, row in zip(cases, rows, strict=True):
            by_flake[case["flake"]].append((case, row))
        print(f"\nk = {k} build(s) per round")
        print(
            "  flake  culprit: n  accuracy  | none: n  correct  |  search  confirm  total  rounds  "
            "ceil(log2 n)+1"
        )
        for flake in FLAKE_RATES:
            pairs = by_flake[flake]
            with_c = [r for c, r in pairs if c["culprit"] is not None]
            without = [r for c, r in pairs if c["culprit"] is None]
            print(
                f"  {flake:5.2f}  {len(with_c):10d}  {mean([r['correct'] for r in with_c]):8.2%}  "
                f"| {len(without):7d}  {mean([r['correct'] for r in without]):7.2%}  | "
                f"{mean([r['search'] for r in with_c]):6.2f}  {mean([r['confirm'] for r in with_c]):7.2f}  "
                f"{mean([r['total'] for r in with_c]):5.2f}  {mean([r['rounds'] for r in with_c]):6.2f}  "
                f"{mean([r['bound'] for r in with_c]):6.2f}"
            )
        with_c = [(c, r) for c, r in zip(cases, rows, strict=True) if c["culprit"] is not None]
        without = [(c, r) for c, r in zip(cases, rows, strict=True) if c["culprit"] is None]
        accuracy = mean([r["correct"] for _, r in with_c])
        no_culprit = mean([r["correct"] for _, r in without])
        clean = [r for c, r in with_c if c["flake"] == 0.0]
        over = max((r["search"] - r["bound"] for r in clean), default=0)
        wrong_blame = sum(1 for _, r in without if r["verdict"] == CULPRIT)
        wrong_commit = sum(1 for _, r in with_c if r["verdict"] == CULPRIT and not r["correct"])
        print(
            f"  all: accuracy {accuracy:.2%} (goal >= {GOAL_ACCURACY:.0%}), correct no-culprit "
            f"{no_culprit:.2%} (goal >= {GOAL_NO_CULPRIT:.0%}); wrong commit blamed {wrong_commit}, "
            f"someone blamed for a flake {wrong_blame}"
        )
        bound_met = over <= 0
        print(
            f"  without flakes: search builds - (ceil(log2 n)+1) at most {over:+d} "
            f"({'within' if bound_met else 'OVER'} the bound{'' if k == 1 else '; k > 1 spends more builds for fewer rounds, the bound is for k = 1'}); "
            f"mean search {mean([r['search'] for r in clean]):.2f}, confirm {mean([r['confirm'] for r in clean]):.2f}, "
            f"rounds {mean([r['rounds'] for r in clean]):.2f}, mean log2 n {mean([r['log2n'] for r in clean]):.2f}"
        )
        goals = accuracy >= GOAL_ACCURACY and no_culprit >= GOAL_NO_CULPRIT and (bound_met or k != 1)
        all_goals = all_goals and goals
        figures["k"][str(k)] = {
            "accuracy": round(accuracy, 4),
            "no_culprit_correct": round(no_culprit, 4),
            "wrong_commit": wrong_commit,
            "blamed_for_flake": wrong_blame,
            "clean_max_search_over_bound": over,
            "clean_mean_search_builds": round(mean([r["search"] for r in clean]), 2),
            "clean_mean_confirm_builds": round(mean([r["confirm"] for r in clean]), 2),
            "clean_mean_rounds": round(mean([r["rounds"] for r in clean]), 2),
            "mean_search_builds": round(mean([r["search"] for _, r in with_c]), 2),
            "mean_total_builds": round(mean([r["total"] for _, r in with_c]), 2),
            "mean_rounds": round(mean([r["rounds"] for _, r in with_c]), 2),
            "mean_log2n": round(mean([r["log2n"] for _, r in with_c]), 2),
        }
    figures["goals_met"] = all_goals
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
