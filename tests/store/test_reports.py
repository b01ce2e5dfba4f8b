from datetime import UTC, datetime, timedelta

import pytest

from osci.store import NotFound, Store, StoreError

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_reports_wait_in_the_outbox_until_sent(store: Store) -> None:
    item = store.create_item("check", "org/a")
    buildset = store.create_buildset(item.id, {"jobs": []})
    start = store.queue_report(
        "upstream", "start", {"message": "Starting check jobs."}, item_id=item.id, now=T0
    )
    done = store.queue_report("smtp", "failure", {"to": ["dev@example.org"]}, buildset_id=buildset.id, now=T0)
    assert start.state == "pending" and start.tries == 0
    assert [r.id for r in store.pending_reports(T0)] == [start.id, done.id]

    sent = store.mark_report_sent(start.id, now=T0 + timedelta(seconds=2))
    assert (sent.state, sent.tries, sent.sent_at) == ("sent", 1, T0 + timedelta(seconds=2))
    assert [r.id for r in store.pending_reports(T0)] == [done.id]
    assert store.get_report(done.id).payload == {"to": ["dev@example.org"]}


def test_failed_reports_are_retried_later_or_given_up(store: Store) -> None:
    report = store.queue_report("webhook", "success", {})
    retry_at = T0 + timedelta(minutes=1)
    failed = store.mark_report_failed(report.id, "connection refused", next_try_at=retry_at)
    assert (failed.state, failed.tries, failed.last_error) == ("pending", 1, "connection refused")
    assert store.pending_reports(T0) == []  # not yet due
    assert [r.id for r in store.pending_reports(retry_at)] == [report.id]

    gave_up = store.mark_report_failed(report.id, "HTTP 500" * 5000)
    assert gave_up.state == "failed" and gave_up.tries == 2 and len(gave_up.last_error) <= 8192
    assert store.pending_reports(retry_at + timedelta(days=1)) == []
    with pytest.raises(StoreError, match="not pending"):
        store.mark_report_sent(report.id)


def test_report_input_is_checked(store: Store) -> None:
    with pytest.raises(StoreError, match="reporter is required"):
        store.queue_report("", "start")
    with pytest.raises(StoreError, match="mapping"):
        store.queue_report("smtp", "start", ["x"])  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.queue_report("smtp", "start", item_id=404)
    with pytest.raises(NotFound):
        store.mark_report_sent(404)
