"""Drop-in tests: every executable file in a folder is a test, in any language.

Exit 0 passes, 77 skips, anything else fails. A header comment selects, gates and
times tests (`# osci: tags=fast requires=kvm timeout=30`, see `droptest_header`).
This module plans the runs (tags, requires, variants, repeats), hands them to the
`Runner`, and folds the runs of each test into one `DropTestResult`.

    results = run_droptests(discover(["tests"]), DropTestOptions(jobs=2))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from osci.executor.droptest_discover import DiscoveryError, DropTest, discover
from osci.executor.droptest_header import HeaderError, parse_duration
from osci.executor.droptest_runner import Job, Outcome, Runner
from osci.executor.droptest_variants import Variant, VariantsError, load_variants, variant_label

if TYPE_CHECKING:
    from osci.model import TestCase

__all__ = [
    "DiscoveryError",
    "DropTest",
    "DropTestOptions",
    "DropTestResult",
    "HeaderError",
    "RunSummary",
    "VariantsError",
    "discover",
    "load_variants",
    "parse_duration",
    "run_droptests",
    "summarize",
]

DEFAULT_TIMEOUT = 300.0

PASSED, FAILED, SKIPPED, DESELECTED = "passed", "failed", "skipped", "deselected"


@dataclass
class DropTestOptions:
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT  # for tests whose header sets none
    tags: frozenset[str] = frozenset()  # empty: every test is selected
    provides: frozenset[str] = frozenset()
    repeat: int = 1
    variants: list[Variant] | None = None


@dataclass
class DropTestResult:
    """One test (one variant of it), over all its runs."""

    name: str  # with the variant: tests/db.sh[DB=pg]
    path: str  # as shown to the user, without the variant
    variant: Variant | None
    status: str = DESELECTED  # passed, failed, skipped, deselected
    returncode: int | None = None
    duration: float = 0.0  # all its runs together
    reason: str = ""
    output_tail: str = ""
    output_size: int = 0
    runs: int = 0
    passes: int = 0
    flaky: bool = False
    timed_out: bool = False
    timeout: float = DEFAULT_TIMEOUT
    _failures: int = 0
    _skips: int = 0
    _run_reason: str = ""

    def add_run(self, outcome: Outcome) -> None:
        self.runs += 1
        self.duration += outcome.duration
        status = outcome.status
        if status == PASSED:
            self.passes += 1
        elif status == SKIPPED:
            self._skips += 1
        else:
            self._failures += 1
        # Keep the exit status and output of the latest failing run, else of the latest run.
        if status == FAILED or not self._failures:
            self.returncode = outcome.returncode
            self.output_tail = outcome.output_tail
            self.output_size = outcome.output_size
            self.timed_out = outcome.timed_out
            self._run_reason = outcome.reason(self.timeout)
        self.flaky = bool(self.passes and self._failures)
        self.reason = self._run_reason
        if self.flaky:
            self.reason = f"flaky: passed {self.passes} of {self.runs} runs; last failure: {self._run_reason}"
        if self._failures:
            self.status = FAILED
        elif self.passes:
            self.status = PASSED
            self.reason = ""  # a skipped run among passing ones is not the test's story
        else:
            self.status = SKIPPED

    @property
    def pass_rate(self) -> float | None:
        counted = self.passes + self._failures
        return self.passes / counted if counted else None

    def to_dict(self) -> dict:
        return {
            "name": _text(self.name),
            "path": _text(self.path),
            "variant": self.variant,
            "status": self.status,
            "returncode": self.returncode,
            "duration": round(self.duration, 6),
            "reason": self.reason,
            "output_tail": self.output_tail,
            "output_size": self.output_size,
            "runs": self.runs,
            "passes": self.passes,
            "flaky": self.flaky,
            "timed_out": self.timed_out,
        }

    def to_test_case(self) -> TestCase:
        from osci.model import TestCase, TestStatus  # only for JUnit reports: keep start-up light

        status = {PASSED: TestStatus.PASSED, SKIPPED: TestStatus.SKIPPED}.get(self.status, TestStatus.FAILED)
        directory, base = os.path.split(self.path)
        suffix = self.name[len(self.path) :]  # the variant, if any
        return TestCase(
            name=_text(base + suffix),
            status=status,
            classname=_text(directory),
            duration=self.duration,
            message=_text(self.reason),
            output=self.output_tail,
            source=_text(self.path),
        )


@dataclass
class RunSummary:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    deselected: int = 0
    flaky: int = 0
    stragglers: list[str] = field(default_factory=list)  # tests that left processes behind

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        """The last line of the output, for CI tools: `3 passed, 1 failed, 0 skipped, 2 deselected`."""
        text = f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        return text + (f", {self.deselected} deselected" if self.deselected else "")

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "deselected": self.deselected,
            "flaky": self.flaky,
        }


def summarize(results: Sequence[DropTestResult], stragglers: Sequence[str] = ()) -> RunSummary:
    summary = RunSummary(stragglers=list(stragglers))
    for result in results:
        setattr(summary, result.status, getattr(summary, result.status) + 1)
        summary.flaky += result.flaky
    return summary


class Listener:
    """What a reporter hears while tests run. Every method is optional."""

    def planned(self, results: Sequence[DropTestResult], runs: int) -> None:
        """Before anything runs: every result (not-run ones already decided) and the number of runs."""

    def not_run(self, result: DropTestResult) -> None:
        """A test decided without running it: skipped for a requirement, or a bad header."""

    def run_done(self, result: DropTestResult, outcome: Outcome, run: int) -> None:
        """One run ended (`run` counts from 1); `result` already includes it."""


def run_droptests(
    tests: Sequence[DropTest],
    options: DropTestOptions,
    listener: Listener | None = None,
    runner_factory: Callable[[int], Runner] = Runner,
) -> tuple[list[DropTestResult], RunSummary]:
    """Run `tests` as `options` say; the results come back in the tests' order."""
    listener = listener or Listener()
    results, jobs = plan(tests, options)
    listener.planned(results, len(jobs))
    for result in results:
        if result.status != DESELECTED and not result.runs and result.reason:
            listener.not_run(result)
    runner = runner_factory(options.jobs)

    def done(job: Job, outcome: Outcome) -> None:
        result, run = job.key
        result.add_run(outcome)
        listener.run_done(result, outcome, run)

    runner.run(jobs, done)
    return results, summarize(results, runner.stragglers)


