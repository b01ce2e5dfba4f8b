"""Show drop-in test results: plain lines for logs, a Rich progress bar on a terminal,
and JSON / JUnit files for tools. The last line printed is always the summary line
(`N passed, N failed, N skipped[, N deselected]`), which CI tools can match.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import IO, Any

from osci.executor.droptest_runner import TAIL_BYTES, Outcome
from osci.executor.droptests import DESELECTED, FAILED, PASSED, DropTestResult, Listener, RunSummary

WORDS = {PASSED: "PASS", FAILED: "FAIL", "skipped": "SKIP"}


def run_line(result: DropTestResult, outcome: Outcome | None, run: int, repeat: int) -> tuple[str, str]:
    """(word, text) for one run, or for a test decided without running (`outcome` None)."""
    if outcome is None:
        return WORDS[result.status], f"{WORDS[result.status]}  {result.name}  ({result.reason})"
    status = outcome.status
    text = f"{WORDS[status]}  {result.name}  {outcome.duration:.3f}s"
    reason = outcome.reason(result.timeout)
    if reason and status != PASSED:
        text += f"  ({reason})"
    if repeat > 1:
        text += f"  [run {run}/{repeat}]"
    return WORDS[status], text


def detail_sections(results: Sequence[DropTestResult], summary: RunSummary) -> list[tuple[str, str]]:
    """(kind, text) blocks shown after the runs: failed tests' output, flaky tests, stragglers."""
    blocks: list[tuple[str, str]] = []
    for result in results:
        if result.status != FAILED or not result.runs:
            continue
        heading = f"---- FAIL {result.name} ({result.reason})"
        if result.output_size > TAIL_BYTES:
            heading += f" -- last {_size(TAIL_BYTES)} of {_size(result.output_size)}"
        elif not result.output_size:
            heading += " -- no output"
        blocks.append(("heading", heading + " ----"))
        if result.output_tail:
            blocks.append(("output", result.output_tail.rstrip("\n")))
    repeated = [result for result in results if result.runs > 1]
    for result in repeated:
        rate = f"passed {result.passes} of {result.runs} runs"
        if result.flaky:
            blocks.append(("flaky", f"FLAKY  {result.name}  {rate} (counted as failed)"))
        elif result.status == FAILED:
            blocks.append(("heading", f"FAILED  {result.name}  {rate}"))
    if repeated:
        runs = sum(result.runs for result in repeated)
        passes = sum(result.passes for result in repeated)
        blocks.append(("rate", f"pass rate: {passes} of {runs} runs ({100 * passes / runs:.1f}%)"))
    for name in summary.stragglers:
        blocks.append(("warning", f"WARNING  {name} left processes running after it ended; osci killed them"))
    if summary.flaky:
        blocks.append(("flaky", f"{summary.flaky} flaky (counted as failed: a flaky test is a bug)"))
    return blocks


class PlainReporter(Listener):
    """One line per run, written and flushed as it ends; no colour, no terminal tricks."""

    def __init__(self, stream: IO[str], repeat: int = 1) -> None:
        self.stream = stream
        self.repeat = repeat
        self.closed = False  # the reader went away (`osci test | head`): keep testing, stop writing

    def not_run(self, result: DropTestResult) -> None:
        self._write(run_line(result, None, 0, self.repeat)[1])

    def run_done(self, result: DropTestResult, outcome: Outcome, run: int) -> None:
        self._write(run_line(result, outcome, run, self.repeat)[1])

    def finish(self, results: Sequence[DropTestResult], summary: RunSummary) -> None:
        lines = [text for _, text in detail_sections(results, summary)]
        self._write("\n".join([*lines, summary.line()]))

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            with contextlib.suppress(OSError, ValueError):
                # Python flushes stdout again at exit: point it somewhere that accepts it.
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())


class RichReporter(Listener):
    """A progress bar; failed and skipped runs are printed above it, in colour, as they end."""

    STYLES = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow"}
    BLOCK_STYLES = {
        "heading": "bold red",
        "output": "",
        "flaky": "bold magenta",
        "warning": "yellow",
        "rate": "bold",
    }

    def __init__(self, repeat: int = 1, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.repeat = repeat
        self.console = console or Console(highlight=False)
        self.progress = Progress(
            TextColumn("[bold]osci test"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[passed]} passed [red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task = None
        self.passed = self.failed = 0

    def planned(self, results: Sequence[DropTestResult], runs: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("tests", total=runs, passed=0, failed=0)

    def not_run(self, result: DropTestResult) -> None:
        self._print(*run_line(result, None, 0, self.repeat))

    def run_done(self, result: DropTestResult, outcome: Outcome, run: int) -> None:
        status = outcome.status
        if status == PASSED:
            self.passed += 1
        elif status == FAILED:
            self.failed += 1
        if status != PASSED:
            self._print(*run_line(result, outcome, run, self.repeat))
        self.progress.update(self.task, advance=1, passed=self.passed, failed=self.failed)

    def finish(self, results: Sequence[DropTestResult], summary: RunSummary) -> None:
        self.progress.stop()
        for kind, text in detail_sections(results, summary):
            self.console.print(text, style=self.BLOCK_STYLES[kind], markup=False, soft_wrap=True)
        style = "bold red" if summary.failed else "bold green"
        self.console.print(summary.line(), style=style, markup=False)

    def close(self) -> None:
        self.progress.stop()

    def _print(self, word: str, text: str) -> None:
        self.progress.console.print(text, style=self.STYLES[word], markup=False, soft_wrap=True)


def write_json(path: str, results: Sequence[DropTestResult], summary: RunSummary) -> None:
    import json

    data = {"tests": [result.to_dict() for result in results], "summary": summary.to_dict()}
    _parent(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, path)


def write_junit_report(
    path: str, results: Sequence[DropTestResult], summary: RunSummary | None = None
) -> None:
    from pathlib import Path

    from osci.executor.junit_writer import write_junit

    cases = [result.to_test_case() for result in results if result.status != DESELECTED]
    write_junit(cases, Path(path), suite_name="osci test")


def _parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"
