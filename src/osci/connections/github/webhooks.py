"""GitHub webhook deliveries: the signature checked on the raw body, then the payload read
into what osci needs. Nothing of the body is parsed before its signature is verified.

A payload becomes an `Intent`: the event's fields that the payload itself gives, and what
must still be asked of the API (a pull request's files, the head of a commented pull
request). Deliveries osci does not act on come back as a reason string; bodies that are not
JSON or lack what their event type must carry are refused with 400.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from osci.connections.base import WebhookRejected
from osci.connections.github.config import split_project

SIGNATURE = "x-hub-signature-256"
EVENT = "x-github-event"
DELIVERY = "x-github-delivery"
ZERO = "0" * 40
PR_ACTIONS = ("opened", "synchronize", "reopened")
MAX_PUSH_COMMITS = 2048  # GitHub lists at most this many commits in a push; beyond, files are unknown


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> None:
    """Raise WebhookRejected(401) unless `header` is the HMAC-SHA256 of exactly `body`."""
    if not header:
        raise WebhookRejected(401, "missing X-Hub-Signature-256")
    if not hmac.compare_digest(signature(secret, body).encode(), header.strip().encode(errors="replace")):
        raise WebhookRejected(401, "bad X-Hub-Signature-256")


@dataclass
class Delivery:
    event: str  # X-GitHub-Event
    id: str  # X-GitHub-Delivery
    payload: dict[str, Any]


def read_delivery(headers: dict[str, str], body: bytes) -> Delivery:
    """The verified body's event name, delivery id and JSON object (400 when malformed)."""
    event = headers.get(EVENT, "").strip()
    delivery = headers.get(DELIVERY, "").strip()
    if not event:
        raise WebhookRejected(400, "missing X-GitHub-Event")
    if not delivery or len(delivery) > 100:
        raise WebhookRejected(400, "missing or invalid X-GitHub-Delivery")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "the body is not a JSON object")
    return Delivery(event, delivery, payload)


@dataclass
class Intent:
    """An event as far as the payload tells it, and what the connection must still look up."""

    type: str  # pull_request, push, issue_comment, check_run
    action: str | None
    project: str
    branch: str | None = None
    ref: str | None = None
    oldrev: str | None = None
    newrev: str | None = None
    change: str | None = None
    patchset: str | None = None
    author: str | None = None
    files: list[str] | None = None
    comment: str | None = None
    pipeline: str | None = None  # a re-requested check run names its pipeline
    pull: int | None = None  # look up this pull request's files
    head_unknown: bool = False  # look up the pull request's head and base too (a comment)
    closes: bool = False  # the pull request was closed: its items leave their queues
    summary: dict[str, Any] = field(default_factory=dict)  # kept with the event


class _Payload:
    """Typed access to a payload's fields; a missing or mistyped one is the sender's error (400)."""

    def __init__(self, event: str, data: dict[str, Any]) -> None:
        self.event = event
        self.data = data

    def get(self, path: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
        value: Any = self.data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None and not required:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise WebhookRejected(400, f"{self.event} payload: '{path}' is missing or not a {_name(kind)}")
        return value

    def sha(self, path: str) -> str:
        value = self.get(path, str)
        if len(value) != 40 or any(c not in "0123456789abcdef" for c in value):
            raise WebhookRejected(400, f"{self.event} payload: '{path}' is not a commit sha")
        return value

    def project(self) -> str:
        name = self.get("repository.full_name", str)
        if split_project(name) is None:
            raise WebhookRejected(400, f"{self.event} payload: 'repository.full_name' is not owner/repo")
        return name


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {str: "string", int: "number", dict: "object", list: "list"}.get(k, k.__name__) for k in kinds
    )


def _summary(p: _Payload, delivery: Delivery, **extra: Any) -> dict[str, Any]:
    summary = {"github_event": delivery.event, "action": p.data.get("action"), "delivery": delivery.id}
    installation = p.data.get("installation")
    if isinstance(installation, dict) and isinstance(installation.get("id"), int):
        summary["installation"] = installation["id"]
    sender = p.data.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("login"), str):
        summary["sender"] = sender["login"]
    summary.update({k: v for k, v in extra.items() if v is not None})
    return summary


def intent(delivery: Delivery) -> Intent | str:
    """What `delivery` asks of osci, or why it asks nothing."""
    handlers = {
        "pull_request": _pull_request,
        "push": _push,
        "issue_comment": _issue_comment,
        "check_run": _check_run,
    }
    if delivery.event == "ping":
        return "ping"
    handler = handlers.get(delivery.event)
    if handler is None:
        return f"ignored: osci does not act on {delivery.event[:40]!r} events"
    return handler(_Payload(delivery.event, delivery.payload), delivery)


