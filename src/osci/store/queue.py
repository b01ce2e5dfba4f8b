"""Events, items and buildsets: what the scheduler records before it acts."""

from __future__ import annotations

import uuid as uuidlib
from datetime import datetime
from typing import Any

from sqlalchemy import select

from osci.model import FrozenJob
from osci.store.base import StoreBase
from osci.store.errors import NotFound, StoreError
from osci.store.models import Buildset, Event, Item
from osci.store.serialize import job_graph, json_ready
from osci.store.types import clean_text
from osci.store.validate import moment, one_of, required, text_or_none

ITEM_STATES = ("waiting", "active", "completed", "dequeued", "superseded")
ACTIVE_ITEM_STATES = ("waiting", "active")


def new_uuid() -> str:
    return uuidlib.uuid4().hex


class QueueQueries(StoreBase):
    # -- events ---------------------------------------------------------------------------------

    def record_event(
        self,
        connection: str,
        type: str,
        *,
        uuid: str | None = None,
        project: str | None = None,
        branch: str | None = None,
        ref: str | None = None,
        oldrev: str | None = None,
        newrev: str | None = None,
        change: str | int | None = None,
        patchset: str | int | None = None,
        author: str | None = None,
        files: list[str] | None = None,
        payload: dict[str, Any] | None = None,
        received_at: datetime | None = None,
    ) -> Event:
        """Write an event before acting on it. Recording a uuid again returns the first record
        (a connection may deliver the same event twice)."""
        required("event connection", connection)
        required("event type", type)
        if files is not None and not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
            raise StoreError(f"invalid event files {files!r}: expected a list of paths")
        event = Event(
            uuid=uuid or new_uuid(),
            connection=connection,
            type=type,
            project=project,
            branch=branch,
            ref=ref,
            oldrev=oldrev,
            newrev=newrev,
            change=text_or_none("change", change),
            patchset=text_or_none("patchset", patchset),
            author=author,
            files=files,
            payload=json_ready(payload or {}),
            received_at=moment("received_at", received_at),
        )
        try:
            with self._write() as session:
                if uuid is not None:
                    existing = session.scalar(select(Event).where(Event.uuid == uuid))
                    if existing is not None:
                        return existing
                session.add(event)
        except StoreError:
            if uuid is None:
                raise
            with self._read() as session:  # another process recorded it between our check and insert
                existing = session.scalar(select(Event).where(Event.uuid == uuid))
            if existing is None:
                raise
            return existing
        return event

    def get_event(self, event_id: int) -> Event:
        with self._read() as session:
            event = session.get(Event, event_id)
            if event is None:
                raise NotFound(f"no event {event_id}")
            return event

    def unprocessed_events(self, limit: int | None = None) -> list[Event]:
        """Events not yet acted on, oldest first: what to process after a restart."""
        query = select(Event).where(Event.processed_at.is_(None)).order_by(Event.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session:
            return list(session.scalars(query))

    def mark_event_processed(self, event_id: int, outcome: str, now: datetime | None = None) -> Event:
        with self._write() as session:
            event = session.get(Event, event_id)
            if event is None:
                raise NotFound(f"no event {event_id}")
            event.processed_at = moment("now", now)
            event.outcome = clean_text(outcome)
            return event

    # -- items ----------------------------------------------------------------------------------

    def create_item(
        self,
        pipeline: str,
        project: str,
        *,
        event_id: int | None = None,
        queue: str | None = None,
        branch: str | None = None,
        ref: str | None = None,
        oldrev: str | None = None,
        newrev: str | None = None,
        change: str | int | None = None,
        patchset: str | int | None = None,
        author: str | None = None,
        ahead_uuid: str | None = None,
        live: bool = True,
        state: str = "waiting",
        uuid: str | None = None,
        enqueue_time: datetime | None = None,
    ) -> Item:
        item = Item(
            uuid=uuid or new_uuid(),
            event_id=event_id,
            pipeline=required("pipeline", pipeline),
            queue=queue,
            project=required("project", project),
            branch=branch,
            ref=ref,
            oldrev=oldrev,
            newrev=newrev,
            change=text_or_none("change", change),
            patchset=text_or_none("patchset", patchset),
            author=author,
            state=one_of("item state", state, ITEM_STATES),
            enqueue_time=moment("enqueue_time", enqueue_time),
            ahead_uuid=ahead_uuid,
            live=bool(live),
        )
        with self._write() as session:
            if event_id is not None and session.get(Event, event_id) is None:
                raise NotFound(f"no event {event_id}")
            session.add(item)
        return item

    def get_item(self, uuid: str) -> Item:
        with self._read() as session:
            item = session.scalar(select(Item).where(Item.uuid == uuid))
            if item is None:
                raise NotFound(f"no item {uuid}")
            return item

    def active_items(self, pipeline: str | None = None) -> list[Item]:
        """Items still in a queue (waiting or active), in queue order: rebuilds queues on restart."""
        query = select(Item).where(Item.state.in_(ACTIVE_ITEM_STATES)).order_by(Item.id)
        if pipeline is not None:
            query = query.where(Item.pipeline == pipeline)
        with self._read() as session:
            return list(session.scalars(query))

    def set_item_state(
        self, uuid: str, state: str, result: str | None = None, now: datetime | None = None
    ) -> Item:
        """Move an item on; leaving the queue (completed, dequeued, superseded) sets dequeue_time."""
        one_of("item state", state, ITEM_STATES)
        with self._write() as session:
            item = session.scalar(select(Item).where(Item.uuid == uuid))
            if item is None:
                raise NotFound(f"no item {uuid}")
            item.state = state
            if result is not None:
                item.result = result
            if state not in ACTIVE_ITEM_STATES:
                item.dequeue_time = moment("now", now)
            return item

    # -- buildsets ------------------------------------------------------------------------------

    def create_buildset(
        self,
        item_id: int | None,
        jobs: list[FrozenJob] | dict[str, Any],
        *,
        uuid: str | None = None,
        now: datetime | None = None,
    ) -> Buildset:
        """A buildset with its frozen job graph (FrozenJobs, or an already serialised dict)."""
        if isinstance(jobs, dict):
            graph = json_ready(jobs)
        elif isinstance(jobs, list) and all(isinstance(job, FrozenJob) for job in jobs):
            graph = job_graph(jobs)
        else:
            raise StoreError("a buildset's jobs must be a list of FrozenJob or a job-graph dict")
        buildset = Buildset(
            uuid=uuid or new_uuid(), item_id=item_id, job_graph=graph, created=moment("now", now)
        )
        with self._write() as session:
            if item_id is not None and session.get(Item, item_id) is None:
                raise NotFound(f"no item {item_id}")
            session.add(buildset)
        return buildset

    def get_buildset(self, uuid: str) -> Buildset:
        with self._read() as session:
            buildset = session.scalar(select(Buildset).where(Buildset.uuid == uuid))
            if buildset is None:
                raise NotFound(f"no buildset {uuid}")
            return buildset

    def complete_buildset(
        self, uuid: str, result: str, message: str | None = None, now: datetime | None = None
    ) -> Buildset:
        with self._write() as session:
            buildset = session.scalar(select(Buildset).where(Buildset.uuid == uuid))
            if buildset is None:
                raise NotFound(f"no buildset {uuid}")
            buildset.result = result
            buildset.message = None if message is None else clean_text(message)
            buildset.completed = moment("now", now)
            return buildset
