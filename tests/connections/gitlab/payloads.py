"""GitLab's documented webhook payloads (tests/fixtures/gitlab), pointed at test repositories."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gitlab"
TOKEN = "webhook-s3cret"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture (`merge_request.json`, `push.json`, `note_merge_request.json`)."""
    return copy.deepcopy(_load(name))


def _point_project(data: dict[str, Any], project: str) -> None:
    data["project"]["path_with_namespace"] = project
    data["project"]["name"] = project.rsplit("/", 1)[-1]


def merge_request(
    project: str,
    iid: int,
    sha: str,
    *,
    action: str = "open",
    target: str = "main",
    oldrev: str | None = None,
    username: str = "root",
) -> dict[str, Any]:
    data = load("merge_request.json")
    _point_project(data, project)
    attrs = data["object_attributes"]
    attrs.update(iid=iid, action=action, target_branch=target)
    attrs["last_commit"]["id"] = sha
    if oldrev:
        attrs["oldrev"] = oldrev
    if action in ("close", "merge"):
        attrs["state"] = "closed" if action == "close" else "merged"
    data["user"]["username"] = username
    return data


def note(
    project: str,
    iid: int,
    sha: str,
    text: str,
    *,
    target: str = "main",
    state: str = "opened",
    note_id: int = 1244,
) -> dict[str, Any]:
    data = load("note_merge_request.json")
    _point_project(data, project)
    data["object_attributes"].update(note=text, id=note_id)
    mr = data["merge_request"]
    mr.update(iid=iid, target_branch=target, state=state)
    mr["last_commit"]["id"] = sha
    return data


def push(
    project: str, before: str, after: str, *, branch: str = "main", files: list[str] | None = None
) -> dict[str, Any]:
    data = load("push.json")
    _point_project(data, project)
    data.update(before=before, after=after, checkout_sha=after, ref=f"refs/heads/{branch}")
    if files is not None:
        commit = data["commits"][-1]
        commit.update(id=after, added=[], modified=list(files), removed=[])
        data["commits"] = [commit]
        data["total_commits_count"] = 1
    return data


def headers(event: str, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    """Headers as the payload route hands them to the connection (lower-case names)."""
    out = {"content-type": "application/json", "x-gitlab-event": event, "user-agent": "GitLab/17.5.0"}
    if token is not None:
        out["x-gitlab-token"] = token
    out.update({k.lower().replace("_", "-"): v for k, v in extra.items()})
    return out


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
