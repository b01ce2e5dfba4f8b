"""The server's node pool: built from the configuration's providers, its events written to the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osci.config import Config
from osci.config.providers import ProviderSpec
from osci.connections.base import Connection, ConnectionConfigError, ReportError
from osci.connections.smtp import SmtpConnection
from osci.nodes.model import ADMIN_ACTIONS
from osci.nodes.pool import NodePool
from osci.store import Store
from osci.store.nodes import NodeChange

log = logging.getLogger("osci.server")


def make_pool(
    config: Config,
    slots: int | None,
    build_dir: Callable[[str], Path],
    workspace_root: Path,
    store: Store,
    db: Callable[..., Any],
    connections: Callable[[], dict[str, Connection]] = dict,
) -> NodePool:
    """Raises ConnectionConfigError when a provider's `notify` is not an smtp connection."""
    specs = provider_specs(config)
    for spec in specs:
        problem = _notify_problem(spec, connections())
        if problem is not None:
            raise ConnectionConfigError(problem)

    async def notify(message: str, concerned: list[ProviderSpec]) -> None:
        for spec in concerned:
            mailer = connections().get(spec.notify or "")
            if spec.admins and isinstance(mailer, SmtpConnection):
                try:
                    await asyncio.to_thread(
                        mailer.notice, spec.admins, f"osci: {message}"[:200], message + "\n"
                    )
                except ReportError as exc:
                    log.error("could not e-mail the admins of provider %s: %s", spec.name, exc)

    recorder = NodeRecorder(store, db)
    pool = NodePool.from_specs(
        specs, slots=slots, build_dir=build_dir, workspace_root=workspace_root, record=recorder.record,
        notify=notify,
    )  # fmt: skip

    async def autohold_used(hold_id: int, build: str) -> None:
        await db(store.autohold_held, hold_id, build)

    pool.on_autohold = autohold_used
    return pool


def provider_specs(config: Config) -> list[ProviderSpec]:
    return [p.spec for p in config.providers.values() if p.spec is not None]


def _notify_problem(spec: ProviderSpec, connections: dict[str, Connection]) -> str | None:
    if spec.notify and not isinstance(connections.get(spec.notify), SmtpConnection):
        smtp = ", ".join(n for n, c in connections.items() if isinstance(c, SmtpConnection))
        return f"provider {spec.name}: 'notify': {spec.notify!r} is not an smtp connection (smtp connections: {smtp or 'none'})"
    return None


def reload_errors(pool: NodePool, config: Config, connections: dict[str, Connection]) -> list[dict[str, Any]]:
    """Why a reloaded configuration's providers cannot replace the running ones (file:line errors);
    then the reload changes nothing."""
    problems = []
    for spec in provider_specs(config):
        problem = _notify_problem(spec, connections)
        if problem is not None:
            problems.append((spec, problem))
    problems += pool.refused(provider_specs(config))
    return [
        {"file": spec.location.file, "line": spec.location.line, "column": spec.location.column, "message": message}
        for spec, message in problems
    ]


async def reconfigure_pool(pool: NodePool, config: Config) -> list[str]:
    """The reloaded providers applied to the running pool; what changed, in words (logged)."""
    changes = await pool.reconfigure(provider_specs(config))
    if changes:
        log.info("node pool reconfigured: %s", "; ".join(changes))
    return changes


async def restore_autoholds(pool: NodePool, store: Store, db: Callable[..., Any]) -> None:
    for hold in await db(store.active_autoholds):
        pool.add_autohold(hold.project, hold.job, hold.count, hold.reason or "", hold.id, hold.held)


async def add_autohold(
    pool: NodePool, store: Store, db: Callable[..., Any], project: str, job: str, count: int, reason: str
) -> dict[str, Any]:
    row = await db(store.add_autohold, project, job, count, reason)
    hold = pool.add_autohold(project, job, count, reason, row.id)
    return {
        "id": hold.id,
        "project": hold.project,
        "job": hold.job,
        "count": hold.count,
        "reason": hold.reason,
    }


async def stored_states(store: Store, db: Callable[..., Any]) -> dict[str, str]:
    return {node.name: node.state for node in await db(store.list_nodes)}


async def node_doc(
    pool: NodePool, store: Store, db: Callable[..., Any], name: str, events: int = 50
) -> dict | None:
    """One node with its latest events (newest first), or None."""
    node = pool.nodes.get(name)
    if node is None:
        return None
    rows = await db(store.node_events, name, events)
    doc = node.to_dict()
    doc["events"] = [{"time": r.time.isoformat(), "type": r.type, "detail": r.detail or ""} for r in rows]
    return doc


def node_action(pool: NodePool, name: str, action: str, reason: str = "") -> dict[str, Any]:
    """Raises ValueError for an unknown action or node."""
    if action not in ADMIN_ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ADMIN_ACTIONS)}")
    if name not in pool.nodes:
        raise ValueError(f"no node {name!r}; nodes: {', '.join(sorted(pool.nodes)) or 'none'}")
    node = pool.admin(name, action, reason)
    log.info("node %s: %s by an admin%s", name, action, f" ({reason})" if reason else "")
    return node.to_dict()


class NodeRecorder:
    """Node changes written in batches: whatever happened while the last batch was being written
    goes in the next transaction, in order (a grid of agents changes nodes dozens of times a
    second; one transaction each would cost more than the builds)."""

    def __init__(self, store: Store, db: Callable[..., Any]) -> None:
        self.store, self.db = store, db
        self.pending: list[NodeChange] = []
        self.flushing: asyncio.Task | None = None

    async def record(self, node: dict[str, Any], event: str, detail: str) -> None:
        self.pending.append(
            NodeChange(
                name=node["name"],
                label=node["label"] or "",
                provider=node["provider"],
                capabilities={"provides": node["capabilities"], "slots": node["slots"], "address": node["address"]},
                state=node["state"],
                event=event,
                detail=detail,
            )
        )
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.ensure_future(self._flush())
        await asyncio.shield(self.flushing)

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self.db(self.store.record_node_changes, batch)
            except Exception:
                log.exception("recording %d node change(s) failed", len(batch))
