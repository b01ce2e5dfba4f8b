"""The timer connection: cron schedules that start pipelines (`trigger: {timer: [{time: ...}]}`).

The server calls `set_schedules([(pipeline, cron spec), ...])` after loading the config; each
fire emits one `timer` event per project the server tests, on its default branch, with the
branch tip when `context.extra["resolve_tip"]` (an async `(project, branch) -> str | None`)
can resolve it. Specs are croniter's: five fields, or six with seconds last
(`* * * * * */10`). Fires missed while the server was down are not replayed: after a start,
the first fire is the next one due from now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from croniter import CroniterError, croniter

from osci.connections.base import Connection, ConnectionConfigError, ConnectionContext, Emit
from osci.model import Event

log = logging.getLogger(__name__)

ResolveTip = Callable[[str, str], Awaitable[str | None]]


def check_spec(spec: Any, where: str = "") -> str:
    """`spec` if croniter accepts it; else ConnectionConfigError naming it and croniter's reason."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConnectionConfigError(
            f"{where}timer spec must be a cron string such as '*/5 * * * *', got {spec!r}"
        )
    try:
        croniter(spec, time.time())
    except (CroniterError, ValueError, KeyError) as exc:
        raise ConnectionConfigError(f"{where}invalid timer spec {spec!r}: {exc}") from None
    return spec


class TimerConnection(Connection):
    driver = "timer"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        unknown = [k for k in config if k not in ("name", "driver")]
        if unknown:
            raise ConnectionConfigError(
                f"connection {name} (timer): unknown key '{unknown[0]}'; it takes none"
            )
        self._schedules: list[tuple[str, str]] = []
        self._emit: Emit | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def set_schedules(self, schedules: list[tuple[str, str]]) -> None:
        """Replace the (pipeline, cron spec) schedules; all are checked before any is applied."""
        checked = [(pipeline, check_spec(spec, f"pipeline '{pipeline}': ")) for pipeline, spec in schedules]
        self._schedules = checked
        if self._emit is not None:
            self._cancel()
            self._spawn()

    @property
    def schedules(self) -> list[tuple[str, str]]:
        return list(self._schedules)

    async def start(self, emit: Emit) -> None:
        self._emit = emit
        self._spawn()

    async def stop(self) -> None:
        tasks = self._cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._emit = None

    def _spawn(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(pipeline, spec), name=f"osci-timer-{self.name}-{pipeline}")
            for pipeline, spec in self._schedules
        ]

    def _cancel(self) -> list[asyncio.Task[None]]:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        return tasks

    async def _run(self, pipeline: str, spec: str) -> None:
        fired = time.time()
        while True:
            due = croniter(spec, fired).get_next(float)
            while (wait := due - time.time()) > 0:  # never fire early, whatever the clock does
                await asyncio.sleep(wait)
            try:
                await self.fire(pipeline)
            except Exception:
                log.exception("timer %s: firing pipeline %s failed", self.name, pipeline)
            fired = max(due, time.time())  # skip fires missed while this one ran

    async def fire(self, pipeline: str) -> None:
        """Emit one timer event per project for `pipeline` now."""
        assert self._emit is not None, "fire before start()"
        resolve: ResolveTip | None = self.context.extra.get("resolve_tip")
        for project, branch in self.context.projects():
            newrev = None
            if resolve is not None and branch:
                try:
                    newrev = await resolve(project, branch)
                except Exception as exc:
                    log.warning("timer %s: cannot resolve %s %s: %s", self.name, project, branch, exc)
            await self._emit(
                Event(
                    connection=self.name,
                    type="timer",
                    project=project,
                    branch=branch,
                    ref=f"refs/heads/{branch}" if branch else None,
                    newrev=newrev,
                    pipeline=pipeline,
                )
            )


CONNECTION = TimerConnection
