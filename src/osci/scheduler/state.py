"""The scheduler's in-memory view of its queues, mirrored from (and rebuilt out of) the store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from osci.model import FrozenJob, Result
from osci.scheduler.jobgraph import JobGraph

# Item states
PREPARING = "waiting"  # recorded, job graph not frozen yet
ACTIVE = "active"
COMPLETED = "completed"
DEQUEUED = "dequeued"
SUPERSEDED = "superseded"
LIVE_STATES = (PREPARING, ACTIVE)

# Build states
WAITING = "waiting"
RUNNING = "running"
DONE = "completed"


@dataclass
class BuildState:
    uuid: str
    job: FrozenJob
    state: str = WAITING
    result: Result | None = None
    node: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    estimated: float | None = None
    log_url: str = ""
    attempts: int = 0
    reason: str = ""
    failed_tests: list[dict[str, str]] = field(default_factory=list)

    @property
    def elapsed(self) -> float | None:
        if self.start_time is None:
            return None
        return (self.end_time or time.time()) - self.start_time


@dataclass
class ItemState:
    uuid: str
    pipeline: str
    project: str
    branch: str | None
    ref: str | None
    newrev: str | None
    oldrev: str | None = None
    change: str | None = None
    patchset: str | None = None
    author: str | None = None
    files: list[str] | None = None
    event_uuid: str | None = None
    connection: str | None = None
    enqueue_time: float = field(default_factory=time.time)
    state: str = PREPARING
    result: str | None = None
    message: str = ""
    buildset_uuid: str | None = None
    graph: JobGraph | None = None
    builds: dict[str, BuildState] = field(default_factory=dict)
    not_run: list[tuple[str, list[str]]] = field(default_factory=list)
    planning: bool = False  # a plan request is in flight
    source: str | None = None  # the repository the executor clones (from the plan)
    checkout: str | None = None  # the exact commit it checks out
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)  # required: name -> (repo, commit)
    # -- gating (dependent and serial pipelines, see scheduler/gate.py) --
    queue: str | None = None  # the shared change queue it is in
    ahead: list[str] = field(default_factory=list)  # the items under its tested state, head first
    ahead_sig: tuple[tuple[str, int], ...] | None = None  # (item, generation) of `ahead` when planned
    generation: int = 0  # bumped each time its speculative state is thrown away
    onto: dict[str, str] = field(default_factory=dict)  # project -> commit its state is built on
    bases: dict[str, str] = field(default_factory=dict)  # project -> branch tip under its state
    commits: dict[str, str] = field(default_factory=dict)  # project -> the commit its jobs test
    change_id: str | None = None  # a review system's other name for the change (Gerrit Change-Id)
    needs: list[str] = field(default_factory=list)  # items it depends on (Depends-On)
    gate: str = ""  # "", failing, suspect, passed, merging
    retried: bool = False
    place: int | None = None  # 1-based place in its queue
    under: list[str] = field(default_factory=list)  # the changes under its tested state, for status
    only_jobs: list[str] | None = None  # run only these jobs (a culprit search's builds)
    # -- screening (the gate's `screen` failure policy) --
    screen: str = ""  # "": not screened yet; "screening": in a probe; "good": passed one
    screen_failures: int = 0  # probes of it alone that failed
    probe_of: list[str] | None = None  # on a probe: the items whose changes it tests together
    record_as: str | None = None  # on a probe: the item its buildsets are stored under

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def done_results(self) -> dict[str, Result]:
        return {name: b.result for name, b in self.builds.items() if b.state == DONE and b.result is not None}

    def key(self) -> tuple[str, str | None]:
        """What a supercedent pipeline supersedes on: the same project and branch (or ref).
        A culprit search's item (only_jobs) is its own: it neither supersedes nor is superseded."""
        if self.only_jobs is not None:
            return (self.project, f"{self.branch or self.ref}#{self.event_uuid or self.uuid}")
        return (self.project, self.branch or self.ref)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.uuid,
            "pipeline": self.pipeline,
            "project": self.project,
            "branch": self.branch,
            "ref": self.ref,
            "newrev": self.newrev,
            "change": self.change,
            "patchset": self.patchset,
            "author": self.author,
            "state": self.state,
            "ahead": self.ahead[-1] if self.ahead else None,  # the item it is tested on top of
            "ahead_changes": list(self.under),  # every change under its tested state, head first
            "place": self.place,
            "queue": self.queue,
            "gate": self.gate or None,
            "screen": self.screen or None,
            "commits": dict(self.commits),
            "enqueue_time": self.enqueue_time,
            "buildset": self.buildset_uuid,
            "jobs": [
                {
                    "name": name,
                    "build": b.uuid,
                    "state": b.state,
                    "result": str(b.result) if b.result else None,
                    "voting": b.job.voting,
                    "dependencies": list(b.job.dependencies),
                    "start_time": b.start_time,
                    "elapsed": b.elapsed,
                    "estimated": b.estimated,
                    "log_url": b.log_url,
                }
                for name, b in self.builds.items()
            ],
        }


def buildset_result(item: ItemState) -> Result:
    """The item's verdict from its voting builds.

    A test failure counts against the change; an infrastructure problem (ERROR,
    RETRY_LIMIT) is reported as such, never as a failure of the change.
    """
    voting = [b.result for b in item.builds.values() if b.job.voting and b.result is not None]
    if any(r.counts_against_change for r in voting):
        return Result.FAILURE
    if any(r.is_infrastructure for r in voting):
        return Result.ERROR
    if any(r is Result.ABORTED for r in voting):
        return Result.ABORTED
    if any(r is Result.SKIPPED for r in voting):
        # a voting job skipped because a non-voting dependency failed
        return Result.FAILURE
    return Result.SUCCESS
