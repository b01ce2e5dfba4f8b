"""The published webhook payloads (tests/fixtures/github), adapted only where a test must:
the repository's name, the head commit, and the `issue.pull_request` link of a comment."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "github"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def for_repo(payload: dict[str, Any], full_name: str) -> dict[str, Any]:
    """`payload` about `full_name` instead of the example's repository."""
    data = copy.deepcopy(payload)
    owner, name = full_name.split("/")
    repository = data["repository"]
    repository["full_name"] = full_name
    repository["name"] = name
    repository["owner"]["login"] = owner
    return data


def with_head(payload: dict[str, Any], sha: str, base: str | None = None) -> dict[str, Any]:
    """A pull_request payload whose head is `sha` (and base branch `base`)."""
    data = copy.deepcopy(payload)
    data["pull_request"]["head"]["sha"] = sha
    if base is not None:
        data["pull_request"]["base"]["ref"] = base
    return data


def with_number(payload: dict[str, Any], number: int) -> dict[str, Any]:
    data = copy.deepcopy(payload)
    if "pull_request" in data:
        data["number"] = number
        data["pull_request"]["number"] = number
    if "issue" in data:
        data["issue"]["number"] = number
    return data


def on_pull_request(payload: dict[str, Any], body: str | None = None) -> dict[str, Any]:
    """An issue_comment payload about a pull request (the examples comment on an issue)."""
    data = copy.deepcopy(payload)
    issue = data["issue"]
    api = issue["url"].rsplit("/issues/", 1)[0]
    issue["pull_request"] = {
        "url": f"{api}/pulls/{issue['number']}",
        "html_url": issue["html_url"].replace("/issues/", "/pull/"),
        "diff_url": issue["html_url"].replace("/issues/", "/pull/") + ".diff",
        "patch_url": issue["html_url"].replace("/issues/", "/pull/") + ".patch",
    }
    if body is not None:
        data["comment"]["body"] = body
    return data


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(
    event: str, payload: dict[str, Any], secret: str, delivery_id: str | None = None
) -> tuple[dict[str, str], bytes]:
    """The headers and body GitHub sends for `payload`, signed with `secret`."""
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": event,
        "x-github-delivery": delivery_id or str(uuid.uuid4()),
        "x-github-hook-id": "292430182",
        "x-hub-signature-256": sign(secret, body),
    }
    return headers, body
