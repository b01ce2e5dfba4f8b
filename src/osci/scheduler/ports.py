"""What the scheduler needs from the rest of the server, as protocols.

The scheduler decides; these do the slow work (SQL, git, processes, sending)
outside its loop and hand back results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from osci.connections.base import ChangeToMerge, DependencyRef
from osci.model import BuildRecord, Event, FrozenJob, Report
from osci.scheduler.state import BuildState, ItemState


@dataclass
class Plan:
    """An item's frozen job list, or why it has none."""

    jobs: list[FrozenJob] = field(default_factory=list)
    not_run: list[tuple[str, list[str]]] = field(default_factory=list)
    error: str | None = None  # e.g. the in-repo configuration does not load
    result: str | None = None  # with `error`: the item's result (MERGE_CONFLICT); FAILURE if unset
    source: Path | None = None  # the repository the executor clones
    ref: str | None = None  # the exact commit it checks out
    files: list[str] | None = None  # the changed files, when the item came without them
    # gating: project -> the commit tested (the item's own project and every project under it),
    # and project -> the branch tip those commits were built on
    commits: dict[str, str] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)
    # the jobs' required projects: name -> (repository, commit) the executor clones beside
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class BuildOrder:
    """Everything the dispatcher needs to run one build."""

    item: ItemState
    build: BuildState
    source: Path | None
    ref: str | None
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)  # required projects
    cancel: threading.Event = field(default_factory=threading.Event)
    on_output: Callable[[str], None] | None = None


# (reporter connection, slot, report, the pipeline's options for that reporter)
QueuedReport = tuple[str, str, Report, dict[str, Any]]


class Records(Protocol):
    """The scheduler's transitions, each written in one transaction before it is acted on."""

    async def record_event(self, event: Event) -> bool: ...  # False: a duplicate, ignore it
    async def unprocessed_events(self) -> list[Event]: ...
    async def event_handled(self, event: Event, items: list[ItemState], outcome: str) -> None: ...
    async def item_planned(self, item: ItemState, reports: list[QueuedReport]) -> None: ...
    async def builds_started(self, started: list[tuple[ItemState, BuildState]]) -> None: ...
    async def build_done(
        self,
        item: ItemState,
        build: BuildState | None,
        record: BuildRecord | None,
        skipped: list[BuildState],
        closing: bool,
        reports: list[QueuedReport],
    ) -> None: ...
    async def item_closed(
        self, item: ItemState, aborted: list[BuildState], reports: list[QueuedReport]
    ) -> None: ...
    async def live_items(self) -> list[ItemState]: ...  # for recovery after a restart
    async def estimated_durations(self, project: str, jobs: list[str]) -> dict[str, float | None]: ...


class Gatekeeper(Protocol):
    """What a gate needs from the connections: merging, and reading `Depends-On:` footers."""

    async def merge(self, item: ItemState, change: ChangeToMerge) -> str | None: ...  # raises MergeFailed
    async def depends_on(self, item: ItemState) -> list[DependencyRef]: ...
    async def is_merged(self, dependency: DependencyRef) -> bool: ...


class Planner(Protocol):
    async def plan(self, item: ItemState) -> Plan: ...


class Dispatcher(Protocol):
    def free_slots(self) -> int: ...
    async def run(self, order: BuildOrder) -> BuildRecord: ...
