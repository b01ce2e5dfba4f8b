"""GitLab webhooks: the token check, each documented payload normalised, malformed bodies
refused with a 400, and redeliveries recorded once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from osci.connections.base import WebhookRejected
from osci.connections.gitlab import hooks
from osci.model import Event
from osci.server.records import StoreRecords
from osci.store import Store

from . import payloads
from .payloads import TOKEN

SHA = "1" * 40
OLD = "2" * 40


def parse(event: str, data: dict | bytes, **headers: str) -> hooks.Hook:
    raw = data if isinstance(data, bytes) else payloads.body(data)
    return hooks.parse("gl", payloads.headers(event, **headers), raw)


# -- the token


def test_the_right_token_passes() -> None:
    hooks.verify_token(TOKEN, payloads.headers("Push Hook"))


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN.upper()])
def test_a_missing_or_wrong_token_is_a_401(token: str | None) -> None:
    with pytest.raises(WebhookRejected) as info:
        hooks.verify_token(TOKEN, payloads.headers("Push Hook", token=token))
    assert info.value.status == 401
    assert TOKEN not in info.value.message


# -- the documented payloads, as they are


def test_documented_merge_request_payload() -> None:
    hook = parse("Merge Request Hook", payloads.load("merge_request.json"))
    event = hook.event
    assert event is not None and hook.needs_files
    assert (event.type, event.connection, event.project) == (
        "merge-request-opened",
        "gl",
        "gitlabhq/gitlab-test",
    )
    assert (event.change, event.patchset, event.newrev) == (
        "1",
        *["da1560886d4f094c3e6c9ef40349f7d38b5d27d7"] * 2,
    )
    assert (event.branch, event.ref, event.oldrev) == ("master", "refs/merge-requests/1/head", None)
    assert event.author == "root"
    assert event.payload["gitlab"]["title"] == "MS-Viewport"
    assert event.files is None  # read from the API by the connection


def test_documented_push_payload() -> None:
    hook = parse("Push Hook", payloads.load("push.json"))
    event = hook.event
    assert event is not None and not hook.needs_files
    assert (event.type, event.project, event.branch, event.ref) == (
        "ref-updated",
        "mike/diaspora",
        "master",
        "refs/heads/master",
    )
    assert event.oldrev == "95790bf891e76fee5e1747ab589903a6a1f80f22"
    assert event.newrev == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert event.author == "jsmith"
    assert event.files is None  # 4 commits pushed, 2 listed: the files are unknown


def test_documented_note_payload() -> None:
    hook = parse("Note Hook", payloads.load("note_merge_request.json"))
    event = hook.event
    assert event is not None and hook.needs_files
    assert (event.type, event.project, event.change) == ("comment-added", "gitlab-org/gitlab-test", "1")
    assert event.comment == "This MR needs work."
    assert (event.branch, event.newrev) == ("markdown", "562e173be03b8ff2efb05345d12df18815438a4b")
    assert event.ref == "refs/merge-requests/1/head"
    assert event.author == "root"


# -- adapted payloads


def test_push_files_are_the_commits_added_modified_and_removed() -> None:
    data = payloads.push("acme/widget", OLD, SHA)
    data["total_commits_count"] = 2
    data["commits"][0]["removed"] = ["gone.txt"]
    event = parse("Push Hook", data).event
    assert event is not None
    assert event.files == ["CHANGELOG", "app/controller/application.rb", "gone.txt"]


def test_push_of_a_new_branch_without_commits_has_unknown_files() -> None:
    data = payloads.push("acme/widget", "0" * 40, SHA, branch="feature")
    data.update(commits=[], total_commits_count=0)
    event = parse("Push Hook", data).event
    assert event is not None and event.files is None and event.branch == "feature"


def test_a_deleted_branch_has_no_files() -> None:
    event = parse("Push Hook", payloads.push("acme/widget", SHA, "0" * 40)).event
    assert event is not None and event.files == [] and event.newrev == "0" * 40


@pytest.mark.parametrize(
    ("action", "oldrev", "expected"),
    [
        ("open", None, "merge-request-opened"),
        ("reopen", None, "merge-request-reopened"),
        ("update", OLD, "merge-request-updated"),
        ("close", None, "merge-request-closed"),
        ("merge", None, "merge-request-merged"),
    ],
)
def test_merge_request_actions(action: str, oldrev: str | None, expected: str) -> None:
    data = payloads.merge_request("acme/widget", 7, SHA, action=action, oldrev=oldrev)
    hook = parse("Merge Request Hook", data)
    assert hook.event is not None
    assert hook.event.type == expected
    assert hook.event.change == "7" and hook.event.branch == "main"
    assert hook.event.oldrev == oldrev
    closes = expected in ("merge-request-closed", "merge-request-merged")
    assert hook.needs_files == (not closes)
    assert hook.event.payload["closes"] is closes  # the scheduler dequeues a closed change


@pytest.mark.parametrize("action", ["update", "approved", "unapproved", "approval", "unapproval", None])
def test_merge_request_events_without_new_code_are_ignored(action: str | None) -> None:
    data = payloads.merge_request("acme/widget", 7, SHA, action="open")
    data["object_attributes"]["action"] = action
    hook = parse("Merge Request Hook", data)
    assert hook.event is None and hook.detail.startswith("ignored")


def test_closing_without_a_last_commit_still_names_the_change() -> None:
    data = payloads.merge_request("acme/widget", 7, SHA, action="close")
    del data["object_attributes"]["last_commit"]
    event = parse("Merge Request Hook", data).event
    assert event is not None and event.type == "merge-request-closed" and event.newrev is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"noteable_type": "Issue"}, "other than a merge request"),
        ({"noteable_type": "Commit"}, "other than a merge request"),
        ({"action": "update"}, "edited"),
        ({"system": True}, "system"),
        ({"note": "Build failed.\n<!-- osci-delivery: osci-report-3/abc -->"}, "osci's own"),
    ],
)
def test_notes_that_never_trigger(change: dict, why: str) -> None:
    data = payloads.note("acme/widget", 3, SHA, "recheck")
    data["object_attributes"].update(change)
    hook = parse("Note Hook", data)
    assert hook.event is None and why in hook.detail


def test_a_note_on_a_merged_merge_request_is_ignored() -> None:
    hook = parse("Note Hook", payloads.note("acme/widget", 3, SHA, "recheck", state="merged"))
    assert hook.event is None


def test_other_gitlab_events_are_accepted_and_ignored() -> None:
    hook = parse("Pipeline Hook", b"{not even json")
    assert hook.event is None and "Pipeline Hook" in hook.detail


# -- malformed deliveries: always a 400, never an exception of another kind


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b'"text"', b"null", b"\xff\xfe", b'{"object_kind": 3}', b"{}"]
)
@pytest.mark.parametrize("event", ["Merge Request Hook", "Push Hook", "Note Hook"])
def test_malformed_bodies_are_400(event: str, raw: bytes) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(event, raw)
    assert info.value.status == 400


def test_a_missing_event_header_is_400() -> None:
    headers = payloads.headers("x")
    del headers["x-gitlab-event"]
    with pytest.raises(WebhookRejected) as info:
        hooks.parse("gl", headers, b"{}")
    assert info.value.status == 400


def _mutations(data: object, path: tuple = ()):
    """Every payload with one field removed or replaced by a value of the wrong type."""
    if isinstance(data, dict):
        for key, value in data.items():
            for replacement in (None, 7, "x", [], {}, True, "../..", -1):
                yield (*path, key), replacement
            yield from _mutations(value, (*path, key))


def _apply(data: dict, path: tuple, value: object) -> dict:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("event", "fixture"),
    [
        ("Merge Request Hook", "merge_request.json"),
        ("Push Hook", "push.json"),
        ("Note Hook", "note_merge_request.json"),
    ],
)
def test_any_wrongly_typed_field_is_a_400_or_ignored_never_a_crash(event: str, fixture: str) -> None:
    data = payloads.load(fixture)
    if event == "Note Hook":
        data["object_attributes"]["note"] = "recheck"
    tried = 0
    for path, value in _mutations(data):
        try:
            hook = parse(event, _apply(data, path, value))
        except WebhookRejected as exc:
            assert exc.status == 400, (path, value)
        else:
            if hook.event is not None:
                assert isinstance(hook.event.project, str) and ".." not in hook.event.project.split("/")
        tried += 1
    assert tried > 100


# -- redeliveries


def test_a_redelivery_has_the_same_event_uuid() -> None:
    data = payloads.merge_request("acme/widget", 7, SHA)
    first = parse("Merge Request Hook", data, idempotency_key="f5e5f430-f57b-4e6e-9fac-d9128cd7232f")
    again = parse("Merge Request Hook", data, idempotency_key="f5e5f430-f57b-4e6e-9fac-d9128cd7232f")
    other = parse("Merge Request Hook", data, idempotency_key="9c0e0f3a-0000-4e6e-9fac-d9128cd7232f")
    old_gitlab = parse("Merge Request Hook", data, x_gitlab_event_uuid="13792a34-cac6-4fda-95a8-c58e00a3954e")
    no_header = parse("Merge Request Hook", data)
    no_header_again = parse("Merge Request Hook", data)
    changed = parse("Merge Request Hook", payloads.merge_request("acme/widget", 8, SHA))
    uuids = [h.event.uuid for h in (first, again, other, old_gitlab, no_header, no_header_again, changed)]
    assert uuids[0] == uuids[1]
    assert uuids[4] == uuids[5]
    assert len({uuids[0], uuids[2], uuids[3], uuids[4], uuids[6]}) == 5
    assert all(len(u) == 32 for u in uuids)


def test_the_store_records_a_redelivered_event_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'osci.db'}")
    store.migrate()

    async def db(func, *args, **kwargs):
        return func(*args, **kwargs)

    records = StoreRecords(store, db)
    data = payloads.note("acme/widget", 3, SHA, "recheck")

    def event() -> Event:
        hook = parse("Note Hook", data, idempotency_key="f5e5f430-f57b-4e6e-9fac-d9128cd7232f")
        assert hook.event is not None
        return hook.event

    async def record_twice() -> list[bool]:
        return [await records.record_event(event()), await records.record_event(event())]

    try:
        assert asyncio.run(record_twice()) == [True, False]
    finally:
        store.close()


# -- the change's state, for pipeline require / reject


def test_merge_request_events_say_whether_the_change_is_open() -> None:
    from osci.scheduler.requirements import unmet

    require = {"gl": {"open": True, "current-patchset": True, "status": "opened"}}
    opened = parse("Merge Request Hook", payloads.merge_request("acme/widget", 7, SHA)).event
    recheck = parse("Note Hook", payloads.note("acme/widget", 7, SHA, "recheck")).event
    merged = parse("Merge Request Hook", payloads.merge_request("acme/widget", 7, SHA, action="merge")).event
    assert opened is not None and recheck is not None and merged is not None
    assert opened.change_state == {
        "open": True,
        "status": "opened",
        "current_patchset": True,
        "approvals": [],
    }
    assert unmet(require, {}, opened) == [] and unmet(require, {}, recheck) == []
    assert merged.change_state is not None and merged.change_state["status"] == "merged"
    assert unmet(require, {}, merged) == ["require open: True not met", "require status: 'opened' not met"]
    assert unmet({}, {"gl": {"status": ["locked"]}}, opened) == []
    pushed = parse("Push Hook", payloads.push("acme/widget", OLD, SHA)).event
    assert pushed is not None and pushed.change_state is None and unmet(require, {}, pushed) == []
