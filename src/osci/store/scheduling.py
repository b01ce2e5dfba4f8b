"""The scheduler's transitions, each one transaction, so a crash at any moment leaves the
store in a state a restart can resume from (nothing lost, nothing sent twice).

- `event_handled`: the items an event created, and the event marked processed.
- `item_planned`: the buildset, its waiting builds, the item active, and its `start` reports.
- `build_done`: a build's record, dependents skipped, and when the item is over, its
  buildset and item closed with their reports queued.
- `item_closed`: an item leaving its queue early (no jobs, an error, dequeued, superseded).
- `resume`: at start, builds cut off by the previous process are put back to waiting with
  an interrupted attempt recorded, and the live items are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from osci.model import BuildRecord
from osci.store.base import StoreBase
from osci.store.builds import INTERRUPTED, interrupt_in
from osci.store.models import Build, Buildset, Event, Item, Report
from osci.store.serialize import json_ready
from osci.store.types import MAX_MESSAGE, clean_text, clip, utcnow
from osci.store.validate import moment


@dataclass
class QueuedReport:
    reporter: str
    slot: str
    payload: dict[str, Any]


@dataclass
class Closing:
    """How an item ends."""

    item_uuid: str
    state: str  # completed, dequeued, superseded
    result: str
    message: str = ""
    buildset_uuid: str | None = None


@dataclass
class BuildDone:
    """One `build_done`: the build's record (None: only skips or the closing), the builds that
    end without running, and the item's closing with its reports."""

    uuid: str
    record: BuildRecord | None
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    closing: Closing | None = None
    reports: list[QueuedReport] = field(default_factory=list)


@dataclass
class LiveItem:
    item: Item
    event: Event | None
    buildset: Buildset | None
    builds: list[Build] = field(default_factory=list)


def _item(session: Session, uuid: str) -> Item:
    item = session.scalar(select(Item).where(Item.uuid == uuid))
    if item is None:
        raise LookupError(f"no item {uuid}")
    return item


def _queue_reports(
    session: Session, item: Item, buildset: Buildset | None, reports: list[QueuedReport]
) -> None:
    for report in reports:
        session.add(
            Report(
                reporter=report.reporter,
                slot=report.slot,
                payload=json_ready(report.payload),
                item_id=item.id,
                buildset_id=buildset.id if buildset else None,
                state="pending",
                tries=0,
            )
        )


