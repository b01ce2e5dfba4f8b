"""Following `gerrit stream-events`: reconnecting with exponential backoff, and catching up on
what a disconnect (or a stopped server) made us miss.

After each (re)connection the stream is subscribed first, then the changes updated since the
last event seen are queried (`gerrit query ... status:open since:"..."`): every patchset
created since then is emitted as the `patchset-created` the stream would have carried. Both
give an event the same uuid, and the server records an event once, so a patchset that both
the stream and the catch-up see is enqueued once; one the stream lost is found by the query.
The last event's time is kept in the connection's folder (`stream.json`), so a restart
catches up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh

from osci.connections.gerrit import events as ev
from osci.connections.gerrit.ssh import GerritSSH, GerritUnavailable, describe
from osci.model import Event

log = logging.getLogger(__name__)

CATCH_UP_MARGIN = 120  # seconds before the last event seen: clocks and ordering are not exact
QUERY_PAGE = 200
MAX_PAGES = 50
CATCH_UP_TRIES = 6


class StreamState:
    """The time (Gerrit's `eventCreatedOn`, epoch seconds) of the last event seen, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_seen: float | None = None
        try:
            value = json.loads(path.read_text()).get("last_seen")
            self.last_seen = float(value) if value is not None else None
        except (OSError, ValueError, AttributeError, TypeError):
            self.last_seen = None
        self._saved = self.last_seen

    def seen(self, moment: float) -> None:
        if self.last_seen is None or moment > self.last_seen:
            self.last_seen = moment

    def save(self) -> None:
        if self.last_seen == self._saved:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"last_seen": self.last_seen}))
        os.replace(tmp, self.path)
        self._saved = self.last_seen


def since_clause(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime('since:"%Y-%m-%d %H:%M:%S +0000"')


class EventStream:
    """Runs until cancelled; every event goes to `handle` (which emits it)."""

    def __init__(
        self,
        name: str,
        ssh: GerritSSH,
        state: StreamState,
        handle: Callable[[Event], Awaitable[None]],
        max_backoff: float,
    ) -> None:
        self.name = name
        self.ssh = ssh
        self.state = state
        self.handle = handle
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()  # set while a stream is up
        self.connections = 0  # streams opened so far
        self.catch_ups = 0  # catch-up queries done

    async def run(self) -> None:
        backoff = 1.0
        while True:
            started = time.monotonic()
            try:
                await self._follow()
                reason = "the stream ended"
            except GerritUnavailable as exc:
                reason = str(exc)
            except (TimeoutError, OSError, asyncssh.Error) as exc:
                reason = describe(exc)
            except Exception as exc:  # e.g. the server could not record an event: the catch-up recovers it
                log.exception("gerrit %s: following the stream failed", self.name)
                reason = f"{type(exc).__name__}: {exc}"
            self.connected.clear()
            if time.monotonic() - started > 60:
                backoff = 1.0  # it was up for a while: this is a new outage
            delay = backoff * (1 + random.random() / 4)
            log.warning("gerrit %s: %s; reconnecting in %.0fs", self.name, reason, delay)
            await asyncio.sleep(delay)
            backoff = min(self.max_backoff, backoff * 2)

    async def _follow(self) -> None:
        conn = await self.ssh.connect()
        try:
            process = await conn.create_process("gerrit stream-events")
            self.connections += 1
            self.connected.set()
            log.info("gerrit %s: following stream-events", self.name)
            catch_up = asyncio.create_task(self._catch_up(), name=f"gerrit-{self.name}-catch-up")
            try:
                async for line in process.stdout:
                    await self._line(line)
            finally:
                if not catch_up.done():
                    catch_up.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await catch_up
            status = process.exit_status
            if status not in (None, 0):
                errors = (await process.stderr.read()).strip().splitlines()
                raise GerritUnavailable(f"stream-events exited with {status}: {errors[-1] if errors else ''}")
        finally:
            conn.abort()

    async def _line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        event = ev.parse_line(self.name, line)
        if event is None:
            return
        await self.handle(event)
        moment = event.payload.get("event_created_on")
        if isinstance(moment, int | float):
            self.state.seen(float(moment))
            self.state.save()

    async def _catch_up(self) -> None:
        """Emit the patchsets created since the last event seen (none at the very first start)."""
        if self.state.last_seen is None:
            self.state.seen(time.time())
            self.state.save()
            return
        start = self.state.last_seen - CATCH_UP_MARGIN
        found = 0
        for attempt in range(CATCH_UP_TRIES):
            try:
                found = await self._emit_since(start)
                break
            except Exception as exc:  # Gerrit unreachable, an unreadable answer, the store failing
                log.warning("gerrit %s: catching up since %s failed (try %d of %d): %s", self.name,
                            since_clause(start)[6:], attempt + 1, CATCH_UP_TRIES, exc)  # fmt: skip
                await asyncio.sleep(min(60.0, 2.0**attempt))
        else:
            log.error("gerrit %s: gave up catching up; patchsets since %s may be missed until the next "
                      "reconnection", self.name, since_clause(start)[6:])  # fmt: skip
            return
        self.catch_ups += 1
        log.info("gerrit %s: caught up since %s: %d open change(s) with new patchsets", self.name,
                 since_clause(start)[6:], found)  # fmt: skip

    async def _emit_since(self, start: float) -> int:
        found = 0
        rows = []
        for row in await self.query(f"status:open {since_clause(start)}"):
            patchset = row.get("currentPatchSet")
            if isinstance(patchset, dict) and (patchset.get("createdOn") or 0) >= start:
                rows.append((patchset, row))
        # Gerrit answers newest first; missed patchsets are enqueued in the order they were made.
        rows.sort(key=lambda found: (found[0].get("createdOn") or 0, str(found[1].get("number") or "").zfill(12)))
        for patchset, row in rows:
            event = ev.patchset_event(self.name, row, patchset)
            if event is not None:
                await self.handle(event)
                found += 1
        return found

    async def query(self, query: str) -> list[dict[str, Any]]:
        """Every change row of `gerrit query` (with the current patchset and its files), page by page."""
        rows: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            output = await self.ssh.run(
                "gerrit", "query", "--format=JSON", "--current-patch-set", "--files",
                "--start", str(len(rows)), f"{query} limit:{QUERY_PAGE}",
            )  # fmt: skip
            page, stats = ev.query_rows(output)
            rows += page
            if not stats.get("moreChanges") or not page:
                break
        return rows
