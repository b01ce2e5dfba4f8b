"""Nodes of the grid and what happened to them; configuration loads and their errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from osci.store.base import StoreBase
from osci.store.errors import NotFound, StoreError
from osci.store.models import Autohold, ConfigLoad, Node, NodeEvent
from osci.store.serialize import json_ready
from osci.store.types import clean_text
from osci.store.validate import moment, required


class NodeQueries(StoreBase):
    def upsert_node(
        self,
        name: str,
        *,
        label: str | None = None,
        provider: str | None = None,
        capabilities: dict[str, Any] | None = None,
        state: str = "ready",
        now: datetime | None = None,
    ) -> Node:
        """Create a node or update it; fields given as None are left as they are."""
        required("node name", name)
        with self._write() as session:
            node = session.scalar(select(Node).where(Node.name == name))
            if node is None:
                node = Node(name=name, capabilities={})
                session.add(node)
            return _apply(node, label, provider, capabilities, state, moment("now", now))

    def record_node_changes(self, changes: list[NodeChange], now: datetime | None = None) -> None:
        """Nodes as they now are, each with the event that changed it, in one transaction (a busy
        grid leases and releases nodes dozens of times a second)."""
        when = moment("now", now)
        for change in changes:
            required("node event type", change.event)
        with self._write() as session:
            names = sorted({change.name for change in changes})
            nodes = {n.name: n for n in session.scalars(select(Node).where(Node.name.in_(names)))}
            for change in changes:
                node = nodes.get(change.name)
                if node is None:
                    node = nodes[change.name] = Node(name=required("node name", change.name), capabilities={})
                    session.add(node)
                _apply(node, change.label, change.provider, change.capabilities, change.state, when)
            session.flush()
            session.execute(
                insert(NodeEvent),
                [
                    {"node_id": nodes[c.name].id, "type": c.event, "detail": clean_text(c.detail), "time": when}
                    for c in changes
                ],
            )

    def record_node_event(
        self, name: str, type: str, detail: str = "", now: datetime | None = None
    ) -> NodeEvent:
        with self._write() as session:
            node = session.scalar(select(Node).where(Node.name == name))
            if node is None:
                raise NotFound(f"no node {name!r}")
            event = NodeEvent(
                node_id=node.id, type=required("node event type", type), detail=clean_text(detail)
            )
            event.time = moment("now", now)
            session.add(event)
            return event

    def node_events(self, name: str, limit: int = 100) -> list[NodeEvent]:
        """A node's events, newest first."""
        with self._read() as session:
            node = session.scalar(select(Node).where(Node.name == name))
            if node is None:
                raise NotFound(f"no node {name!r}")
            query = select(NodeEvent).where(NodeEvent.node_id == node.id)
            return list(
                session.scalars(query.order_by(NodeEvent.time.desc(), NodeEvent.id.desc()).limit(limit))
            )

    def list_nodes(self) -> list[Node]:
        with self._read() as session:
            return list(session.scalars(select(Node).order_by(Node.name)))

    # -- autohold requests -----------------------------------------------------------------------

    def add_autohold(self, project: str, job: str, count: int = 1, reason: str = "") -> Autohold:
        hold = Autohold(
            project=required("project", project),
            job=required("job", job),
            count=max(1, int(count)),
            reason=clean_text(reason),
            held=[],
        )
        with self._write() as session:
            session.add(hold)
        return hold

    def active_autoholds(self) -> list[Autohold]:
        """Requests with builds still to hold, oldest first."""
        with self._read() as session:
            holds = session.scalars(select(Autohold).order_by(Autohold.id))
            return [h for h in holds if len(h.held or []) < h.count]

    def autohold_held(self, hold_id: int, build: str) -> None:
        """A failing build's nodes were held for request `hold_id`."""
        with self._write() as session:
            hold = session.get(Autohold, hold_id)
            if hold is None:
                raise NotFound(f"no autohold {hold_id}")
            hold.held = [*(hold.held or []), build]

    # -- configuration loads --------------------------------------------------------------------

    def record_config_load(
        self,
        ok: bool,
        errors: list[dict[str, Any]] | None = None,
        *,
        source: str | None = None,
        now: datetime | None = None,
    ) -> ConfigLoad:
        """Errors are dicts of file, line, column, message."""
        errors = errors or []
        if not isinstance(errors, list) or not all(isinstance(error, dict) for error in errors):
            raise StoreError("configuration errors must be a list of {file, line, column, message}")
        load = ConfigLoad(ok=bool(ok), errors=json_ready(errors), source=source, loaded_at=moment("now", now))
        with self._write() as session:
            session.add(load)
        return load

    def last_config_load(self) -> ConfigLoad | None:
        with self._read() as session:
            return session.scalar(select(ConfigLoad).order_by(ConfigLoad.id.desc()).limit(1))


@dataclass
class NodeChange:
    """A node's fields as they now are, and the event that changed them."""

    name: str
    label: str | None
    provider: str | None
    capabilities: dict[str, Any] | None
    state: str
    event: str
    detail: str = ""


def _apply(
    node: Node,
    label: str | None,
    provider: str | None,
    capabilities: dict[str, Any] | None,
    state: str,
    when: datetime,
) -> Node:
    if label is not None:
        node.label = label
    if provider is not None:
        node.provider = provider
    if capabilities is not None:
        node.capabilities = json_ready(capabilities)
    node.state = state
    node.updated_at = when
    return node
