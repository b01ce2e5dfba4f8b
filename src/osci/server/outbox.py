"""Sending queued reports: the outbox table is written with the result, sent from here,
and retried with backoff while the target is down. Never blocks the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from osci.connections.base import Connection, ConnectionConfigError, ReportError
from osci.model import Report

log = logging.getLogger("osci.reporters")

MAX_BACKOFF = 300.0  # seconds
GIVE_UP_AFTER = 50  # tries; about four hours at the maximum backoff


def backoff(tries: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** max(0, tries - 1))


class Outbox:
    def __init__(self, store: Any, connections: Callable[[], dict[str, Connection]], db: Callable) -> None:
        self.store = store
        self.connections = connections
        self.db = db  # runs a store call in the database thread
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="osci-outbox")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                next_due = await self.send_due()
            except Exception:
                log.exception("outbox pass failed")
                next_due = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=next_due)
            self._wake.clear()

    async def send_due(self) -> float:
        """Send every due report; return how long until the loop should look again."""
        reports = await self.db(self.store.pending_reports)
        for row in reports:
            await self._send(row)
        return 1.0 if reports else 5.0

    async def _send(self, row: Any) -> None:
        connection = self.connections().get(row.reporter)
        payload = dict(row.payload or {})
        options = payload.pop("_options", {})
        if connection is None:
            await self.db(self.store.mark_report_failed, row.id, f"no connection named {row.reporter}", None)
            log.error("report %s: no connection named %s", row.id, row.reporter)
            return
        try:
            report = Report.from_dict(payload)
            report.delivery = f"osci-report-{row.id}"  # one id for every try of this report
            await connection.report(report, options)
        except ReportError as exc:
            await self._retry(row, str(exc))
        except (
            ConnectionConfigError
        ) as exc:  # the pipeline's reporter options are wrong: retrying cannot help
            await self.db(self.store.mark_report_failed, row.id, str(exc), None)
            log.error("report %s via %s cannot be sent: %s", row.id, row.reporter, exc)
        except Exception as exc:  # a driver bug must not stop other reports
            log.exception("report %s via %s failed", row.id, row.reporter)
            await self._retry(row, f"{type(exc).__name__}: {exc}")
        else:
            await self.db(self.store.mark_report_sent, row.id)
            self.sent += 1
            log.info("report %s (%s) sent via %s", row.id, row.slot, row.reporter)

    async def _retry(self, row: Any, error: str) -> None:
        tries = (row.tries or 0) + 1
        if tries >= GIVE_UP_AFTER:
            await self.db(self.store.mark_report_failed, row.id, error, None)
            log.error("report %s via %s given up after %d tries: %s", row.id, row.reporter, tries, error)
            return
        when = datetime.now(UTC) + timedelta(seconds=backoff(tries))
        await self.db(self.store.mark_report_failed, row.id, error, when)
        log.warning(
            "report %s via %s failed (try %d), again in %.0fs: %s",
            row.id,
            row.reporter,
            tries,
            backoff(tries),
            error,
        )
