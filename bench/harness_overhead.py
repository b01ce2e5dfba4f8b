"""How much time does `osci test` add per drop-in test, over a plain shell loop?

Creates 500 trivial tests (`#!/bin/sh` + `exit 0`, one in ten `exit 1`), then times
a shell loop over them, `osci test -j1` and `osci test -j2` (the real command, as a
subprocess), each several times, keeping the best. Goals: at most 2 ms per test over
the shell loop at -j1 (Avocado needs about 440 ms), and -j2 at least 1.6x faster
than -j1. Prints the figures and ends with one line of JSON; always exits 0.

    .venv/bin/python bench/harness_overhead.py [--tests 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

AVOCADO_MS = 440.0
GOAL_OVERHEAD_MS = 2.0
GOAL_SPEEDUP = 1.6


def osci_command() -> list[str]:
    here = os.path.join(os.path.dirname(sys.executable), "osci")
    return [here] if os.access(here, os.X_OK) else [shutil.which("osci") or "osci"]


def make_tests(directory: str, count: int) -> None:
    for index in range(count):
        status = 1 if index % 10 == 9 else 0
        path = os.path.join(directory, f"t{index:04d}.sh")
        with open(path, "w") as handle:
            handle.write(f"#!/bin/sh\nexit {status}\n")
        os.chmod(path, 0o755)


def two_shell_loops(directory: str) -> str:
    """Shell code running the files in two loops at once, each over half of them."""
    names = sorted(os.listdir(directory))
    halves = [" ".join(f"{directory}/{name}" for name in names[start::2]) for start in (0, 1)]
    loops = [f'(for f in {half}; do "$f" >/dev/null 2>&1; done) &' for half in halves]
    return " ".join(loops) + " wait"


def timed(argv: list[str], expect: set[int]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in expect:
        raise SystemExit(f"{argv[0]} exited {completed.returncode}: {completed.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def best_of(rounds: int, argv: list[str], expect: set[int]) -> float:
    return min(timed(argv, expect)[0] for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    count = args.tests
    osci = osci_command()
    with tempfile.TemporaryDirectory(prefix="osci-bench-") as directory:
        make_tests(directory, count)
        shell = ["sh", "-c", f'for f in {directory}/*; do "$f" >/dev/null 2>&1; done']
        shell2 = ["sh", "-c", two_shell_loops(directory)]
        timed(shell, {0, 1})  # warm the page cache
        results: dict[str, list[tuple[float, float]]] = {
            "shell": [],
            "shell2": [],
            "osci_j1": [],
            "osci_j2": [],
        }
        # Interleave the rounds so that a noisy moment hurts all alike.
        for _ in range(args.rounds):
            results["shell"].append(timed(shell, {0, 1}))
            results["shell2"].append(timed(shell2, {0, 1}))
            results["osci_j1"].append(timed([*osci, "test", "-j1", directory], {1}))
            results["osci_j2"].append(timed([*osci, "test", "-j2", directory], {1}))
        empty = os.path.join(directory, "empty")
        os.mkdir(empty)
        startup = best_of(args.rounds, [*osci, "test", empty], {0})  # start-up and exit, no tests
    shell_s, shell2_s, j1_s, j2_s = (min(wall for wall, _ in results[key]) for key in results)
    shell_cpu, j1_cpu = (min(cpu for _, cpu in results[key]) for key in ("shell", "osci_j1"))
    overhead_ms = (j1_s - shell_s) / count * 1000
    # CPU time hardly depends on what else the machine is doing: a steadier second opinion.
    overhead_cpu_ms = (j1_cpu - shell_cpu) / count * 1000
    speedup = j1_s / j2_s
    # What the machine allows right now: the shell loop split in two halves run side by side.
    shell_speedup = shell_s / shell2_s
    # The same ratio without the start-up both pay once (interpreter, imports): the runner's own scaling.
    run_speedup = (j1_s - startup) / max(j2_s - startup, 1e-9)
    figures = {
        "tests": count,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "shell_s": round(shell_s, 4),
        "osci_j1_s": round(j1_s, 4),
        "osci_j2_s": round(j2_s, 4),
        "osci_startup_s": round(startup, 4),
        "shell_ms_per_test": round(shell_s / count * 1000, 4),
        "osci_j1_ms_per_test": round(j1_s / count * 1000, 4),
        "overhead_ms_per_test": round(overhead_ms, 4),
        "shell_cpu_s": round(shell_cpu, 4),
        "osci_j1_cpu_s": round(j1_cpu, 4),
        "overhead_cpu_ms_per_test": round(overhead_cpu_ms, 4),
        "load_average_1min": os.getloadavg()[0],
        "j1_over_j2": round(speedup, 3),
        "j1_over_j2_without_startup": round(run_speedup, 3),
        "shell2_s": round(shell2_s, 4),
        "shell_over_shell2": round(shell_speedup, 3),
        "avocado_ms_per_test": AVOCADO_MS,
        "goal_overhead_ms": GOAL_OVERHEAD_MS,
        "goal_overhead_met": overhead_ms <= GOAL_OVERHEAD_MS,
        "goal_speedup": GOAL_SPEEDUP,
        "goal_speedup_met": speedup >= GOAL_SPEEDUP,
    }
    print(
        f"{count} trivial tests, best of {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine makes -j2 look worse)"
    )
    print(f"  shell loop        {shell_s:8.3f} s  ({shell_s / count * 1000:.3f} ms/test)")
    print(f"  osci test -j1     {j1_s:8.3f} s  ({j1_s / count * 1000:.3f} ms/test)")
    print(f"  osci test -j2     {j2_s:8.3f} s  ({j2_s / count * 1000:.3f} ms/test)")
    print(f"  2 shell loops     {shell2_s:8.3f} s  (each over half the files, side by side)")
    print(f"  osci start-up     {startup:8.3f} s  (included above)")
    print(
        f"  overhead per test {overhead_ms:8.3f} ms  (goal <= {GOAL_OVERHEAD_MS} ms: "
        f"{'met' if overhead_ms <= GOAL_OVERHEAD_MS else 'MISSED'}; Avocado: ~{AVOCADO_MS:.0f} ms)"
    )
    print(
        f"  CPU overhead      {overhead_cpu_ms:8.3f} ms  per test (osci and its tests, over the shell loop)"
    )
    print(
        f"  -j1 / -j2         {speedup:8.3f} x   (goal >= {GOAL_SPEEDUP}x: "
        f"{'met' if speedup >= GOAL_SPEEDUP else 'MISSED'}; without the start-up: {run_speedup:.3f}x)"
    )
    print(
        f"  shell 1 / 2 loops {shell_speedup:8.3f} x   (the parallelism the machine gave a shell loop meanwhile)"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