def _pull_request(p: _Payload, delivery: Delivery) -> Intent | str:
    action = p.get("action", str)
    number = p.get("pull_request.number", int)
    project = p.project()
    if action not in (*PR_ACTIONS, "closed"):
        return f"ignored: pull_request action {action[:40]!r}"
    head = p.sha("pull_request.head.sha")
    found = Intent(
        type="pull_request",
        action=action,
        project=project,
        branch=p.get("pull_request.base.ref", str),
        ref=f"refs/pull/{number}/head",
        newrev=head,
        change=str(number),
        patchset=head,
        author=p.get("pull_request.user.login", str, required=False),
        summary=_summary(p, delivery, url=p.get("pull_request.html_url", str, required=False)),
    )
    if action == "closed":
        found.closes = True
        found.summary["merged"] = bool(p.data["pull_request"].get("merged"))
        return found
    if action == "synchronize":
        before = p.get("before", str, required=False)
        found.oldrev = before if before and len(before) == 40 else None
    found.pull = number
    return found


def _push(p: _Payload, delivery: Delivery) -> Intent | str:
    ref = p.get("ref", str)
    after = p.sha("after")
    before = p.sha("before")
    project = p.project()
    if p.data.get("deleted") is True or after == ZERO:
        return f"ignored: {ref[:100]} was deleted"
    commits = p.get("commits", list, required=False) or []
    files: list[str] | None = None
    if commits and len(commits) < MAX_PUSH_COMMITS:
        seen: dict[str, None] = {}
        for commit in commits:
            if not isinstance(commit, dict):
                raise WebhookRejected(400, "push payload: 'commits' holds something that is not a commit")
            for key in ("added", "modified", "removed"):
                names = commit.get(key) or []
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise WebhookRejected(400, f"push payload: a commit's '{key}' is not a list of paths")
                seen.update(dict.fromkeys(names))
        files = list(seen)
    pusher = p.get("pusher.name", str, required=False)
    return Intent(
        type="push",
        action=None,
        project=project,
        branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None,
        ref=ref,
        oldrev=None if before == ZERO else before,
        newrev=after,
        author=pusher,
        files=files,  # None when unknown (no commit listed, or too many): every job runs
        summary=_summary(p, delivery, compare=p.get("compare", str, required=False)),
    )


def _issue_comment(p: _Payload, delivery: Delivery) -> Intent | str:
    action = p.get("action", str)
    number = p.get("issue.number", int)
    project = p.project()
    if action != "created":
        return f"ignored: issue_comment action {action[:40]!r}"
    if not isinstance(p.data["issue"].get("pull_request"), dict):
        return "ignored: a comment on an issue, not on a pull request"
    return Intent(
        type="issue_comment",
        action=action,
        project=project,
        ref=f"refs/pull/{number}/head",
        change=str(number),
        author=p.get("comment.user.login", str, required=False),
        comment=p.get("comment.body", str),
        pull=number,
        head_unknown=True,
        summary=_summary(p, delivery, url=p.get("comment.html_url", str, required=False)),
    )


def _check_run(p: _Payload, delivery: Delivery) -> Intent | str:
    action = p.get("action", str)
    name = p.get("check_run.name", str)
    head = p.sha("check_run.head_sha")
    project = p.project()
    if action != "rerequested":
        return f"ignored: check_run action {action[:40]!r}"
    if not name.startswith("osci/"):
        return f"ignored: check run {name[:60]!r} is not osci's"
    found = Intent(
        type="check_run",
        action=action,
        project=project,
        newrev=head,
        pipeline=name[len("osci/") :] or None,
        summary=_summary(p, delivery, check_run=p.get("check_run.id", int, required=False)),
    )
    pulls = p.get("check_run.pull_requests", list, required=False) or []
    pulls = [pr for pr in pulls if isinstance(pr, dict) and isinstance(pr.get("number"), int)]
    same_head = [pr for pr in pulls if isinstance(pr.get("head"), dict) and pr["head"].get("sha") == head]
    pull = (same_head or pulls or [None])[0]
    if pull is not None:
        number = pull["number"]
        found.change, found.patchset, found.pull = str(number), head, number
        found.ref = f"refs/pull/{number}/head"
        base = pull.get("base", {}).get("ref") if isinstance(pull.get("base"), dict) else None
        found.branch = base if isinstance(base, str) else None
        return found
    branch = p.get("check_run.check_suite.head_branch", str, required=False)
    found.branch = branch
    found.ref = f"refs/heads/{branch}" if branch else None
    return found
