"""Culprit searches, their evidence and promotions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from osci.store import NotFound, Store


def test_a_search_its_evidence_and_a_promotion(store: Store) -> None:
    commits = [f"{i:040x}" for i in range(5)]
    search = store.create_culprit_search(
        project="demo", pipeline="post", branch="main", job="unit", trigger="post-merge",
        commits=commits, settings={"max-parallel": 2},
    )  # fmt: skip
    assert store.culprit_searches(state="running")[0]["id"] == search
    first = store.culprit_build_started(
        search, rev=commits[4], position=4, purpose="reproduce", round_=1, item_uuid=None
    )
    store.culprit_build_done(first, outcome="fail", result="FAILURE", build_uuid="b1", item_uuid="i1")
    store.finish_culprit_search(
        search, verdict="culprit", reason="confirmed", search_builds=3, total_builds=9,
        culprit={"commit": commits[2], "parent": commits[1], "author": "Bad Guy", "email": "bad@example.org",
                 "subject": "break it"},
    )  # fmt: skip
    found = store.culprit_search(search)
    assert found["verdict"] == "culprit" and found["state"] == "completed"
    assert found["culprit"] == {
        "commit": commits[2], "parent": commits[1], "author": "Bad Guy", "email": "bad@example.org",
        "subject": "break it",
    }  # fmt: skip
    assert found["range"] == commits and found["commits"] == 4
    (evidence,) = found["evidence"]
    assert (evidence["commit"], evidence["outcome"], evidence["build"], evidence["item"]) == (
        commits[4], "fail", "b1", "i1",
    )  # fmt: skip
    assert store.culprit_searches(verdict="flaky") == []
    assert store.culprit_searches(project="demo", job="unit")[0]["verdict"] == "culprit"
    with pytest.raises(NotFound):
        store.culprit_search("nope")

    promotion = store.create_promotion(
        pipeline="promote", project="demo", from_branch="staging", to_branch="main",
        base_rev=commits[0], tip_rev=commits[4], commits=commits[1:],
    )  # fmt: skip
    store.update_promotion(promotion, culprit_search=search, phase="bisecting")
    store.update_promotion(promotion, state="completed", result="partial", promoted_rev=commits[1])
    (row,) = store.promotions(project="demo")
    assert row["culprit_search"] == search and row["result"] == "partial" and row["completed"]
    assert row["promoted"] == commits[1] and row["commits"] == commits[1:]


def test_searches_left_running_end_inconclusive(store: Store) -> None:
    search = store.create_culprit_search(
        project="demo", pipeline="post", branch="main", job="unit", trigger="periodic",
        commits=["a" * 40, "b" * 40], settings={},
    )  # fmt: skip
    store.create_promotion(
        pipeline="promote", project="demo", from_branch="staging", to_branch="main",
        base_rev=None, tip_rev=None, commits=[],
    )  # fmt: skip
    assert store.interrupt_culprit_searches() == 1
    assert store.culprit_search(search)["verdict"] == "inconclusive"
    assert store.promotions()[0]["result"] == "error"


def test_last_passing_rev(store: Store) -> None:
    assert store.last_passing_rev(project="demo", pipeline="post", branch="main", job="unit") is None
