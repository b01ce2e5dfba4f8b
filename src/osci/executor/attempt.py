"""One attempt of a build: workspace, pre-run, run, post-run, then nothing left running.

Classification (DESIGN.md): a failing pre-run step or workspace is ERROR (retried by
the caller), a failing run step is FAILURE, the job timeout is TIMED_OUT, a cancel is
ABORTED. Post-run always runs; its failures are recorded but change no result.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.executor import proctree, workspace
from osci.executor.console import Console
from osci.executor.env import StepContext, step_env
from osci.executor.request import BuildRequest
from osci.executor.step import Leftovers, run_step
from osci.model import Attempt, Result, Step
from osci.model.build import PhaseRun

DEFAULT_POST_TIMEOUT = 600.0
CANCEL_POST_TIMEOUT = 30.0  # post-run after a cancel gets at most this long


@dataclass
class AttemptSetup:
    request: BuildRequest
    number: int
    workspace: Path
    variables: dict[str, Any]
    vars_file: Path
    console: Console
    cancel: threading.Event | None = None
    marker: str = field(default_factory=proctree.new_marker)
    # the argv each step runs under, set by the provider (the local provider's bubblewrap sandbox)
    wrap: Callable[[list[str]], list[str]] | None = None


def _argv(step: Step, ws: Path) -> list[str] | None:
    """The command of a step, or None when its file is missing."""
    if step.script is not None:
        return ["bash", "-e", "-o", "pipefail", "-c", step.script]
    path = ws / (step.path or "")
    if not path.is_file():
        return None
    if os.access(path, os.X_OK):
        return [str(path)]
    return ["bash", str(path)]


def _fmt(seconds: float) -> str:
    return f"{seconds:.1f} s"


class AttemptRunner:
    def __init__(self, setup: AttemptSetup) -> None:
        self.s = setup
        self.phases: list[PhaseRun] = []
        self.leftovers = Leftovers(setup.console)
        req = setup.request
        ctx = StepContext(
            job=req.job.name,
            build=req.uuid,
            attempt=setup.number,
            workspace=setup.workspace,
            log_dir=req.build_dir / "logs",
            artifacts=req.build_dir / "artifacts",
            vars_file=setup.vars_file,
            marker=setup.marker,
            project=req.project,
            branch=req.branch,
            ref=req.ref,
            change=req.change,
        )
        self.env = step_env(ctx, setup.variables, req.extra_env)

    def cancelled(self) -> bool:
        return self.s.cancel is not None and self.s.cancel.is_set()

    def run(self) -> Attempt:
        start = time.time()
        try:
            result, reason = self._main()
            post_failures = self._post_run(aborted=result is Result.ABORTED)
        finally:
            self._cleanup()  # even after an internal error: nothing survives the attempt
        if post_failures:
            reason = "; ".join([r for r in (reason, *post_failures) if r])
        self.s.console.note(f"osci: attempt {self.s.number}: {result}" + (f" ({reason})" if reason else ""))
        return Attempt(self.s.number, result, start, time.time(), reason=reason, phases=self.phases)

    def _main(self) -> tuple[Result, str]:
        """Workspace, pre-run and run: the result of the attempt and why."""
        req = self.s.request
        console = self.s.console
        if self.cancelled():
            return Result.ABORTED, "cancelled before the attempt started"
        try:
            self.s.workspace.mkdir(parents=True, exist_ok=True)
            if req.prepared:
                pass
            elif req.ref is not None:
                workspace.clone_all(req, self.s.workspace, console)
            else:
                skip = [req.build_dir] + ([req.workspace_root] if req.workspace_root else [])
                workspace.copy(req.source, self.s.workspace, skip, console)
        except (workspace.WorkspaceError, OSError) as exc:
            console.note(f"osci: workspace: {exc}")
            return Result.ERROR, f"workspace: {exc}"
        timeout = req.job.timeout
        deadline = time.monotonic() + timeout if timeout else None
        for phase, steps in (("pre-run", req.job.pre_run), ("run", req.job.run)):
            for step in steps:
                failed = Result.ERROR if phase == "pre-run" else Result.FAILURE
                outcome = self._step(phase, step, deadline, self.s.cancel)
                if outcome is None:
                    return failed, f"{phase} step {step.label} not found in the workspace"
                run, error = outcome
                if run.aborted:
                    return Result.ABORTED, f"cancelled during {phase} step {step.label}"
                if run.timed_out:
                    return (
                        Result.TIMED_OUT,
                        f"{phase} step {step.label} hit the job timeout ({_fmt(timeout or 0)})",
                    )
                if error:
                    return failed, f"{phase} step {step.label} {error}"
                if run.returncode != 0:
                    return failed, f"{phase} step {step.label} {_exit_text(run.returncode)}"
        return Result.SUCCESS, ""

    def _post_run(self, aborted: bool) -> list[str]:
        job = self.s.request.job
        limit = job.post_timeout if job.post_timeout is not None else DEFAULT_POST_TIMEOUT
        if aborted or self.cancelled():
            limit = min(limit, CANCEL_POST_TIMEOUT)
        deadline = time.monotonic() + limit
        failures: list[str] = []
        for step in job.post_run:
            outcome = self._step("post-run", step, deadline, None)
            if outcome is None:
                failures.append(f"post-run step {step.label} not found in the workspace")
                continue
            run, error = outcome
            if run.timed_out:
                failures.append(f"post-run step {step.label} hit the post-run timeout ({_fmt(limit)})")
                break
            if error:
                failures.append(f"post-run step {step.label} {error}")
            elif run.returncode != 0:
                failures.append(f"post-run step {step.label} {_exit_text(run.returncode)}")
        for failure in failures:
            self.s.console.note(f"osci: {failure} (the result is not changed)")
        return failures

    def _step(
        self, phase: str, step: Step, deadline: float | None, cancel: threading.Event | None
    ) -> tuple[PhaseRun, str] | None:
        console = self.s.console
        console.note(f"osci: ===== {phase}: {step.label} =====")
        argv = _argv(step, self.s.workspace)
        if argv is None:
            console.note(f"osci: {phase} step {step.label}: file not found in the workspace")
            self.phases.append(PhaseRun(phase, step.label, None, 0.0))
            return None
        if self.s.wrap is not None:
            argv = self.s.wrap(argv)
        outcome = run_step(
            argv, self.s.workspace, self.env, console, self.leftovers, self.s.marker, deadline, cancel
        )
        run = PhaseRun(
            phase, step.label, outcome.returncode, outcome.duration, outcome.timed_out, outcome.aborted
        )
        self.phases.append(run)
        if outcome.error:
            console.note(f"osci: {phase} step {step.label} {outcome.error}")
        elif outcome.timed_out:
            console.note(f"osci: {phase} step {step.label} timed out after {_fmt(outcome.duration)}: killed")
        elif outcome.aborted:
            console.note(f"osci: {phase} step {step.label} cancelled after {_fmt(outcome.duration)}: killed")
        else:
            console.note(
                f"osci: {phase} step {step.label} {_exit_text(outcome.returncode)} after {_fmt(outcome.duration)}"
            )
        return run, outcome.error

    def _cleanup(self) -> None:
        """Kill everything still carrying the attempt's marker (daemons included), stop reading pipes."""
        left = proctree.survivors(self.s.marker)
        if left:
            self.s.console.note(f"osci: killing {len(left)} process(es) left behind by the steps: {left}")
            proctree.kill_tree(None, self.s.marker, grace=1.0)
        self.leftovers.close()


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        return f"was killed by signal {-returncode}"
    return f"exited with {returncode}"


def run_attempt(setup: AttemptSetup) -> Attempt:
    return AttemptRunner(setup).run()
