"""GitLab webhook deliveries: the token check and each payload turned into an osci Event.

Pure functions: nothing here talks to GitLab or the store. A merge request's changed files
are not in its payload; the connection reads them from the API (`Hook.needs_files`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from osci.connections.base import WebhookRejected
from osci.connections.gitlab.settings import (
    COMMENT_ADDED,
    MR_CLOSED,
    MR_MERGED,
    MR_OPENED,
    MR_REOPENED,
    MR_UPDATED,
    REF_UPDATED,
)
from osci.model import Event

HEADS = "refs/heads/"
MARKER_PREFIX = "<!-- osci-delivery:"  # in every note osci posts; such notes never trigger anything
MERGE_REQUEST_HOOK = "Merge Request Hook"
PUSH_HOOK = "Push Hook"
NOTE_HOOK = "Note Hook"
MR_ACTIONS = {
    "open": MR_OPENED,
    "reopen": MR_REOPENED,
    "update": MR_UPDATED,
    "close": MR_CLOSED,
    "merge": MR_MERGED,
}
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


class Malformed(ValueError):
    """The payload lacks something this event needs; the message says what."""


@dataclass
class Hook:
    """What one delivery means: an event to emit, or None with the reason in `detail`."""

    event: Event | None
    detail: str
    needs_files: bool = False  # a merge request: its files come from the API


def verify_token(expected: str, headers: dict[str, str]) -> None:
    """Refuse a delivery without the connection's secret token (constant-time comparison)."""
    given = headers.get("x-gitlab-token")
    if not given:
        raise WebhookRejected(401, "missing X-Gitlab-Token")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected(401, "wrong X-Gitlab-Token")


