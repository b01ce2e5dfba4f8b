"""Webhook deliveries: signatures checked before anything is read, each published payload
read into the right event, API look-ups for files and heads, bad input refused with 4xx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from osci.connections.base import WebhookRejected
from osci.connections.github import GitHubConnection
from osci.connections.github.connection import event_uuid
from osci.connections.github.webhooks import signature, verify
from osci.model import Event

from . import payloads
from .apidouble import GitHubDouble, PullRequest
from .conftest import REPO, SECRET

HEAD = "a" * 40


def deliver(
    conn: GitHubConnection, event: str, payload: dict[str, Any], **kwargs: Any
) -> tuple[str, list[Event]]:
    headers, body = payloads.delivery(event, payload, SECRET, **kwargs)
    return send(conn, headers, body)


def send(
    conn: GitHubConnection, headers: dict[str, str], body: bytes, events: list[Event] | None = None
) -> tuple[str, list[Event]]:
    events = [] if events is None else events

    async def emit(event: Event) -> None:
        events.append(event)

    async def run() -> str:
        await conn.start(emit)
        try:
            return await conn.webhook(headers, body)
        finally:
            await conn.stop()

    return asyncio.run(run()), events


def rejected(
    conn: GitHubConnection, headers: dict[str, str], body: bytes, events: list[Event] | None = None
) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as info:
        send(conn, headers, body, events)
    return info.value


# -- signatures


def test_verify_accepts_only_the_exact_body_signed_with_the_secret() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    good = signature(SECRET.encode(), body)
    verify(SECRET.encode(), body, good)
    for header in (None, "", "sha256=" + "0" * 64, good.replace("sha256=", "sha1="), good[:-1]):
        with pytest.raises(WebhookRejected) as info:
            verify(SECRET.encode(), body, header)
        assert info.value.status == 401
    with pytest.raises(WebhookRejected):
        verify(SECRET.encode(), body + b" ", good)
    with pytest.raises(WebhookRejected):
        verify(b"another secret", body, good)


def test_a_wrong_or_missing_signature_is_401_and_nothing_is_read_or_emitted(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    headers, body = payloads.delivery("pull_request", payloads.load("pull_request.opened"), SECRET)
    wrong = dict(headers, **{"x-hub-signature-256": payloads.sign("guess", body)})
    missing = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    for bad in (wrong, missing):
        events: list[Event] = []
        assert rejected(conn, bad, body, events).status == 401
        assert events == []
    # Not JSON at all, yet badly signed: still 401, because the body is never parsed first.
    assert rejected(conn, dict(wrong), b"not json").status == 401
    assert double.requests == []  # no API call was made for a refused delivery


def test_malformed_bodies_and_shapes_are_400(make_connection: Callable[..., GitHubConnection]) -> None:
    conn = make_connection()

    def signed(body: bytes, event: str = "pull_request", **extra: str) -> dict[str, str]:
        return {
            "x-github-event": event,
            "x-github-delivery": "d-1",
            "x-hub-signature-256": payloads.sign(SECRET, body),
            **extra,
        }

    for body in (b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
        assert rejected(conn, signed(body), body).status == 400
    opened = payloads.load("pull_request.opened")
    broken = json.loads(json.dumps(opened))
    del broken["pull_request"]["head"]["sha"]
    body = json.dumps(broken).encode()
    error = rejected(conn, signed(body), body)
    assert error.status == 400 and "pull_request.head.sha" in error.message
    not_a_repo = json.loads(json.dumps(opened))
    not_a_repo["repository"]["full_name"] = "../../etc"
    body = json.dumps(not_a_repo).encode()
    assert rejected(conn, signed(body), body).status == 400
    body = json.dumps(opened).encode()
    no_event = signed(body)
    del no_event["x-github-event"]
    assert rejected(conn, no_event, body).status == 400
    no_delivery = signed(body)
    del no_delivery["x-github-delivery"]
    assert rejected(conn, no_delivery, body).status == 400


def test_ping_and_unhandled_events_are_accepted_without_an_event(
    make_connection: Callable[..., GitHubConnection],
) -> None:
    conn = make_connection()
    detail, events = deliver(conn, "ping", payloads.load("ping"))
    assert detail == "ping" and events == []
    detail, events = deliver(conn, "star", {"action": "created"})
    assert "ignored" in detail and events == []
    detail, events = deliver(conn, "pull_request", payloads.load("pull_request.labeled"))
    assert "ignored" in detail and events == []
    detail, events = deliver(conn, "issue_comment", payloads.load("issue_comment.created"))
    assert "not on a pull request" in detail and events == []
    edited = payloads.on_pull_request(payloads.load("issue_comment.edited"))
    detail, events = deliver(conn, "issue_comment", edited)
    assert "ignored" in detail and events == []


# -- each payload read


def test_pull_request_opened_is_a_change_with_the_files_from_the_api(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    files = [{"sha": "b" * 40, "filename": f"src/file{i}.py", "status": "modified"} for i in range(230)]
    files.append({"filename": "docs/new.md", "previous_filename": "docs/old.md", "status": "renamed"})
    payload = payloads.for_repo(payloads.load("pull_request.opened"), REPO)
    double.add_pull(REPO, PullRequest(number=payload["number"], head_sha=HEAD, files=files))
    conn = make_connection()
    detail, [event] = deliver(conn, "pull_request", payloads.with_head(payload, HEAD), delivery_id="d-42")
    assert detail == f"pull_request opened for {REPO}#2"
    assert event.type == "pull_request" and event.connection == "gh"
    assert event.project == REPO
    assert event.change == "2" and event.patchset == HEAD and event.newrev == HEAD
    assert event.ref == "refs/pull/2/head"
    assert event.branch == "master"  # the example's base branch
    assert event.author == "Codertocat"
    assert event.payload["action"] == "opened" and event.payload["delivery"] == "d-42"
    assert event.payload["installation"] == 1
    assert event.uuid == event_uuid("gh", "d-42")
    assert len(event.files) == 232
    assert event.files[:2] == ["src/file0.py", "src/file1.py"]
    assert event.files[-2:] == ["docs/old.md", "docs/new.md"]  # a rename touches both names
    pages = double.calls("GET", r"/pulls/2/files$")
    assert [c.query.get("page") for c in pages] == [None, "2", "3"]


def test_synchronize_and_reopened_are_changes_too(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.add_pull(REPO, PullRequest(number=2, head_sha=HEAD, files=[{"filename": "a.txt"}]))
    conn = make_connection()
    for name in ("pull_request.synchronize", "pull_request.reopened"):
        payload = payloads.with_head(payloads.for_repo(payloads.load(name), REPO), HEAD)
        _, [event] = deliver(conn, "pull_request", payload)
        assert event.type == "pull_request" and event.payload["action"] == name.split(".")[1]
        assert event.newrev == HEAD and event.files == ["a.txt"]


def test_files_unknown_when_the_api_fails(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.fail("GET", r"/pulls/2/files$", times=10)
    payload = payloads.with_head(payloads.for_repo(payloads.load("pull_request.opened"), REPO), HEAD)
    _, [event] = deliver(make_connection(), "pull_request", payload)
    assert event.files is None  # unknown: every job runs rather than none


def test_closed_pull_request_closes_the_change(make_connection: Callable[..., GitHubConnection]) -> None:
    payload = payloads.for_repo(payloads.load("pull_request.closed"), REPO)
    _, [event] = deliver(make_connection(), "pull_request", payload)
    assert event.type == "pull_request" and event.payload["action"] == "closed"
    assert event.payload["closes"] is True and event.change == "2"
    assert event.files is None


def test_push_is_a_branch_update_with_the_commits_files(
    make_connection: Callable[..., GitHubConnection],
) -> None:
    payload = payloads.for_repo(payloads.load("push"), REPO)
    _, [event] = deliver(make_connection(), "push", payload)
    assert event.type == "push"
    assert event.branch == "master" and event.ref == "refs/heads/master"
    assert event.oldrev is None  # a new branch: before is all zeros
    assert event.newrev == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert event.files == ["README.md"]
    assert event.author == "Codertocat"
    more = json.loads(json.dumps(payload))
    more["before"] = "1" * 40
    more["commits"].append({"id": "2" * 40, "added": [], "modified": ["setup.py"], "removed": ["README.md"]})
    _, [event] = deliver(make_connection(), "push", more)
    assert event.oldrev == "1" * 40 and event.files == ["README.md", "setup.py"]


def test_push_of_a_tag_has_no_branch_and_a_deleted_ref_is_ignored(
    make_connection: Callable[..., GitHubConnection],
) -> None:
    tag = payloads.for_repo(payloads.load("push.tag"), REPO)
    _, [event] = deliver(make_connection(), "push", tag)
    assert event.ref == "refs/tags/simple-tag" and event.branch is None
    assert event.newrev == "6113728f27ae82c7b1a177c8d03f9e96e0adf246" and event.files is None
    deleted = payloads.for_repo(payloads.load("push.tag-deleted"), REPO)
    detail, events = deliver(make_connection(), "push", deleted)
    assert "deleted" in detail and events == []


def test_comment_on_a_pull_request_carries_its_text_and_the_current_head(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    payload = payloads.on_pull_request(
        payloads.for_repo(payloads.load("issue_comment.created"), REPO), "recheck"
    )
    double.add_pull(REPO, PullRequest(number=1, head_sha=HEAD, base_ref="main", files=[{"filename": "x.c"}]))
    _, [event] = deliver(make_connection(), "issue_comment", payload)
    assert event.type == "issue_comment" and event.comment == "recheck"
    assert event.change == "1" and event.newrev == HEAD and event.patchset == HEAD
    assert event.ref == "refs/pull/1/head" and event.branch == "main"
    assert event.files == ["x.c"] and event.author == "Codertocat"
    assert double.calls("GET", r"/pulls/1$")


def test_comment_on_a_closed_pull_request_is_ignored_and_an_unreadable_one_is_503(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    payload = payloads.on_pull_request(
        payloads.for_repo(payloads.load("issue_comment.created"), REPO), "recheck"
    )
    double.add_pull(REPO, PullRequest(number=1, head_sha=HEAD, state="closed"))
    detail, events = deliver(make_connection(), "issue_comment", payload)
    assert "not open" in detail and events == []
    double.fail("GET", r"/pulls/1$", times=1)
    headers, body = payloads.delivery("issue_comment", payload, SECRET)
    error = rejected(make_connection(), headers, body)
    assert error.status == 503 and "redeliver" in error.message


def test_check_run_rerequested_runs_that_head_again(make_connection: Callable[..., GitHubConnection]) -> None:
    payload = payloads.for_repo(payloads.load("check_run.rerequested"), REPO)
    detail, events = deliver(make_connection(), "check_run", payload)
    assert "not osci's" in detail and events == []  # the example's run is another app's
    ours = json.loads(json.dumps(payload))
    ours["check_run"]["name"] = "osci/check"
    _, [event] = deliver(make_connection(), "check_run", ours)
    assert event.type == "check_run" and event.payload["action"] == "rerequested"
    assert event.newrev == "d6fde92930d4715a2b49857d24b940956b26d2d3"
    assert event.branch == "master" and event.ref == "refs/heads/master"
    assert event.pipeline == "check" and event.change is None


def test_a_redelivery_makes_the_same_event(make_connection: Callable[..., GitHubConnection]) -> None:
    payload = payloads.for_repo(payloads.load("push"), REPO)
    _, [first] = deliver(
        make_connection(), "push", payload, delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"
    )
    _, [again] = deliver(
        make_connection(), "push", payload, delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"
    )
    _, [other] = deliver(make_connection(), "push", payload, delivery_id="another")
    assert first.uuid == again.uuid != other.uuid
