"""Read-only queries the HTTP API needs beyond the Store's own: buildsets, recent events and
configuration loads.

Functions take a :class:`Store`, so the store's query classes stay untouched."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from osci.store.builds import MAX_PAGE
from osci.store.errors import NotFound
from osci.store.models import Build, Buildset, ConfigLoad, Event, Item
from osci.store.rollups import FAILED, INFRA, PASSED
from osci.store.store import Store
from osci.store.validate import count


@dataclass
class BuildsetView:
    """A buildset with the item it belongs to (None for a buildset made without an item)."""

    buildset: Buildset
    item: Item | None


def buildset_uuids(store: Store, ids: set[int]) -> dict[int, str]:
    """Buildset id -> uuid, for showing builds' buildsets by uuid."""
    if not ids:
        return {}
    with store._read() as session:
        rows = session.execute(select(Buildset.id, Buildset.uuid).where(Buildset.id.in_(ids)))
        return {row.id: row.uuid for row in rows}


def list_buildsets(
    store: Store,
    *,
    limit: int = 50,
    skip: int = 0,
    project: str | None = None,
    pipeline: str | None = None,
    change: str | None = None,
    result: str | None = None,
) -> list[BuildsetView]:
    """Buildsets newest first, each with its item; the filters are on the item (project,
    pipeline, change) and on the buildset's result."""
    count("limit", limit, 1, MAX_PAGE)
    count("skip", skip, 0, 2**31)
    query = select(Buildset, Item).outerjoin(Item, Buildset.item_id == Item.id)
    for column, value in ((Item.project, project), (Item.pipeline, pipeline), (Item.change, change)):
        if value is not None:
            query = query.where(column == value)
    if result is not None:
        query = query.where(Buildset.result == result)
    query = query.order_by(Buildset.id.desc()).limit(limit).offset(skip)
    with store._read() as session:
        return [BuildsetView(buildset, item) for buildset, item in session.execute(query)]


def buildset_build_counts(store: Store, ids: set[int]) -> dict[int, dict[str, int]]:
    """Buildset id -> {total, passed, failed, infra, running} over its builds."""
    counts = {id_: {"total": 0, "passed": 0, "failed": 0, "infra": 0, "running": 0} for id_ in ids}
    if not ids:
        return counts
    query = (
        select(Build.buildset_id, Build.state, Build.result, func.count().label("n"))
        .where(Build.buildset_id.in_(ids))
        .group_by(Build.buildset_id, Build.state, Build.result)
    )
    with store._read() as session:
        for row in session.execute(query):
            entry = counts[row.buildset_id]
            entry["total"] += row.n
            if row.state == "running":
                entry["running"] += row.n
            elif row.result in PASSED:
                entry["passed"] += row.n
            elif row.result in FAILED:
                entry["failed"] += row.n
            elif row.result in INFRA:
                entry["infra"] += row.n
    return counts


def get_buildset_with_builds(store: Store, uuid: str) -> tuple[BuildsetView, list[Build]]:
    """One buildset, its item and its builds (in creation order); NotFound if unknown."""
    with store._read() as session:
        row = session.execute(
            select(Buildset, Item).outerjoin(Item, Buildset.item_id == Item.id).where(Buildset.uuid == uuid)
        ).first()
        if row is None:
            raise NotFound(f"no buildset {uuid}")
        buildset, item = row
        builds = list(
            session.scalars(select(Build).where(Build.buildset_id == buildset.id).order_by(Build.id))
        )
        return BuildsetView(buildset, item), builds


def recent_events(
    store: Store, *, limit: int = 50, project: str | None = None, type: str | None = None
) -> list[Event]:
    """The latest events received, newest first, with their outcome (None while unprocessed)."""
    count("limit", limit, 1, MAX_PAGE)
    query = select(Event)
    if project is not None:
        query = query.where(Event.project == project)
    if type is not None:
        query = query.where(Event.type == type)
    with store._read() as session:
        return list(session.scalars(query.order_by(Event.id.desc()).limit(limit)))


@dataclass
class EventItem:
    """An item an event created, with its latest buildset's uuid."""

    item: Item
    buildset_uuid: str | None


def event_items(store: Store, event_ids: set[int]) -> dict[int, list[EventItem]]:
    """Event id -> the items it created (in creation order)."""
    found: dict[int, list[EventItem]] = {id_: [] for id_ in event_ids}
    if not event_ids:
        return found
    with store._read() as session:
        items = list(session.scalars(select(Item).where(Item.event_id.in_(event_ids)).order_by(Item.id)))
        latest: dict[int, str] = {}
        if items:
            rows = session.execute(
                select(Buildset.item_id, Buildset.uuid)
                .where(Buildset.item_id.in_([item.id for item in items]))
                .order_by(Buildset.id)
            )
            latest = {row.item_id: row.uuid for row in rows}  # the last one wins
    for item in items:
        found[item.event_id].append(EventItem(item, latest.get(item.id)))
    return found


def config_loads(store: Store, limit: int = 20) -> list[ConfigLoad]:
    """The latest configuration loads, newest first."""
    count("limit", limit, 1, MAX_PAGE)
    with store._read() as session:
        return list(session.scalars(select(ConfigLoad).order_by(ConfigLoad.id.desc()).limit(limit)))
