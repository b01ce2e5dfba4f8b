"""The scheduler's Gatekeeper port: merging through the item's connection, and `Depends-On:`
footers read from the change's commit message and resolved by every connection."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from osci.connections.base import ChangeToMerge, Connection, DependencyRef, MergeFailed
from osci.merger.speculate import Merger, MergerError, _ensure_repo, _git
from osci.scheduler.state import ItemState
from osci.server.planner import is_change

log = logging.getLogger("osci.server.gatekeeper")

DEPENDS_ON = re.compile(r"^Depends-On:[ \t]*(\S+)[ \t]*$", re.IGNORECASE | re.MULTILINE)

FetchSource = Callable[[ItemState], Awaitable[tuple[str, dict[str, str]] | None]]


def depends_on_footers(message: str) -> list[str]:
    """The values of the `Depends-On:` lines of a commit message, in order, without repeats."""
    return list(dict.fromkeys(DEPENDS_ON.findall(message)))


class ServerGatekeeper:
    def __init__(
        self, connections: Callable[[], dict[str, Connection]], merger: Merger, fetch_source: FetchSource
    ) -> None:
        self.connections = connections
        self.merger = merger
        self.fetch_source = fetch_source

    def _connection_of(self, item: ItemState) -> Connection | None:
        connections = self.connections()
        if item.connection in connections:
            return connections[item.connection]
        for connection in connections.values():  # a manual enqueue: whoever serves the project
            if type(connection).merge is not Connection.merge and connection.clone_url(item.project):
                return connection
        return None

    async def merge(self, item: ItemState, change: ChangeToMerge) -> str | None:
        connection = self._connection_of(item)
        if connection is None:
            raise MergeFailed(f"no connection can merge {item.project}")
        return await connection.merge(change)

    async def commit_message(self, item: ItemState) -> str:
        if not is_change(item):
            return ""
        found = await self.fetch_source(item)
        if found is None:
            return ""
        url, env = found
        repo = self.merger.repo_path(item.project)
        lock = self.merger._locks.setdefault(str(repo), asyncio.Lock())
        async with lock:
            await _ensure_repo(repo)
            await _git(repo, "fetch", "-q", "--no-tags", url, f"+{item.ref}:refs/osci/message", env=env)
            return await _git(repo, "log", "-1", "--format=%B", "refs/osci/message")

    async def depends_on(self, item: ItemState) -> list[DependencyRef]:
        try:
            message = await self.commit_message(item)
        except MergerError as exc:
            raise RuntimeError(str(exc)) from None
        found: list[DependencyRef] = []
        for value in depends_on_footers(message):
            for connection in self.connections().values():
                ref = connection.resolve_dependency(value)
                if ref is not None:
                    found.append(ref)
                    break
            else:
                raise RuntimeError(f"Depends-On: {value}: no connection knows this change")
        return found

    async def is_merged(self, dependency: DependencyRef) -> bool:
        connection = self.connections().get(dependency.connection)
        check: Any = getattr(connection, "dependency_merged", None)
        return bool(check is not None and await check(dependency))
