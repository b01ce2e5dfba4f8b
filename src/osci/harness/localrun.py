"""Run a job graph on this machine: dependency order, independent jobs in parallel.

Used by `osci run`, `osci functional` and `osci stress`. Each build goes through
the same executor the server and the agents use.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.executor import BuildRequest, run_build
from osci.model import BuildRecord, FrozenJob, Result
from osci.scheduler.jobgraph import JobGraph

OutputSink = Callable[[str, str], None]  # (job name, console line)


@dataclass
class LocalRun:
    """What a local run needs besides the jobs."""

    project_dir: Path
    build_root: Path
    project: str = ""
    ref: str | None = None
    branch: str | None = None
    change: str | None = None
    parallel: int = 1
    var_overrides: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    on_output: OutputSink | None = None
    on_finished: Callable[[BuildRecord], None] | None = None
    keep_workspaces: bool = False


def _not_run(job: FrozenJob, result: Result, reason: str, options: LocalRun) -> BuildRecord:
    now = time.time()
    return BuildRecord(
        uuid=uuid.uuid4().hex,
        job=job.name,
        result=result,
        voting=job.voting,
        project=options.project,
        branch=options.branch,
        ref=options.ref,
        change=options.change,
        start_time=now,
        end_time=now,
        reason=reason,
    )


def run_graph(graph: JobGraph, options: LocalRun, cancel: threading.Event | None = None) -> list[BuildRecord]:
    """Run every job of `graph`; return one record per job, in the graph's order."""
    cancel = cancel or threading.Event()
    done: dict[str, Result] = {}
    records: dict[str, BuildRecord] = {}
    running: dict[Future[BuildRecord], str] = {}

    def finish(record: BuildRecord) -> None:
        done[record.job] = record.result
        records[record.job] = record
        if options.on_finished:
            options.on_finished(record)

    def start(pool: ThreadPoolExecutor, name: str) -> None:
        job = graph.jobs[name]

        def sink(line: str, job_name: str = name) -> None:
            if options.on_output:
                options.on_output(job_name, line)

        build_uuid = uuid.uuid4().hex
        request = BuildRequest(
            job=job,
            build_dir=options.build_root / name,
            source=options.project_dir,
            ref=options.ref,
            project=options.project,
            branch=options.branch,
            change=options.change,
            uuid=build_uuid,
            extra_env=dict(options.extra_env),
            var_overrides=dict(options.var_overrides),
            keep_workspace=options.keep_workspaces,
        )
        running[pool.submit(run_build, request, cancel, sink)] = name

    with ThreadPoolExecutor(max_workers=max(1, options.parallel), thread_name_prefix="osci-build") as pool:
        while len(done) < len(graph.jobs):
            for name, why in graph.to_skip(done).items():
                finish(_not_run(graph.jobs[name], Result.SKIPPED, why, options))
            if cancel.is_set():
                for name in graph.jobs:
                    if name not in done and name not in running.values():
                        finish(_not_run(graph.jobs[name], Result.ABORTED, "run cancelled", options))
            else:
                free = max(1, options.parallel) - len(running)
                for name in graph.runnable(done, running.values())[: max(0, free)]:
                    start(pool, name)
            if not running:
                if len(done) < len(graph.jobs) and not graph.runnable(done, ()) and not graph.to_skip(done):
                    raise RuntimeError("job graph stalled")  # unreachable for an acyclic graph
                continue
            finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                finish(future.result())
    return [records[name] for name in graph.jobs]
