"""Credentials for GitHub's API: a fixed token, or a GitHub App's installation tokens.

An App signs a short JWT (RS256, at most ten minutes) with its private key, finds the
installation that covers a repository (configured, or `GET /repos/{owner}/{repo}/installation`),
and exchanges the JWT for an installation token (`POST /app/installations/{id}/access_tokens`),
kept until shortly before it expires. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from osci.connections.base import ConnectionConfigError
from osci.connections.github.config import AppSettings

JWT_LIFETIME = 540  # seconds; GitHub refuses more than 600
CLOCK_SKEW = 60  # issued this far in the past, for clocks slightly ahead of GitHub's
REFRESH_MARGIN = 300  # an installation token is replaced this long before it expires

# (method, path, bearer) -> (status, JSON body): the API call the App flow needs, without auth of its own.
RawCall = Callable[[str, str, str], Awaitable[tuple[int, Any]]]


class Auth(Protocol):
    async def token(self, owner: str, repo: str) -> str:
        """The token for owner/repo (API calls and git over HTTPS)."""
        ...

    async def header(self, owner: str, repo: str) -> str:
        """The `Authorization` header's value for calls about owner/repo."""
        ...

    def forget(self, owner: str, repo: str) -> None:
        """Drop cached credentials for owner/repo (after a 401)."""
        ...


class TokenAuth:
    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(***)"

    async def token(self, owner: str, repo: str) -> str:
        return self._token

    async def header(self, owner: str, repo: str) -> str:
        return f"Bearer {self._token}"

    def forget(self, owner: str, repo: str) -> None:
        pass


def app_jwt(app_id: str, private_key: Any, now: float | None = None) -> str:
    """The JWT that authenticates as the App itself."""
    issued = int(now if now is not None else time.time()) - CLOCK_SKEW
    claims = {"iat": issued, "exp": issued + CLOCK_SKEW + JWT_LIFETIME, "iss": app_id}
    return jwt.encode(claims, private_key, algorithm="RS256")


def _expiry(value: Any) -> float:
    """`expires_at` ("2016-07-11T22:14:10Z") as an epoch; one hour from now if unreadable."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time() + 3600


class AppAuth:
    """Installation tokens for a GitHub App, per installation, cached until near expiry."""

    def __init__(self, settings: AppSettings, call: RawCall, clock: Callable[[], float] = time.time) -> None:
        self.app_id = settings.app_id
        try:
            self._key = load_pem_private_key(settings.private_key, password=None)
        except (ValueError, TypeError) as exc:
            raise ConnectionConfigError(f"'private-key' cannot be loaded: {exc}") from None
        self.installation_id = settings.installation_id
        self._call = call
        self._clock = clock
        self._installations: dict[tuple[str, str], int] = {}
        self._tokens: dict[int, tuple[str, float]] = {}  # installation -> (token, expires at)
        self._locks: dict[int, asyncio.Lock] = {}
        self.exchanges = 0  # how many tokens were fetched (tests check the caching)

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r})"

    def jwt(self) -> str:
        return app_jwt(self.app_id, self._key, self._clock())

    async def installation(self, owner: str, repo: str) -> int:
        if self.installation_id is not None:
            return self.installation_id
        known = self._installations.get((owner.lower(), repo.lower()))
        if known is not None:
            return known
        status, body = await self._call("GET", f"/repos/{owner}/{repo}/installation", self.jwt())
        if status == 404:
            raise ConnectionConfigError(
                f"the GitHub App {self.app_id} is not installed on {owner}/{repo} (install it there)"
            )
        if status == 401:
            raise ConnectionConfigError(
                f"GitHub refused the App's JWT (HTTP 401): check 'app-id' {self.app_id} and 'private-key'"
            )
        found = body.get("id") if status == 200 and isinstance(body, dict) else None
        if not isinstance(found, int):
            raise ConnectionConfigError(
                f"cannot find the App's installation on {owner}/{repo}: HTTP {status}"
            )
        self._installations[(owner.lower(), repo.lower())] = found
        return found

    async def token(self, owner: str, repo: str) -> str:
        installation = await self.installation(owner, repo)
        lock = self._locks.setdefault(installation, asyncio.Lock())
        async with lock:  # one exchange at a time per installation, however many callers wait
            cached = self._tokens.get(installation)
            if cached is not None and cached[1] - REFRESH_MARGIN > self._clock():
                return cached[0]
            status, body = await self._call(
                "POST", f"/app/installations/{installation}/access_tokens", self.jwt()
            )
            token = body.get("token") if status == 201 and isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise ConnectionConfigError(
                    f"the GitHub App {self.app_id} could not get a token for installation {installation}: "
                    f"HTTP {status}"
                )
            self.exchanges += 1
            self._tokens[installation] = (token, _expiry(body.get("expires_at")))
            return token

    async def header(self, owner: str, repo: str) -> str:
        return f"Bearer {await self.token(owner, repo)}"

    def forget(self, owner: str, repo: str) -> None:
        installation = self.installation_id or self._installations.pop((owner.lower(), repo.lower()), None)
        if installation is not None:
            self._tokens.pop(installation, None)