def plan(tests: Sequence[DropTest], options: DropTestOptions) -> tuple[list[DropTestResult], list[Job]]:
    """One result per test and variant; the jobs to run, round by round when repeating.

    Repeats run in rounds (every test once, then every test again) so that two runs
    of one test rarely overlap under -j, and each run has different neighbours.
    """
    results: list[DropTestResult] = []
    runnable: list[tuple[DropTestResult, str, dict[str, str]]] = []
    for test in tests:
        header = test.header
        timeout = header.timeout or options.timeout
        for variant in options.variants or [None]:
            name = f"{test.name}[{variant_label(variant)}]" if variant else test.name
            result = DropTestResult(name, test.name, variant, timeout=timeout)
            results.append(result)
            if options.tags and not options.tags.intersection(header.tags):
                continue  # deselected
            if test.header_error:
                result.status, result.reason = FAILED, test.header_error
                continue
            missing = [need for need in header.requires if need not in options.provides]
            if missing:
                result.status, result.reason = SKIPPED, "missing requirement: " + ", ".join(missing)
                continue
            env = dict(variant or {})
            env["OSCI_TEST_NAME"] = name
            env["OSCI_TEST_TIMEOUT"] = _seconds(timeout)
            runnable.append((result, test.path, env))
    jobs = [
        Job(result.name, path, result.timeout, env, key=(result, run))
        for run in range(1, options.repeat + 1)
        for result, path, env in runnable
    ]
    return results, jobs


def _text(name: str) -> str:
    """A file name that is not valid UTF-8 (kept by Python as lone surrogates), made printable."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
