"""The scheduler's `Records` port over the SQL store: its in-memory states in, rows out."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from osci.model import Event, Result
from osci.model.job import job_from_dict, job_to_dict
from osci.scheduler import state as st
from osci.scheduler.jobgraph import JobGraph
from osci.scheduler.ports import QueuedReport
from osci.scheduler.state import BuildState, ItemState
from osci.server.groupcommit import GroupCommit
from osci.store.scheduling import BuildDone, Closing
from osci.store.scheduling import QueuedReport as StoredReport
from osci.store.types import clean_text

Db = Callable[..., Awaitable[Any]]
DEDUPLICATED_TYPES = ("ref-updated", "tag-created")


def _dt(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def event_uuid(event: Event) -> str:
    """Ref events get a uuid derived from what they say, so a connection that emits the same
    push twice (after a crash, say) records it once."""
    if event.type in DEDUPLICATED_TYPES and event.newrev:
        key = f"{event.connection}\0{event.project}\0{event.ref}\0{event.oldrev}\0{event.newrev}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]
    return event.uuid


class StoreRecords:
    def __init__(self, store: Any, db: Db, on_report: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.db = db
        self.on_report = on_report
        self._done: GroupCommit[BuildDone] = GroupCommit(db, store.builds_done)  # builds finishing together

    # -- events --

    async def record_event(self, event: Event) -> bool:
        event.uuid = event_uuid(event)
        fields = {
            "uuid": event.uuid,
            "connection": event.connection,
            "type": event.type,
            "project": event.project,
            "branch": event.branch,
            "ref": event.ref,
            "oldrev": event.oldrev,
            "newrev": event.newrev,
            "change": event.change,
            "patchset": event.patchset,
            "author": event.author,
            "files": event.files,
            "payload": {"event": event.to_dict()},
            "received_at": _dt(event.received_at) or datetime.now(UTC),
        }
        return await self.db(self.store.record_event_once, fields)

    async def unprocessed_events(self) -> list[Event]:
        rows = await self.db(self.store.unprocessed_events)
        events = []
        for row in rows:
            data = (row.payload or {}).get("event")
            if data:
                event = Event.from_dict(data)
                event.uuid = row.uuid
            else:
                event = Event(
                    connection=row.connection, type=row.type, project=row.project or "", uuid=row.uuid
                )
            events.append(event)
        return events

    async def event_handled(self, event: Event, items: list[ItemState], outcome: str) -> None:
        rows = [
            {
                "uuid": item.uuid,
                "pipeline": item.pipeline,
                "project": item.project,
                "branch": item.branch,
                "ref": item.ref,
                "oldrev": item.oldrev,
                "newrev": item.newrev,
                "change": item.change,
                "patchset": item.patchset,
                "author": item.author,
                "state": "waiting",
                "enqueue_time": _dt(item.enqueue_time),
            }
            for item in items
        ]
        await self.db(self.store.event_handled, event.uuid, outcome, rows)

    # -- items and builds --

    @staticmethod
    def _stored_reports(reports: list[QueuedReport]) -> list[StoredReport]:
        stored = []
        for reporter, slot, report, options in reports:
            payload = report.to_dict()
            payload["_options"] = options
            stored.append(StoredReport(reporter, slot, payload))
        return stored

    def _reported(self, reports: list[QueuedReport]) -> None:
        if reports and self.on_report:
            self.on_report()

    async def item_planned(self, item: ItemState, reports: list[QueuedReport]) -> None:
        assert item.graph is not None
        graph = {
            "jobs": [job_to_dict(job) for job in item.graph.jobs.values()],
            "dependencies": {name: list(job.dependencies) for name, job in item.graph.jobs.items()},
            "source": item.source,
            "checkout": item.checkout,
            "projects": {name: list(where) for name, where in item.projects.items()},
            "not_run": [[name, reasons] for name, reasons in item.not_run],
            "files": item.files,
        }
        builds = [
            {
                "uuid": b.uuid,
                "job": name,
                "voting": b.job.voting,
                "estimated_duration": b.estimated,
                "log_url": b.log_url,
            }
            for name, b in item.builds.items()
        ]
        if item.probe_of is not None and len(item.probe_of) > 1:
            for build in builds:  # a gate's probe of several changes: no one author to credit or blame
                build["author"] = None
        await self.db(
            self.store.item_planned,
            item.record_as or item.uuid,
            item.buildset_uuid,
            graph,
            builds,
            self._stored_reports(reports),
        )
        self._reported(reports)

    async def builds_started(self, started: list[tuple[ItemState, BuildState]]) -> None:
        rows = [(build.uuid, build.node or "local", _dt(build.start_time)) for _, build in started]
        await self.db(self.store.start_builds_at, rows)

    async def build_done(
        self,
        item: ItemState,
        build: BuildState | None,
        record: Any,
        skipped: list[BuildState],
        closing: bool,
        reports: list[QueuedReport],
    ) -> None:
        await self._done.write(
            BuildDone(
                build.uuid if build else "",
                record,
                skipped=[(b.uuid, str(b.result), b.reason) for b in skipped],
                closing=self._closing(item) if closing else None,
                reports=self._stored_reports(reports),
            )
        )
        self._reported(reports)

    @staticmethod
    def _closing(item: ItemState) -> Closing:
        return Closing(
            item_uuid=item.uuid,
            state=item.state,
            result=item.result or "",
            message=clean_text(item.message),
            buildset_uuid=item.buildset_uuid,
        )

    async def item_closed(
        self, item: ItemState, aborted: list[BuildState], reports: list[QueuedReport]
    ) -> None:
        await self.db(
            self.store.item_closed,
            self._closing(item),
            [(b.uuid, str(b.result), b.reason) for b in aborted],
            self._stored_reports(reports),
        )
        self._reported(reports)

    async def estimated_durations(self, project: str, jobs: list[str]) -> dict[str, float | None]:
        return await self.db(self.store.estimated_durations, project, jobs)

    # -- recovery --

    async def live_items(self) -> list[ItemState]:
        items = []
        for live in await self.db(self.store.resume):
            row = live.item
            item = ItemState(
                uuid=row.uuid,
                pipeline=row.pipeline,
                project=row.project,
                branch=row.branch,
                ref=row.ref,
                newrev=row.newrev,
                oldrev=row.oldrev,
                change=row.change,
                patchset=row.patchset,
                author=row.author,
                files=live.event.files if live.event else None,
                event_uuid=live.event.uuid if live.event else None,
                only_jobs=(live.event.payload or {}).get("only_jobs") if live.event else None,
                connection=live.event.connection if live.event else None,
                enqueue_time=_epoch(row.enqueue_time) or 0.0,
                state=st.PREPARING,
            )
            if row.state == "active" and live.buildset is not None:
                graph_data = live.buildset.job_graph or {}
                jobs = [job_from_dict(j) for j in graph_data.get("jobs", [])]
                item.graph = JobGraph.build(jobs)
                item.buildset_uuid = live.buildset.uuid
                item.source = graph_data.get("source")
                item.checkout = graph_data.get("checkout")
                item.projects = {n: (w[0], w[1]) for n, w in (graph_data.get("projects") or {}).items()}
                item.not_run = [(n, r) for n, r in graph_data.get("not_run", [])]
                by_job = {b.job: b for b in live.builds}
                for job in jobs:
                    stored = by_job.get(job.name)
                    if stored is None:
                        continue
                    item.builds[job.name] = BuildState(
                        uuid=stored.uuid,
                        job=job,
                        state=stored.state,
                        result=Result(stored.result) if stored.result else None,
                        node=stored.node,
                        start_time=_epoch(stored.start_time),
                        end_time=_epoch(stored.end_time),
                        estimated=stored.estimated_duration,
                        log_url=stored.log_url or "",
                        attempts=stored.attempts_count or 0,
                        reason=stored.reason or "",
                    )
                item.state = st.ACTIVE
            items.append(item)
        return items


__all__ = ["Path", "StoreRecords", "event_uuid"]
