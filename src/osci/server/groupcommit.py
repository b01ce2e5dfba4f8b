"""Group commit: writes that arrive while the database thread is busy go together in one
transaction, and each caller still waits for its own write.

A grid of agents finishes dozens of builds a second. Written one transaction each, their
records queue up behind each other in the single database thread, and every one pays for
its own session, its own lookups and its own commit. Grouped, they pay once.

When a group fails, its writes are tried again one by one, so only the bad write fails (with
the same error its caller would have had alone) and the others are committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger("osci.server")
T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self,
        db: Callable[..., Awaitable[Any]],
        write_many: Callable[[list[T]], Any],
        most: int = 200,
    ) -> None:
        self.db = db
        self.write_many = write_many
        self.most = most  # a transaction holds at most this many writes
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task | None = None

    async def write(self, entry: T) -> None:
        """Returns once `entry` is committed; raises what writing it alone raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="osci-group-commit")
        await future

    async def _drain(self) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.most], self._pending[self.most :]
            try:
                await self.db(self.write_many, [entry for entry, _ in group])
            except Exception as exc:
                if len(group) == 1:
                    _settle(group[0][1], exc)
                    continue
                log.warning("a group of %d writes failed (%s); writing them one by one", len(group), exc)
                for entry, future in group:
                    try:
                        await self.db(self.write_many, [entry])
                    except Exception as alone:
                        _settle(future, alone)
                    else:
                        _settle(future, None)
                continue
            for _, future in group:
                _settle(future, None)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its caller was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
