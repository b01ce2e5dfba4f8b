from datetime import UTC, datetime, timedelta

import pytest

from osci.model import FrozenJob
from osci.store import NotFound, Store, StoreError

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_events_are_kept_until_processed(store: Store) -> None:
    first = store.record_event(
        "upstream",
        "patchset-created",
        project="org/project",
        branch="main",
        change=1234,
        patchset=2,
        files=["a.py", "docs/b.rst"],
        payload={"comment": "recheck"},
        received_at=T0,
    )
    second = store.record_event("timer", "timer", payload={"pipeline": "periodic"})
    assert first.id and second.id and first.uuid != second.uuid
    assert [e.id for e in store.unprocessed_events()] == [first.id, second.id]

    done = store.mark_event_processed(first.id, "enqueued in check", now=T0 + timedelta(seconds=1))
    assert done.processed_at == T0 + timedelta(seconds=1)
    assert [e.id for e in store.unprocessed_events()] == [second.id]

    again = store.get_event(first.id)
    assert again.change == "1234" and again.patchset == "2"
    assert again.files == ["a.py", "docs/b.rst"]
    assert again.payload == {"comment": "recheck"}
    assert again.received_at == T0 and again.received_at.tzinfo is not None
    assert again.outcome == "enqueued in check"


def test_recording_the_same_event_uuid_twice_keeps_one(store: Store) -> None:
    one = store.record_event("gh", "pull-request-opened", uuid="delivery-1")
    two = store.record_event("gh", "pull-request-opened", uuid="delivery-1")
    assert one.id == two.id
    assert len(store.unprocessed_events()) == 1


def test_event_input_is_checked(store: Store) -> None:
    with pytest.raises(StoreError, match="event connection is required"):
        store.record_event("", "timer")
    with pytest.raises(StoreError, match="files"):
        store.record_event("git", "ref-updated", files="a.py")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="timezone-aware"):
        store.record_event("git", "ref-updated", received_at=datetime(2026, 1, 1))
    with pytest.raises(NotFound):
        store.mark_event_processed(999, "nothing")


def test_items_are_active_until_they_leave_the_queue(store: Store) -> None:
    event = store.record_event("upstream", "patchset-created")
    a = store.create_item("check", "org/a", event_id=event.id, change="1", patchset="1", branch="main")
    b = store.create_item("gate", "org/b", queue="integrated", ahead_uuid=a.uuid, live=False)
    c = store.create_item("check", "org/c")
    assert [i.uuid for i in store.active_items()] == [a.uuid, b.uuid, c.uuid]
    assert [i.uuid for i in store.active_items("check")] == [a.uuid, c.uuid]

    store.set_item_state(a.uuid, "active")
    store.set_item_state(c.uuid, "superseded", now=T0)
    assert [i.uuid for i in store.active_items()] == [a.uuid, b.uuid]
    done = store.set_item_state(a.uuid, "completed", result="SUCCESS", now=T0)
    assert done.dequeue_time == T0 and done.result == "SUCCESS"
    again = store.get_item(b.uuid)
    assert again.ahead_uuid == a.uuid and again.live is False and again.queue == "integrated"

    with pytest.raises(StoreError, match="invalid item state 'lost'"):
        store.set_item_state(b.uuid, "lost")
    with pytest.raises(NotFound):
        store.set_item_state("nope", "active")


def test_buildsets_keep_the_frozen_job_graph(store: Store) -> None:
    item = store.create_item("check", "org/a")
    jobs = [FrozenJob(name="build"), FrozenJob(name="test", dependencies=["build"], vars={"x": 1})]
    buildset = store.create_buildset(item.id, jobs)
    stored = store.get_buildset(buildset.uuid)
    assert stored.job_graph["dependencies"] == {"build": [], "test": ["build"]}
    assert [job["name"] for job in stored.job_graph["jobs"]] == ["build", "test"]
    assert stored.job_graph["jobs"][1]["vars"] == {"x": 1}

    finished = store.complete_buildset(buildset.uuid, "FAILURE", "test failed", now=T0)
    assert (finished.result, finished.message, finished.completed) == ("FAILURE", "test failed", T0)

    with pytest.raises(StoreError, match="FrozenJob"):
        store.create_buildset(item.id, ["build"])  # type: ignore[list-item]
    with pytest.raises(NotFound):
        store.create_buildset(999, {"jobs": []})
