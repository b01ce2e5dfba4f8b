"""One build of one job: attempts, then results, metrics, artifacts and the build directory."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from osci.executor import workspace as workspaces
from osci.executor.attempt import AttemptSetup, run_attempt
from osci.executor.collect import collect_metrics, collect_tests, list_files
from osci.executor.console import Console
from osci.executor.env import vars_env, write_vars_file
from osci.executor.junit_writer import write_junit
from osci.executor.report_html import write_index
from osci.executor.request import BuildRequest
from osci.model import Attempt, BuildRecord, Result


def _archive_attempt(build_dir: Path, number: int) -> None:
    """Move a retried attempt's logs and artifacts aside, so the next attempt starts clean."""
    for name in ("logs", "artifacts"):
        folder = build_dir / name
        if folder.is_dir() and any(folder.iterdir()):
            target = build_dir / f"attempt-{number}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(target))
        folder.mkdir(exist_ok=True)


def _final_result(attempts: list[Attempt], cancel: threading.Event | None) -> Result:
    if not attempts:
        return Result.ABORTED
    last = attempts[-1].result
    if last is Result.ERROR:
        return Result.ABORTED if cancel is not None and cancel.is_set() else Result.RETRY_LIMIT
    return last


def run_build(
    request: BuildRequest,
    cancel: threading.Event | None = None,
    on_output: Callable[[str], None] | None = None,
    attempt_runner: Callable[[AttemptSetup], Attempt] | None = None,
) -> BuildRecord:
    """Run the job to its result; always writes the build directory and returns the record.

    `attempt_runner` runs one attempt (default: here, with `run_attempt`); the node pool passes
    one that runs it on the build's leased node(s) and moves to another node after a node failure.

    `on_output` is called with each timestamped console line (no newline) from the
    thread that reads the step, so it should be quick (e.g. put the line on a queue).
    """
    job = request.job
    build_dir = request.build_dir
    for sub in ("logs", "artifacts"):
        (build_dir / sub).mkdir(parents=True, exist_ok=True)
    console = Console(build_dir / "job-output.txt", on_output)
    record = BuildRecord(
        uuid=request.uuid,
        job=job.name,
        result=Result.ERROR,
        voting=job.voting,
        project=request.project,
        branch=request.branch,
        ref=request.ref,
        change=request.change,
        start_time=time.time(),
        build_dir=str(build_dir),
    )
    variables = request.variables()
    vars_file = build_dir / "vars.json"
    write_vars_file(vars_file, variables)
    skipped = vars_env(variables)[1]
    if skipped:
        console.note(f"osci: vars not exported as environment variables: {', '.join(skipped)}")
    root = request.workspace_root
    temp_root = None
    if root is None:
        temp_root = Path(tempfile.mkdtemp(prefix="osci-ws-"))
        root = temp_root
    root.mkdir(parents=True, exist_ok=True)
    console.note(f"osci: build {request.uuid} of job {job.name}")
    ws: Path | None = None
    try:
        total = max(1, job.attempts)
        for number in range(1, total + 1):
            if cancel is not None and cancel.is_set():
                break
            if number > 1:
                _archive_attempt(build_dir, number - 1)
                if ws is not None and not request.keep_workspace:
                    workspaces.remove(ws)
            ws = root / f"{request.uuid}-{number}"
            console.note(f"osci: ===== attempt {number} of {total} =====")
            setup = AttemptSetup(request, number, ws, variables, vars_file, console, cancel)
            record.attempts.append(_safe_attempt(setup, attempt_runner or run_attempt))
            if record.attempts[-1].result is not Result.ERROR:
                break
        record.result = _final_result(record.attempts, cancel)
        record.reason = record.attempts[-1].reason if record.attempts else "cancelled before it started"
        roots = [(build_dir / "logs", "logs/")]
        if ws is not None:
            roots.insert(0, (ws, ""))
        record.tests = collect_tests(job.test_results, roots, console)
        record.metrics = collect_metrics(job.metrics, roots, console)
        record.artifacts = list_files(build_dir / "artifacts")
    finally:
        if ws is not None and not request.keep_workspace:
            workspaces.remove(ws)
        if temp_root is not None and not request.keep_workspace:
            workspaces.remove(temp_root)
        record.end_time = time.time()
        if ws is not None and request.keep_workspace:
            record.extra["workspace"] = str(ws)
        console.note(
            f"osci: build result: {record.result}" + (f" ({record.reason})" if record.reason else "")
        )
        console.close()
        _write_outputs(record, request)
    return record


def _safe_attempt(setup: AttemptSetup, runner: Callable[[AttemptSetup], Attempt] = run_attempt) -> Attempt:
    """Run an attempt; an unexpected exception becomes an ERROR attempt, not a dead build thread."""
    start = time.time()
    try:
        return runner(setup)
    except Exception as exc:
        setup.console.note("osci: internal error in the executor:\n" + traceback.format_exc())
        return Attempt(setup.number, Result.ERROR, start, time.time(), reason=f"internal error: {exc!r}")


def _write_outputs(record: BuildRecord, request: BuildRequest) -> None:
    build_dir = request.build_dir
    write_junit(record.tests, build_dir / "junit.xml", suite_name=record.job)
    data = record.to_dict()
    data["frozen_job"] = asdict(request.job)
    data["source"] = str(request.source)
    # no indent: json's C encoder only serves unindented output (a grid writes dozens a second)
    (build_dir / "build.json").write_text(json.dumps(data, default=str) + "\n", encoding="utf-8")
    write_index(record, build_dir)