def delivery_uuid(connection: str, headers: dict[str, str], body: bytes) -> str:
    """The event uuid of a delivery, the same on every redelivery of it: GitLab's delivery id
    (`Idempotency-Key`, which stays the same across retries, or `X-Gitlab-Event-UUID` on older
    GitLab) together with a hash of the exact body, which a retry repeats byte for byte."""
    delivery = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid") or ""
    key = "\0".join(
        ("gitlab", connection, headers.get("x-gitlab-event", ""), delivery, hashlib.sha256(body).hexdigest())
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def parse(connection: str, headers: dict[str, str], body: bytes) -> Hook:
    """Turn a verified delivery into a Hook; WebhookRejected(400) when it is malformed."""
    kind = headers.get("x-gitlab-event", "").strip()
    if not kind:
        raise WebhookRejected(400, "missing X-Gitlab-Event header")
    handler = {MERGE_REQUEST_HOOK: merge_request, PUSH_HOOK: push, NOTE_HOOK: note}.get(kind)
    if handler is None:
        return Hook(None, f"ignored: {kind[:60]} events are not used")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body is not a JSON object")
    try:
        hook = handler(connection, data)
    except Malformed as exc:
        raise WebhookRejected(400, f"malformed {kind}: {exc}") from None
    if hook.event is not None:
        hook.event.uuid = delivery_uuid(connection, headers, body)
    return hook


# -- reading fields


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"'{key}' must be an object")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise Malformed(f"'{key}' must be a non-empty string")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _sha(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise Malformed(f"'{key}' must be a commit id")
    return value


def _iid(data: dict[str, Any]) -> str:
    value = data.get("iid")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Malformed("'iid' must be a positive number")
    return str(value)


def _project(data: dict[str, Any]) -> str:
    path = _str(_obj(data, "project"), "path_with_namespace")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or len(path) > 255:
        raise Malformed(f"'project.path_with_namespace' is not a project path: {path[:80]!r}")
    return path


def _username(data: dict[str, Any]) -> str | None:
    user = data.get("user")
    return _opt_str(user, "username") if isinstance(user, dict) else None


def _change_state(mr: dict[str, Any], kind: str) -> dict[str, Any]:
    """The merge request as pipeline `require` / `reject` see it: `open`, `status` (GitLab's
    state: opened, closed, merged, locked) and `current_patchset` (a hook names the head
    commit of its time). GitLab's approvals are not votes with values: none are given."""
    state = {MR_CLOSED: "closed", MR_MERGED: "merged"}.get(kind) or _opt_str(mr, "state") or "opened"
    return {"open": state == "opened", "status": state, "current_patchset": True, "approvals": []}


def _mr_fields(
    connection: str, project: str, mr: dict[str, Any], newrev: str | None, kind: str
) -> dict[str, Any]:
    iid = _iid(mr)
    return {
        "connection": connection,
        "project": project,
        "branch": _str(mr, "target_branch"),
        "ref": f"refs/merge-requests/{iid}/head",
        "newrev": newrev,
        "change": iid,
        "patchset": newrev,
        "change_state": _change_state(mr, kind),
    }


def _summary(kind: str, action: Any, mr: dict[str, Any], closes: bool = False) -> dict[str, Any]:
    """The little of the payload kept with the event record (the whole body can be large), and
    `closes`: the scheduler dequeues the items of a merge request that was closed or merged."""
    return {
        "closes": closes,
        "gitlab": {
            "event": kind,
            "action": action if isinstance(action, str) else None,
            "title": _opt_str(mr, "title"),
            "url": _opt_str(mr, "url"),
            "source_branch": _opt_str(mr, "source_branch"),
        },
    }


# -- the three events


def merge_request(connection: str, data: dict[str, Any]) -> Hook:
    attrs = _obj(data, "object_attributes")
    action = attrs.get("action")
    kind = MR_ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None:
        return Hook(None, f"ignored: merge request action {str(action)[:40]!r}")
    oldrev = attrs.get("oldrev")
    if kind == MR_UPDATED and not oldrev:
        return Hook(None, "ignored: a merge request update without new commits")
    project = _project(data)
    last = attrs.get("last_commit")
    if kind in (MR_CLOSED, MR_MERGED):
        newrev = _sha(last, "id") if isinstance(last, dict) and last.get("id") else None
    else:
        newrev = _sha(_obj(attrs, "last_commit"), "id")
    fields = _mr_fields(connection, project, attrs, newrev, kind)
    event = Event(
        type=kind,
        oldrev=_sha(attrs, "oldrev") if kind == MR_UPDATED else None,
        author=_username(data),
        payload=_summary(MERGE_REQUEST_HOOK, action, attrs, closes=kind in (MR_CLOSED, MR_MERGED)),
        **fields,
    )
    opens = kind in (MR_OPENED, MR_REOPENED, MR_UPDATED)
    return Hook(event, f"{kind} {project}!{event.change}", needs_files=opens)


def note(connection: str, data: dict[str, Any]) -> Hook:
    attrs = _obj(data, "object_attributes")
    if attrs.get("noteable_type") != "MergeRequest":
        return Hook(None, "ignored: a comment on something other than a merge request")
    if attrs.get("action") not in (None, "create"):
        return Hook(None, "ignored: an edited comment")
    if attrs.get("system"):
        return Hook(None, "ignored: a system note")
    text = attrs.get("note")
    if not isinstance(text, str):
        raise Malformed("'object_attributes.note' must be a string")
    if MARKER_PREFIX in text:
        return Hook(None, "ignored: osci's own report")
    project = _project(data)
    mr = _obj(data, "merge_request")
    if mr.get("state") in ("closed", "merged", "locked"):
        return Hook(None, f"ignored: a comment on a {mr.get('state')} merge request")
    newrev = _sha(_obj(mr, "last_commit"), "id")
    event = Event(
        type=COMMENT_ADDED,
        author=_username(data),
        comment=text,
        payload=_summary(NOTE_HOOK, attrs.get("action"), mr),
        **_mr_fields(connection, project, mr, newrev, COMMENT_ADDED),
    )
    return Hook(event, f"{COMMENT_ADDED} {project}!{event.change}", needs_files=True)


def _push_files(data: dict[str, Any], after: str) -> list[str] | None:
    """The paths the pushed commits touch; None (unknown: every job runs) when GitLab left
    commits out (it lists the newest 20) or listed none (a new branch without new commits)."""
    if set(after) == {"0"}:  # the branch was deleted
        return []
    commits = data.get("commits")
    if not isinstance(commits, list) or not commits:
        return None
    total = data.get("total_commits_count")
    if isinstance(total, int) and total > len(commits):
        return None
    files: dict[str, None] = {}
    for commit in commits:
        if not isinstance(commit, dict):
            raise Malformed("'commits' must hold objects")
        for key in ("added", "modified", "removed"):
            paths = commit.get(key) or []
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise Malformed(f"'commits[].{key}' must be a list of paths")
            for path in paths:
                files.setdefault(path, None)
    return list(files)


def push(connection: str, data: dict[str, Any]) -> Hook:
    ref = _str(data, "ref")
    if not ref.startswith(HEADS):
        return Hook(None, f"ignored: a push to {ref[:80]}")
    project = _project(data)
    before, after = _sha(data, "before"), _sha(data, "after")
    event = Event(
        connection=connection,
        type=REF_UPDATED,
        project=project,
        branch=ref[len(HEADS) :],
        ref=ref,
        oldrev=before,
        newrev=after,
        author=_opt_str(data, "user_username"),
        files=_push_files(data, after),
        payload={"gitlab": {"event": PUSH_HOOK, "total_commits_count": data.get("total_commits_count")}},
    )
    return Hook(event, f"{REF_UPDATED} {project} {ref[len(HEADS) :]}")
