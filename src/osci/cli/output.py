"""Terminal output shared by the local verbs: Rich on a terminal, plain text otherwise."""

from __future__ import annotations

import sys
import threading

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from osci.model import BuildRecord, Result

RESULT_STYLES = {
    Result.SUCCESS: "bold green",
    Result.FAILURE: "bold red",
    Result.TIMED_OUT: "bold red",
    Result.MERGE_CONFLICT: "bold red",
    Result.ERROR: "bold magenta",
    Result.RETRY_LIMIT: "bold magenta",
    Result.ABORTED: "yellow",
    Result.SKIPPED: "dim",
}


class Output:
    """Thread-safe printer: several builds stream their console lines at once."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True) if self.is_tty else None
        self._lock = threading.Lock()

    def line(self, text: str, style: str | None = None) -> None:
        with self._lock:
            if self.console:
                self.console.print(escape(text), style=style)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def progress(self, total: int, what: str) -> _Progress:
        """A progress bar under the streamed lines on a terminal; nothing otherwise."""
        return _Progress(self.console, total, what)

    def job_line(self, job: str, text: str) -> None:
        if self.console:
            with self._lock:
                self.console.print(f"[cyan]{escape(job)}[/cyan] {escape(text)}")
        else:
            self.line(f"{job} {text}")

    def builds_table(self, records: list[BuildRecord], title: str = "Builds") -> None:
        if self.console:
            table = Table(title=title)
            for column in ("job", "result", "attempts", "voting", "duration", "tests", "build dir"):
                table.add_column(column)
            for record in records:
                table.add_row(
                    escape(record.job),
                    f"[{RESULT_STYLES.get(record.result, '')}]{record.result}[/]",
                    attempts_text(record),
                    "yes" if record.voting else "no",
                    f"{record.duration:.1f}s",
                    tests_text(record),
                    escape(record.build_dir or "-"),
                )
            with self._lock:
                self.console.print(table)
            return
        rows = [("JOB", "RESULT", "ATTEMPTS", "VOTING", "DURATION", "TESTS", "BUILD DIR")]
        for record in records:
            rows.append(
                (
                    record.job,
                    str(record.result),
                    attempts_text(record),
                    "yes" if record.voting else "no",
                    f"{record.duration:.1f}s",
                    tests_text(record),
                    record.build_dir or "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.line("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

    def failed_tests(self, records: list[BuildRecord], head_lines: int = 8) -> None:
        """Each failed test with the first lines of its output: one glance from the summary."""
        for record in records:
            for case in record.tests:
                if str(case.status) not in ("failed", "error"):
                    continue
                self.line(f"{record.job}: {case.status.upper()} {case.full_name}", style="bold red")
                text = case.output or case.message
                for line in text.splitlines()[:head_lines]:
                    self.line(f"    {line}")


class _Progress:
    def __init__(self, console: Console | None, total: int, what: str) -> None:
        self._bar = None
        if console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True,
            )  # fmt: skip
            self._task = self._bar.add_task(what, total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)


def attempts_text(record: BuildRecord) -> str:
    if not record.attempts:
        return "0"
    results = ", ".join(str(a.result) for a in record.attempts)
    return f"{len(record.attempts)} ({results})"


def tests_text(record: BuildRecord) -> str:
    summary = record.test_summary
    total = summary.passed + summary.failed + summary.error + summary.skipped
    if not total:
        return "-"
    parts = [f"{summary.passed} passed"]
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    if summary.error:
        parts.append(f"{summary.error} error")
    if summary.skipped:
        parts.append(f"{summary.skipped} skipped")
    return ", ".join(parts)
