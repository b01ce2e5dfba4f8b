"""A small client for the GitLab REST API (v4): the few endpoints osci uses.

Failures are sorted by what retrying can do: a network error, a 5xx or a 429 is a
ReportError (the outbox tries again later); 401, 403, 404 and other 4xx answers are a
ConnectionConfigError (the token, its scope or the project name is wrong: retrying cannot help).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from osci.connections.base import ConnectionConfigError, ReportError

PER_PAGE = 100
MAX_PAGES = 30  # 3,000 changed files; beyond that the list is "unknown" (None)
TRANSITION_REFUSED = "Cannot transition status"  # GitLab's 400 when a status already has that state


class GitLabError(Exception):
    """An API answer that is not a success, with its status and GitLab's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def project_path(project: str) -> str:
    """A project's `:id` in API paths: its URL-encoded full path (`group%2Fproject`)."""
    return quote(project, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ReportError(f"GitLab {response.request.url.path}: the answer is not JSON") from None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or ""
    if isinstance(data, dict):
        message = data.get("message", data.get("error", ""))
        return str(message)[:300]
    return ""


class GitLabAPI:
    def __init__(self, api_url: str, token: str | None, timeout: float = 10) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def client(self) -> httpx.AsyncClient:
        headers = {"User-Agent": "osci-gitlab", "Accept": "application/json"}
        if self.token:
            headers["PRIVATE-TOKEN"] = self.token
        return httpx.AsyncClient(
            base_url=self.api_url, headers=headers, timeout=self.timeout, follow_redirects=False
        )

    async def call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; raises GitLabError for an answer outside 2xx, ReportError when unreachable."""
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ReportError(f"GitLab {method} {path}: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise GitLabError(response.status_code, _message(response))
        return response

    async def merge_request_files(
        self, client: httpx.AsyncClient, project: str, iid: str
    ) -> list[str] | None:
        """Every path a merge request touches (old and new names of a rename), from
        `GET /projects/:id/merge_requests/:iid/diffs`; None when there are too many to list."""
        files: dict[str, None] = {}
        page = "1"
        for _ in range(MAX_PAGES):
            response = await self.call(
                client,
                "GET",
                f"/projects/{project_path(project)}/merge_requests/{quote(iid, safe='')}/diffs",
                params={"page": page, "per_page": PER_PAGE},
            )
            diffs = _json(response)
            if not isinstance(diffs, list):
                raise GitLabError(response.status_code, "the diffs answer is not a list")
            for diff in diffs:
                if isinstance(diff, dict):
                    for key in ("old_path", "new_path"):
                        if isinstance(diff.get(key), str) and diff[key]:
                            files.setdefault(diff[key], None)
            page = response.headers.get("x-next-page", "")
            if not page:
                return list(files)
        return None

    async def post_status(
        self, client: httpx.AsyncClient, project: str, sha: str, fields: dict[str, Any]
    ) -> bool:
        """`POST /projects/:id/statuses/:sha`. False when GitLab says the status already has this
        state (a retry of a status that did land): nothing is left to do."""
        try:
            await self.call(client, "POST", f"/projects/{project_path(project)}/statuses/{sha}", json=fields)
        except GitLabError as exc:
            if exc.status == 400 and exc.message.startswith(TRANSITION_REFUSED):
                return False
            raise
        return True

    async def recent_notes(self, client: httpx.AsyncClient, project: str, iid: str) -> list[dict[str, Any]]:
        """The newest notes of a merge request (one page, newest first)."""
        response = await self.call(
            client,
            "GET",
            f"/projects/{project_path(project)}/merge_requests/{quote(iid, safe='')}/notes",
            params={"sort": "desc", "order_by": "created_at", "per_page": PER_PAGE},
        )
        notes = _json(response)
        return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []

    async def merge_request(self, client: httpx.AsyncClient, project: str, iid: str) -> dict[str, Any]:
        """`GET /projects/:id/merge_requests/:iid`."""
        response = await self.call(
            client, "GET", f"/projects/{project_path(project)}/merge_requests/{quote(iid, safe='')}"
        )
        found = _json(response)
        return found if isinstance(found, dict) else {}

    async def merge(
        self, client: httpx.AsyncClient, project: str, iid: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """`PUT /projects/:id/merge_requests/:iid/merge`: the merged merge request."""
        response = await self.call(
            client,
            "PUT",
            f"/projects/{project_path(project)}/merge_requests/{quote(iid, safe='')}/merge",
            json=fields,
        )
        found = _json(response)
        return found if isinstance(found, dict) else {}

    async def post_note(self, client: httpx.AsyncClient, project: str, iid: str, body: str) -> None:
        await self.call(
            client,
            "POST",
            f"/projects/{project_path(project)}/merge_requests/{quote(iid, safe='')}/notes",
            json={"body": body},
        )


def for_reporting(exc: GitLabError, what: str) -> Exception:
    """The exception the outbox should see for a failed report call."""
    if exc.status >= 500 or exc.status == 429:
        return ReportError(f"GitLab {what}: {exc}")
    if exc.status in (401, 403):
        return ConnectionConfigError(
            f"GitLab {what}: {exc}; check the connection's token (it needs the api scope and at "
            "least the Developer role on the project)"
        )
    if exc.status == 404:
        return ConnectionConfigError(
            f"GitLab {what}: {exc}; the project, commit or merge request is unknown to GitLab or "
            "hidden from the token"
        )
    return ConnectionConfigError(f"GitLab {what}: {exc}")
