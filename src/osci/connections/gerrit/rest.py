"""Gerrit's REST API with httpx: JSON behind the `)]}'` line, HTTP basic auth with the
connection's HTTP password or token (under `/a/`), anonymous without one."""

from __future__ import annotations

import json
from typing import Any

import httpx

from osci.connections.gerrit.settings import GerritSettings

XSSI_PREFIX = ")]}'"
TIMEOUT = 30.0


class GerritHTTPError(RuntimeError):
    """Gerrit answered with an error status (`status` 0: it could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retriable(self) -> bool:
        """Worth trying again later: unreachable, overloaded, or a server error."""
        return self.status in (0, 408, 429) or self.status >= 500


def decode(text: str) -> Any:
    """A Gerrit JSON body: the `)]}'` first line removed, then JSON."""
    body = text.lstrip("\ufeff")
    if body.startswith(XSSI_PREFIX):
        body = body[len(XSSI_PREFIX) :]
    return json.loads(body) if body.strip() else None


class GerritREST:
    def __init__(self, settings: GerritSettings) -> None:
        assert settings.baseurl is not None
        self.settings = settings
        auth = (settings.user, settings.password) if settings.password else None
        self.prefix = "/a" if auth else ""  # Gerrit's authenticated endpoints live under /a/
        self._client = httpx.AsyncClient(base_url=settings.baseurl, auth=auth, timeout=TIMEOUT)

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.prefix + path
        try:
            response = await self._client.request(
                method, url, json=body, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise GerritHTTPError(0, f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            text = response.text.strip().splitlines()
            raise GerritHTTPError(
                response.status_code,
                f"{method} {path}: HTTP {response.status_code} {text[0][:200] if text else ''}".rstrip(),
            )
        try:
            return decode(response.text)
        except ValueError as exc:
            raise GerritHTTPError(502, f"{method} {path}: unreadable JSON: {exc}") from None

    async def aclose(self) -> None:
        await self._client.aclose()
