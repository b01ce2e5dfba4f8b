"""Calls to GitHub's REST API, with its failures sorted into "try later" and "fix the config".

5xx, 429, rate limits and network errors raise GitHubUnavailable (a ReportError: the outbox
retries); 401, 403, 404 and 422 raise GitHubRefused (a ConnectionConfigError: retrying cannot
help, the message says what to check). Credentials travel only in the Authorization header
and never appear in a message.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from osci.connections.base import ConnectionConfigError, ReportError
from osci.connections.github.auth import Auth

API_VERSION = "2022-11-28"
USER_AGENT = "osci-github"
MAX_PAGES = 30  # GitHub lists at most 3000 files of a pull request: 30 pages of 100
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubUnavailable(ReportError):
    """GitHub did not answer usefully now (5xx, 429, rate limited, network): try again later."""


class GitHubRefused(ConnectionConfigError):
    """GitHub refused the call for a reason retrying cannot fix; the message says what to check."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    text = body.get("message") if isinstance(body, dict) else None
    return f": {str(text)[:200]}" if text else ""


def message_of(body: Any) -> str:
    """GitHub's `message` of an answer's JSON body, as ": <message>" (empty when there is none)."""
    text = body.get("message") if isinstance(body, dict) else None
    return f": {str(text)[:200]}" if text else ""


def _rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    return response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in _message(response).lower()


HINTS = {
    401: "the credentials were refused: check 'token', or 'app-id' and 'private-key'",
    403: "forbidden: the token or App lacks a permission (checks: write, statuses: write, "
    "pull requests: read, contents: read; the Checks API needs a GitHub App)",
    404: "not found: the repository, commit or pull request is unknown, or the credentials cannot see it",
    422: "GitHub refused the request as invalid",
}


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


class GitHubAPI:
    def __init__(self, api_url: str, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.auth: Auth | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = self._loop = None

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            # a pagination link: only ever followed on GitHub's own API host, with our token
            if urlsplit(path).netloc != urlsplit(self.api_url).netloc:
                raise GitHubUnavailable(f"GitHub sent a link to another host: {urlsplit(path).netloc}")
            return path
        return self.api_url + path

    async def _send(
        self, method: str, path: str, bearer: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": bearer if bearer.startswith("Bearer ") else f"Bearer {bearer}",
            "User-Agent": USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        shown = path.split("?")[0].replace(self.api_url, "")
        try:
            response = await self._http().request(
                method, self._url(path), json=body, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise GitHubUnavailable(f"GitHub {method} {shown}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or _rate_limited(response):
            raise GitHubUnavailable(
                f"GitHub {method} {shown}: HTTP {response.status_code}{_message(response)}"
            )
        return response

    async def raw(self, method: str, path: str, bearer: str) -> tuple[int, Any]:
        """One call with the given bearer (an App's JWT); 5xx and network errors still raise."""
        response = await self._send(method, path, bearer)
        return response.status_code, _json(response)

    async def call(
        self,
        method: str,
        path: str,
        owner: str,
        repo: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """A call about owner/repo, authenticated for it; a refused token is renewed once."""
        response = await self.answer(method, path, owner, repo, body=body, params=params)
        if response.status >= 400:
            hint = HINTS.get(response.status, "GitHub refused the request")
            shown = path.split("?")[0].replace(self.api_url, "")
            raise GitHubRefused(
                f"GitHub {method} {shown}: HTTP {response.status}{message_of(response.body)} ({hint})",
                response.status,
            )
        return response

    async def answer(
        self,
        method: str,
        path: str,
        owner: str,
        repo: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """Like `call`, but a 4xx answer (other than a rate limit) is returned, not raised: for
        callers that tell GitHub's refusals apart themselves. 5xx, rate limits and network
        errors still raise GitHubUnavailable."""
        assert self.auth is not None, "GitHubAPI.auth is not set"
        response = await self._send(method, path, await self.auth.header(owner, repo), body, params)
        if response.status_code == 401:
            self.auth.forget(owner, repo)  # a revoked or expired installation token: get a new one
            response = await self._send(method, path, await self.auth.header(owner, repo), body, params)
        return Response(response.status_code, _json(response), dict(response.headers))

    async def pages(
        self, path: str, owner: str, repo: str, params: dict[str, Any] | None = None, key: str | None = None
    ) -> list[Any]:
        """Every entry of a paginated list (following `Link: rel="next"`), up to MAX_PAGES pages.
        `key` names the list inside an object answer (e.g. `check_runs`)."""
        entries: list[Any] = []
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = await self.call("GET", url, owner, repo, params=query)
            page = response.body.get(key) if key and isinstance(response.body, dict) else response.body
            if not isinstance(page, list):
                raise GitHubUnavailable(f"GitHub GET {path}: unexpected answer (not a list)")
            entries.extend(page)
            found = _NEXT.search(response.headers.get("link", ""))
            url, query = (found.group(1), None) if found else (None, None)
        return entries
