from datetime import UTC, datetime, timedelta

import pytest

from osci.store import NotFound, Store, StoreError

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_nodes_and_their_events(store: Store) -> None:
    node = store.upsert_node("lab-1", label="gpu", provider="static", capabilities={"gpu": "a100"}, now=T0)
    assert (node.label, node.provider, node.capabilities, node.state) == (
        "gpu",
        "static",
        {"gpu": "a100"},
        "ready",
    )
    updated = store.upsert_node("lab-1", state="offline", now=T0 + timedelta(hours=1))
    assert updated.id == node.id and updated.label == "gpu" and updated.state == "offline"
    store.record_node_event("lab-1", "offline", "no heartbeat for 60 s", now=T0 + timedelta(hours=1))
    store.record_node_event("lab-1", "online", now=T0 + timedelta(hours=2))
    assert [e.type for e in store.node_events("lab-1")] == ["online", "offline"]
    assert [n.name for n in store.list_nodes()] == ["lab-1"]
    with pytest.raises(NotFound):
        store.record_node_event("lab-2", "online")


def test_config_loads_keep_their_errors(store: Store) -> None:
    assert store.last_config_load() is None
    errors = [{"file": "osci.yaml", "line": 3, "column": 5, "message": "unknown key 'jbos'"}]
    store.record_config_load(False, errors, source="/etc/osci/osci.yaml", now=T0)
    store.record_config_load(True, now=T0 + timedelta(minutes=1))
    last = store.last_config_load()
    assert last.ok and last.errors == []
    with pytest.raises(StoreError, match="configuration errors"):
        store.record_config_load(False, ["bad"])  # type: ignore[list-item]


def test_autohold_requests_are_kept_until_used(store) -> None:
    first = store.add_autohold("demo", "unit", count=2, reason="flaky disk")
    store.add_autohold("demo", "lint")
    assert [(h.job, h.count, h.reason) for h in store.active_autoholds()] == [
        ("unit", 2, "flaky disk"),
        ("lint", 1, ""),
    ]
    store.autohold_held(first.id, "b1")
    store.autohold_held(first.id, "b2")
    assert [h.job for h in store.active_autoholds()] == ["lint"]
