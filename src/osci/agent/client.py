"""The agent's HTTP client: the server's agent API (web/routes_agents.py) with its answers sorted
into what the agent does next: retry later (network), register again, stop (token refused)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
POLL_MARGIN = 5.0  # the server answers a poll within its wait: longer silence is a dead connection


class Unreachable(Exception):
    """The server did not answer (network cut, server restarting): try again later."""


class Refused(Exception):
    """The server refused the agent's token (revoked, unknown, wrong kind): the agent stops."""


class Gone(Exception):
    """409: the server no longer knows this session or expects this attempt."""


class AgentClient:
    def __init__(self, server: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "osci-agent"},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        )
        self.session = ""

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, timeout: float | None = None, **kwargs: Any) -> Any:
        try:
            if timeout is not None:
                kwargs["timeout"] = httpx.Timeout(timeout, connect=CONNECT_TIMEOUT)
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        return self._answer(response)

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        if response.status_code in (401, 403):
            raise Refused(_error(response))
        if response.status_code == 409:
            raise Gone(_error(response))
        if response.status_code >= 500:
            raise Unreachable(f"HTTP {response.status_code}: {_error(response)}")
        if response.status_code >= 400:
            raise Refused(f"HTTP {response.status_code}: {_error(response)}")
        return response.json()

    # -- the calls ----------------------------------------------------------------------------

    def register(self, label: str, provides: list[str], slots: int, version: str, hostname: str) -> dict:
        doc = self._call(
            "POST",
            "/api/agent/register",
            json={"label": label, "provides": provides, "slots": slots, "version": version, "hostname": hostname},
        )
        self.session = doc["session"]
        return doc

    def poll(self, running: list[str], stopping: bool, wait: float) -> dict:
        return self._call(
            "POST",
            "/api/agent/poll",
            timeout=wait + POLL_MARGIN,
            json={"session": self.session, "running": running, "stopping": stopping, "wait": wait},
        )

    def download_workspace(self, assignment: str, target: Path) -> None:
        headers = {"X-Osci-Session": self.session}
        try:
            with self.http.stream("GET", f"/api/agent/work/{assignment}/workspace", headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    self._answer(response)
                with open(target, "wb") as out:
                    for chunk in response.iter_bytes(256 * 1024):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None

    def console(self, assignment: str, seq: int, lines: list[str]) -> dict:
        return self._call(
            "POST",
            f"/api/agent/work/{assignment}/console",
            json={"session": self.session, "seq": seq, "lines": lines},
        )

    def upload_results(self, assignment: str, archive: Path) -> None:
        def chunks() -> Iterator[bytes]:
            with open(archive, "rb") as handle:
                while chunk := handle.read(256 * 1024):
                    yield chunk

        self._call(
            "PUT",
            f"/api/agent/work/{assignment}/results",
            timeout=600.0,
            headers={"X-Osci-Session": self.session, "Content-Type": "application/x-tar"},
            content=chunks(),
        )

    def finish(self, assignment: str, attempt: dict, console: tuple[int, list[str]] | None = None) -> None:
        """The attempt's report, with the console's last batch (seq, lines) when given."""
        body: dict = {"session": self.session, "attempt": attempt}
        if console is not None:
            body["console"] = {"seq": console[0], "lines": console[1]}
        self._call("POST", f"/api/agent/work/{assignment}/finish", json=body)

    def deregister(self) -> None:
        self._call("POST", "/api/agent/deregister", json={"session": self.session})


def _error(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(doc, dict):
        return str(doc.get("error") or doc.get("detail") or doc)[:500]
    return str(doc)[:500]
