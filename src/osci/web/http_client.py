"""A small Python client for the osci HTTP API (used by the client verbs of the CLI).

Errors come out as :class:`ApiClientError` with a one-line message; a server that cannot be
reached is :class:`ServerUnreachable`. The token is sent only with requests that need it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8411"


class ApiClientError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(ApiClientError):
    """No answer at all: the server is down, the URL is wrong, or the network is."""


class OsciClient:
    def __init__(self, server: str = DEFAULT_SERVER, token: str | None = None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        if urlsplit(self.server).scheme not in ("http", "https"):
            raise ApiClientError(f"invalid server URL {server!r}: expected http://HOST:PORT or https://...")
        try:
            self.http = httpx.Client(base_url=self.server, timeout=timeout)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ApiClientError(f"invalid server URL {server!r}: {exc}") from None

    def __enter__(self) -> OsciClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach the osci server at {self.server}: {_reason(exc)}"
            ) from None
        _raise_for_error(response)
        return response

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        return _json(self._send("GET", path, params=params))

    def text(self, path: str) -> str:
        return self._send("GET", path).text

    def lines(self, path: str) -> Iterator[str]:
        """A text resource line by line, as it arrives (logs can be large)."""
        try:
            with self.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                yield from response.iter_lines()
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"lost the osci server at {self.server}: {_reason(exc)}") from None

    def post(self, path: str, body: dict[str, Any] | None = None, *, auth: bool = True) -> Any:
        body = {k: v for k, v in (body or {}).items() if v is not None}
        headers = self._auth() if auth else {}
        return _json(self._send("POST", path, json=body, headers=headers))

    def events(self, path: str, params: dict[str, Any] | None = None) -> Iterator[tuple[str, str]]:
        """Server-sent events from `path` as (event name, data), until the server closes the stream."""
        try:
            with self.http.stream(
                "GET", path, params=params, timeout=httpx.Timeout(30.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                event, data = "message", []
                for line in response.iter_lines():
                    if line == "":
                        if data:
                            yield event, "\n".join(data)
                        event, data = "message", []
                    elif line.startswith(":"):
                        continue
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[6:] if line.startswith("data: ") else line[5:])
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"lost the osci server at {self.server}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        raise ApiClientError(
            f"the server sent something that is not JSON (HTTP {response.status_code})"
        ) from None


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = response.json().get("error") or response.reason_phrase
    except (json.JSONDecodeError, AttributeError):
        message = response.text.strip()[:200] or response.reason_phrase
    raise ApiClientError(f"{message} (HTTP {response.status_code})", response.status_code)
