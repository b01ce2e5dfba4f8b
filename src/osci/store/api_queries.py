"""Read-only queries the HTTP API needs beyond the Store's own: buildsets and recent events.

Functions take a :class:`Store`, so the store's query classes stay untouched."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from osci.store.builds import MAX_PAGE
from osci.store.errors import NotFound
from osci.store.models import Build, Buildset, Event, Item
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


def list_buildsets(store: Store, *, limit: int = 50, skip: int = 0) -> list[BuildsetView]:
    """Buildsets newest first, each with its item."""
    count("limit", limit, 1, MAX_PAGE)
    count("skip", skip, 0, 2**31)
    query = (
        select(Buildset, Item)
        .outerjoin(Item, Buildset.item_id == Item.id)
        .order_by(Buildset.id.desc())
        .limit(limit)
        .offset(skip)
    )
    with store._read() as session:
        return [BuildsetView(buildset, item) for buildset, item in session.execute(query)]


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


def recent_events(store: Store, *, limit: int = 50) -> list[Event]:
    """The latest events received, newest first, with their outcome (None while unprocessed)."""
    count("limit", limit, 1, MAX_PAGE)
    with store._read() as session:
        return list(session.scalars(select(Event).order_by(Event.id.desc()).limit(limit)))
