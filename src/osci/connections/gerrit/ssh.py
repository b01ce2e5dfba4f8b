"""Gerrit's SSH side with asyncssh: one connection for short commands (query, review), kept
and reopened when it drops, and fresh ones for the long-lived `gerrit stream-events`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from typing import Any

import asyncssh

from osci.connections.gerrit.settings import GerritSettings

COMMAND_TIMEOUT = 120.0
# asyncssh tells of every channel at INFO; the connection logs what matters itself.
logging.getLogger("asyncssh").setLevel(logging.WARNING)


class GerritUnavailable(RuntimeError):
    """Gerrit could not be reached or refused the command; the message is safe to log."""


def quote(*words: str) -> str:
    """A command line Gerrit's SSH daemon splits back into `words` (shell-style quoting)."""
    return " ".join(shlex.quote(w) for w in words)


class GerritSSH:
    def __init__(self, settings: GerritSettings) -> None:
        self.settings = settings
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> asyncssh.SSHClientConnection:
        """A new authenticated connection (the host key checked against `known-hosts`)."""
        s = self.settings
        options: dict[str, Any] = {
            "username": s.user,
            "client_keys": [str(s.ssh_key)],
            "agent_path": None,  # only the configured key
            "config": None,  # ~/.ssh/config has no say: the connection's keys do
            "keepalive_interval": s.keepalive,
            "keepalive_count_max": 3,
            "connect_timeout": 30,
        }
        if s.known_hosts is not None:
            options["known_hosts"] = str(s.known_hosts)
        try:
            return await asyncssh.connect(s.server, port=s.port, **options)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise GerritUnavailable(f"ssh {s.user}@{s.server}:{s.port}: {describe(exc)}") from None

    async def run(self, *words: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run one Gerrit command (e.g. `gerrit query ...`) and return its output."""
        command = quote(*words)
        for attempt in (1, 2):  # a kept connection may have dropped meanwhile: one fresh try
            conn = await self._connection()
            try:
                result = await asyncio.wait_for(conn.run(command, check=False), timeout)
            except (TimeoutError, OSError, asyncssh.Error) as exc:
                await self._drop(conn)
                if attempt == 2:
                    raise GerritUnavailable(
                        f"{words[0]} {words[1] if len(words) > 1 else ''}: {describe(exc)}"
                    ) from None
                continue
            if result.exit_status != 0:
                detail = str(result.stderr or "").strip().splitlines()
                raise GerritUnavailable(
                    f"{' '.join(words[:2])} failed (exit {result.exit_status}): {detail[-1] if detail else ''}"
                )
            return str(result.stdout or "")
        raise AssertionError("unreachable")

    async def _connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None:
                self._conn = await self.connect()
            return self._conn

    async def _drop(self, conn: asyncssh.SSHClientConnection) -> None:
        async with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.abort()

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(asyncio.TimeoutError, OSError, asyncssh.Error):
                await asyncio.wait_for(conn.wait_closed(), 5)


def describe(exc: BaseException) -> str:
    """An SSH failure in a few words (asyncssh's messages hold no secrets)."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return f"host key not verifiable ({exc.reason}); add the server's key to known-hosts"
    if isinstance(exc, asyncssh.PermissionDenied):
        return "permission denied (is the account's public key added in Gerrit?)"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