class SchedulingQueries(StoreBase):
    def event_handled(self, event_uuid: str, outcome: str, items: list[dict[str, Any]]) -> None:
        with self._write() as session:
            event = session.scalar(select(Event).where(Event.uuid == event_uuid))
            for fields in items:
                session.add(Item(event_id=event.id if event else None, **fields))
            if event is not None:
                event.processed_at = utcnow()
                event.outcome = clean_text(outcome)

    def item_planned(
        self,
        item_uuid: str,
        buildset_uuid: str,
        job_graph: dict[str, Any],
        builds: list[dict[str, Any]],
        reports: list[QueuedReport],
    ) -> None:
        with self._write() as session:
            item = _item(session, item_uuid)
            buildset = Buildset(uuid=buildset_uuid, item_id=item.id, job_graph=json_ready(job_graph))
            session.add(buildset)
            session.flush()
            common = {
                "buildset_id": buildset.id,
                "state": "waiting",
                "project": item.project,
                "pipeline": item.pipeline,
                "branch": item.branch,
                "change": item.change,
                "patchset": item.patchset,
                "ref": item.ref,
                "newrev": item.newrev,
                "author": item.author,
            }
            if builds:  # one statement for all of them (a change may run dozens of jobs)
                session.execute(insert(Build), [{**common, **fields} for fields in builds])
            item.state = "active"
            _queue_reports(session, item, buildset, reports)

    def build_done(
        self,
        uuid: str,
        record: BuildRecord | None,
        *,
        skipped: list[tuple[str, str, str]] = (),
        closing: Closing | None = None,
        reports: list[QueuedReport] = (),
        now: datetime | None = None,
    ) -> None:
        """`record` None: nothing to write for the build itself (only skips/closing)."""
        self.builds_done([BuildDone(uuid, record, list(skipped), closing, list(reports))], now=now)

    def builds_done(self, done: list[BuildDone], now: datetime | None = None) -> None:
        """Several `build_done` in one transaction, in order (a busy grid finishes dozens of
        builds a second; the scheduler writes those that finished meanwhile together)."""
        with self._write() as session:
            uuids = [d.uuid for d in done if d.record is not None]
            builds = {b.uuid: b for b in session.scalars(select(Build).where(Build.uuid.in_(uuids)))} if uuids else {}
            for d in done:
                if d.record is not None:
                    self._finish_in(session, d.uuid, d.record, now=now, build=builds.get(d.uuid))
                self._mark_done(session, d.skipped)
                if d.closing is not None:
                    self._close_in(session, d.closing, d.reports)

    def item_closed(
        self, closing: Closing, aborted: list[tuple[str, str, str]], reports: list[QueuedReport]
    ) -> None:
        with self._write() as session:
            self._mark_done(session, aborted)
            self._close_in(session, closing, reports)

    @staticmethod
    def _mark_done(session: Session, builds: list[tuple[str, str, str]]) -> None:
        """(uuid, result, reason): builds that end without running (SKIPPED, ABORTED)."""
        now = utcnow()
        for build_uuid, result, reason in builds:
            build = session.scalar(select(Build).where(Build.uuid == build_uuid))
            if build is None or build.state == "completed":
                continue
            build.state = "completed"
            build.result = result
            build.reason = clip(reason, MAX_MESSAGE)
            build.end_time = now
            build.duration = 0.0 if build.start_time is None else (now - build.start_time).total_seconds()

    @staticmethod
    def _close_in(session: Session, closing: Closing, reports: list[QueuedReport]) -> None:
        item = _item(session, closing.item_uuid)
        item.state = closing.state
        item.result = closing.result
        item.dequeue_time = utcnow()
        item.live = False
        if closing.result == "NO_JOBS" and item.event_id is not None:
            # "enqueued" alone would hide why nothing ran: the event says it too
            event = session.get(Event, item.event_id)
            if event is not None:
                why = f"{item.pipeline}: no jobs ran: {clean_text(closing.message) or 'none configured'}"
                event.outcome = clip(f"{event.outcome}; {why}" if event.outcome else why, MAX_MESSAGE)
        buildset = None
        if closing.buildset_uuid:
            buildset = session.scalar(select(Buildset).where(Buildset.uuid == closing.buildset_uuid))
            if buildset is None:
                # An item that ended before it had jobs (no jobs, a configuration error): its
                # buildset records why, so the API and dashboard can show it.
                buildset = Buildset(uuid=closing.buildset_uuid, item_id=item.id, job_graph={})
                session.add(buildset)
            buildset.result = closing.result
            buildset.message = clean_text(closing.message) or None
            buildset.completed = utcnow()
            session.flush()
        _queue_reports(session, item, buildset, reports)

    def start_builds_at(self, started: list[tuple[str, str, datetime | None]]) -> None:
        """Builds (uuid, node, when) marked running, in one transaction."""
        if not started:
            return
        rows = [{"u": uuid, "n": node, "t": moment("started", when)} for uuid, node, when in started]
        statement = (
            update(Build.__table__)
            .where(Build.__table__.c.uuid == bindparam("u"))
            .values(
                state="running",
                node=bindparam("n"),
                attempt_start=bindparam("t"),
                start_time=func.coalesce(Build.__table__.c.start_time, bindparam("t")),
            )
        )
        with self._write() as session:
            # one statement, run for every build (an ORM load and flush each cost more than
            # a scheduler pass's other work)
            updated = session.connection().execute(statement, rows).rowcount
            if updated != len(rows):
                known = set(session.scalars(select(Build.uuid).where(Build.uuid.in_([r["u"] for r in rows]))))
                missing = [r["u"] for r in rows if r["u"] not in known]
                raise LookupError(f"no build {', '.join(missing)}")

    def resume(self) -> list[LiveItem]:
        """Interrupt what was running, then return the live items with their builds, in queue order."""
        with self._write() as session:
            now = utcnow()
            for build in session.scalars(select(Build).where(Build.state == "running")):
                interrupt_in(session, build, INTERRUPTED, now)
        with self._read() as session:
            live = []
            items = session.scalars(
                select(Item).where(Item.state.in_(("waiting", "active"))).order_by(Item.id)
            )
            for item in items:
                event = session.get(Event, item.event_id) if item.event_id else None
                buildset = session.scalar(
                    select(Buildset).where(Buildset.item_id == item.id).order_by(Buildset.id.desc()).limit(1)
                )
                builds = (
                    list(
                        session.scalars(
                            select(Build).where(Build.buildset_id == buildset.id).order_by(Build.id)
                        )
                    )
                    if buildset
                    else []
                )
                live.append(LiveItem(item, event, buildset, builds))
            return live

    def estimated_duration(self, project: str, job: str, samples: int = 10) -> float | None:
        """The mean duration of the job's last successful builds in this project."""
        return self.estimated_durations(project, [job], samples)[job]

    def estimated_durations(self, project: str, jobs: list[str], samples: int = 10) -> dict[str, float | None]:
        """`estimated_duration` of several jobs of a project, in one session (a new item asks
        for all its jobs at once)."""
        ranked = (
            select(
                Build.job,
                Build.duration,
                func.row_number().over(partition_by=Build.job, order_by=Build.id.desc()).label("rank"),
            )
            .where(Build.project == project, Build.job.in_(jobs), Build.result == "SUCCESS")
            .subquery()
        )
        query = select(ranked.c.job, func.avg(ranked.c.duration)).where(ranked.c.rank <= samples).group_by(ranked.c.job)
        with self._read() as session:
            found: dict[str, float | None] = {job: mean for job, mean in session.execute(query)}
        return {job: found.get(job) for job in jobs}

    def pending_report_count(self) -> int:
        with self._read() as session:
            return (
                session.scalar(select(func.count()).select_from(Report).where(Report.state == "pending")) or 0
            )


class EventQueries(StoreBase):
    def record_event_once(self, fields: dict[str, Any]) -> bool:
        """Insert the event unless its uuid is known; True when it is new."""
        with self._write() as session:
            if session.scalar(select(Event.id).where(Event.uuid == fields["uuid"])) is not None:
                return False
            session.add(Event(**fields))
            return True
