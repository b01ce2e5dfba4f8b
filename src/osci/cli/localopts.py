"""Options and plumbing shared by the local verbs that run jobs (run, functional, stress)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from osci.cli.output import RESULT_STYLES, Output
from osci.harness.localrun import LocalRun, run_graph
from osci.harness.selection import Selection
from osci.model import BuildRecord
from osci.scheduler.jobgraph import JobGraph, JobGraphError


def parse_vars(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--var K=V` pairs; V is read as YAML so numbers and booleans keep their type."""
    import yaml

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--var")
        try:
            result[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            result[key] = value
    return result


def common_options(func: Callable) -> Callable:
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Config file or folder (default: found in --project-dir).",
        ),
        click.option(
            "--project-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=Path("."),
            show_default=True,
            help="The project to test.",
        ),
        click.option(
            "--project", "project_name", help="Project name (default: from the config, or the folder's name)."
        ),
        click.option(
            "--ref", help="Test this git ref (a clean clone); default: a copy of the working tree as it is."
        ),
        click.option(
            "--branch", help="Branch for matchers and OSCI_BRANCH (default: the checked-out branch)."
        ),
        click.option(
            "--var", "var_pairs", multiple=True, metavar="K=V", help="Override a job variable (repeatable)."
        ),
        click.option(
            "-j",
            "--jobs",
            "parallel",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="Builds run at once.",
        ),
        click.option(
            "--json",
            "json_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Write the results as JSON.",
        ),
        click.option(
            "--build-root",
            type=click.Path(path_type=Path, file_okay=False),
            help="Where build directories go (default: ./.osci-builds/<run>).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="Do not stream console logs."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def default_build_root(given: Path | None) -> Path:
    if given is not None:
        return given
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = Path(".osci-builds") / stamp
    suffix = 1
    while root.exists():
        suffix += 1
        root = Path(".osci-builds") / f"{stamp}-{suffix}"
    return root.resolve()


def build_json(record: BuildRecord) -> dict[str, Any]:
    return {
        "job": record.job,
        "uuid": record.uuid,
        "result": str(record.result),
        "attempts": len(record.attempts),
        "voting": record.voting,
        "duration": round(record.duration, 3),
        "tests": record.test_summary.to_dict(),
        "metrics": {m.name: {"value": m.value, "unit": m.unit} for m in record.metrics},
        "reason": record.reason,
        "build_dir": record.build_dir,
    }


def write_json(path: Path, records: list[BuildRecord], extra: dict[str, Any] | None = None) -> None:
    data: dict[str, Any] = {"builds": [build_json(r) for r in records]}
    if extra:
        data.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def execute(
    selection: Selection, run: LocalRun, out: Output, resolve: Callable | None, quiet: bool
) -> list[BuildRecord]:
    """Run the selected jobs as a graph; Ctrl-C aborts the builds (their post-run still runs)."""
    try:
        graph = JobGraph.build(selection.jobs, resolve)
    except JobGraphError as exc:
        raise click.ClickException(str(exc)) from None
    out.line(f"osci: running {len(graph.jobs)} job(s) ({selection.how}) in {run.build_root}")
    for name, reasons in selection.not_run:
        out.line(f"osci: not running {name}: {'; '.join(reasons)}", style="dim")
    if not quiet:
        run.on_output = out.job_line
    progress = out.progress(len(graph.jobs), "builds")

    def finished(record: BuildRecord) -> None:
        style = RESULT_STYLES.get(record.result)
        out.line(
            f"osci: {record.job} finished: {record.result}"
            + (f" ({record.reason})" if record.reason else ""),
            style=style,
        )
        progress.advance()

    run.on_finished = finished
    cancel = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        out.line("osci: interrupted: aborting builds (post-run still runs; Ctrl-C again to quit now)")
        cancel.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, interrupt)
    try:
        with progress:
            return run_graph(graph, run, cancel)
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)


def exit_code(records: list[BuildRecord]) -> int:
    """0 if and only if every voting build succeeded."""
    return 0 if all(r.result.succeeded for r in records if r.voting) else 1
