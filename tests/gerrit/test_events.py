"""Gerrit's events, as documented and as in the reference fixtures, read as osci events."""

from __future__ import annotations

import json
from pathlib import Path

from osci.connections.gerrit import events as ev
from osci.connections.gerrit.reporting import message, parse_options
from osci.connections.gerrit.rest import decode
from osci.model import BuildReport, Report

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gerrit"


def stream() -> list[str]:
    return (FIXTURES / "stream-events.jsonl").read_text().splitlines()


def test_every_fixture_event_is_read() -> None:
    events = [ev.parse_line("upstream", line) for line in stream()]
    assert [e.type for e in events] == [
        "patchset-created",
        "comment-added",
        "comment-added",
        "change-merged",
        "change-abandoned",
        "ref-updated",
    ]
    created, recheck, approved, merged, abandoned, updated = events
    assert (created.project, created.branch, created.change, created.patchset) == (
        "openstack/neutron",
        "master",
        "12345",
        "2",
    )
    assert created.ref == "refs/changes/45/12345/2"
    assert created.newrev == "6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"
    assert created.author == "Jane Developer <jane@example.org>"
    assert created.files is None  # the stream does not carry them: the connection asks
    assert created.change_state == {
        "open": True,
        "status": "NEW",
        "wip": False,
        "private": False,
        "current_patchset": True,
        "approvals": [],
    }
    assert recheck.comment == "Patch Set 2:\n\nrecheck"
    # votes are integers; only those the comment changed (with oldValue) when Gerrit says which
    assert recheck.approvals == [
        {"type": "Code-Review", "value": 0, "username": "jane", "email": "jane@example.org"},
        {"type": "Verified", "value": 0, "username": "jane", "email": "jane@example.org"},
    ]
    assert [(a["type"], a["value"], a["old_value"]) for a in approved.approvals] == [
        ("Code-Review", 2, "0"),
        ("Workflow", 1, "0"),
    ]
    assert approved.author == "Core Reviewer <core@example.org>"
    assert merged.change_state["open"] is False and merged.change_state["status"] == "MERGED"
    assert abandoned.payload["closes"] is True and not merged.payload["closes"]
    assert abandoned.comment == "superseded"
    assert (updated.ref, updated.branch, updated.project) == (
        "refs/heads/master",
        "master",
        "openstack/neutron",
    )
    assert updated.oldrev.startswith("0a1b") and updated.newrev.startswith("9e8d")


def test_the_same_event_always_gets_the_same_uuid_and_different_ones_differ() -> None:
    first = [ev.parse_line("upstream", line).uuid for line in stream()]
    again = [ev.parse_line("upstream", line).uuid for line in stream()]
    assert first == again and len(set(first)) == len(first)
    assert ev.parse_line("other", stream()[0]).uuid != first[0]  # per connection


def test_a_queried_patchset_is_the_event_the_stream_would_have_sent() -> None:
    row, stats = ev.query_rows((FIXTURES / "query-format-json.txt").read_text())
    assert stats["rowCount"] == 1 and stats["moreChanges"] is False
    (change,) = row
    caught = ev.patchset_event("upstream", change, change["currentPatchSet"])
    streamed = ev.parse_line("upstream", stream()[0])
    assert caught.uuid == streamed.uuid  # so the store records it once
    assert caught.files == [
        "neutron/services/loadbalancer/drivers/netscaler/ncc_client.py",
        "neutron/tests/unit/services/loadbalancer/test_netscaler_driver.py",
    ]
    assert caught.change_state["current_patchset"] is True
    state = ev.change_state(change, "1")
    assert state["open"] is True and state["current_patchset"] is False


def test_rest_bodies_lose_the_xssi_line_and_the_magic_files() -> None:
    body = decode((FIXTURES / "rest-revision-files.txt").read_text())
    assert ev.rest_files(body) == [
        "neutron/services/loadbalancer/drivers/netscaler/ncc_client.py",
        "neutron/tests/unit/services/loadbalancer/test_netscaler_driver.py",
    ]


def test_broken_and_unknown_lines() -> None:
    broken = ev.parse_line("upstream", '{"type": "patchset-created", "change": ')
    assert broken.type == "malformed" and "not JSON" in broken.payload["malformed"]
    missing = ev.parse_line("upstream", json.dumps({"type": "patchset-created", "change": {}}))
    assert missing.type == "malformed" and "project" in missing.payload["malformed"]
    assert ev.parse_line("upstream", json.dumps({"type": "reviewer-added"})) is None
    meta = {"type": "ref-updated", "refUpdate": {"project": "p", "refName": "refs/changes/45/12345/2"}}
    assert ev.parse_line("upstream", json.dumps(meta)) is None
    wip = json.loads(stream()[0]) | {"type": "wip-state-changed", "changer": {"username": "jane"}}
    assert ev.parse_line("upstream", json.dumps(wip)).type == "wip-state-changed"


def test_the_review_body_matches_the_reference() -> None:
    reference = json.loads((FIXTURES / "rest-set-review-request.json").read_text())
    report = Report(
        slot="success",
        pipeline="check",
        project="openstack/neutron",
        branch="master",
        ref="refs/changes/45/12345/2",
        newrev="6f1a",
        change="12345",
        patchset="2",
        author=None,
        item_uuid="i",
        buildset_uuid="b",
        result="SUCCESS",
        status_url="https://ci.vendor.example/",
        builds=[
            BuildReport(
                "netscaler-tempest", "3f1e", "SUCCESS", True, 2472, "https://ci.vendor.example/build/3f1e"
            ),
            BuildReport(
                "netscaler-unit", "77ab", "SUCCESS", False, 182, "https://ci.vendor.example/build/77ab"
            ),
        ],
    )
    assert message(report) == reference["message"]
    assert parse_options("upstream", {"Verified": 1}) == reference["labels"]
    infra = Report(**{**report.__dict__, "result": "ERROR", "builds": [
        BuildReport("netscaler-tempest", "3f1e", "RETRY_LIMIT", True, 60, "https://x/3f1e", attempts=3),
    ]})  # fmt: skip
    text = message(infra)
    assert "not a test failure" in text.splitlines()[0] and "RETRY_LIMIT (infrastructure error" in text
