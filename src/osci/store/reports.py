"""The reporters' outbox: reports are written first, sent later, retried until sent or given up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from osci.store.base import StoreBase
from osci.store.errors import NotFound, StoreError
from osci.store.models import Buildset, Item, Report
from osci.store.serialize import json_ready
from osci.store.types import MAX_MESSAGE, clip
from osci.store.validate import moment, required


class ReportQueries(StoreBase):
    def queue_report(
        self,
        reporter: str,
        slot: str,
        payload: dict[str, Any] | None = None,
        *,
        item_id: int | None = None,
        buildset_id: int | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Put a report in the outbox (state pending), to be sent by the server."""
        required("reporter", reporter)
        required("report slot", slot)
        if payload is not None and not isinstance(payload, dict):
            raise StoreError(f"a report payload must be a mapping, got {type(payload).__name__}")
        report = Report(
            reporter=reporter,
            slot=slot,
            payload=json_ready(payload or {}),
            item_id=item_id,
            buildset_id=buildset_id,
            state="pending",
            tries=0,
            created=moment("now", now),
        )
        with self._write() as session:
            if item_id is not None and session.get(Item, item_id) is None:
                raise NotFound(f"no item {item_id}")
            if buildset_id is not None and session.get(Buildset, buildset_id) is None:
                raise NotFound(f"no buildset {buildset_id}")
            session.add(report)
        return report

    def pending_reports(self, now: datetime | None = None, limit: int = 100) -> list[Report]:
        """Reports due to be sent at `now`, oldest first."""
        moment_ = moment("now", now)
        query = (
            select(Report)
            .where(
                Report.state == "pending", or_(Report.next_try_at.is_(None), Report.next_try_at <= moment_)
            )
            .order_by(Report.id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def get_report(self, report_id: int) -> Report:
        with self._read() as session:
            report = session.get(Report, report_id)
            if report is None:
                raise NotFound(f"no report {report_id}")
            return report

    def mark_report_sent(self, report_id: int, now: datetime | None = None) -> Report:
        with self._write() as session:
            report = self._pending(session, report_id)
            report.state = "sent"
            report.tries += 1
            report.sent_at = moment("now", now)
            report.next_try_at = None
            return report

    def mark_report_failed(self, report_id: int, error: str, next_try_at: datetime | None = None) -> Report:
        """A try failed: retry at `next_try_at`, or give up (state failed) when it is None."""
        with self._write() as session:
            report = self._pending(session, report_id)
            report.tries += 1
            report.last_error = clip(error, MAX_MESSAGE)
            if next_try_at is None:
                report.state = "failed"
                report.next_try_at = None
            else:
                report.next_try_at = moment("next_try_at", next_try_at)
            return report

    @staticmethod
    def _pending(session: Any, report_id: int) -> Report:
        report = session.get(Report, report_id)
        if report is None:
            raise NotFound(f"no report {report_id}")
        if report.state != "pending":
            raise StoreError(f"report {report_id} is {report.state}, not pending")
        return report
