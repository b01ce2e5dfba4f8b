"""The double's SSH daemon (asyncssh): `gerrit stream-events`, `gerrit query --format=JSON` and
`gerrit review`, with public-key authentication, in a thread of its own with its own loop."""

from __future__ import annotations

import asyncio
import json
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh


class GerritSSHD:
    def __init__(
        self,
        root: Path,
        authorized_key: str,
        query: Callable[[list[str]], str],
        review: Callable[[list[str]], str],
    ) -> None:
        self.root = root
        self.authorized_key = authorized_key  # the client's public key, OpenSSH format
        self.query = query
        self.review = review
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        self.streams: list[asyncssh.SSHServerProcess] = []
        self.commands: list[str] = []  # every command line received
        self.port = 0
        self._server: asyncssh.SSHAcceptor | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="gerrit-double-sshd", daemon=True)

    # -- life cycle

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)

    async def _listen(self) -> None:
        keys = asyncssh.import_authorized_keys(self.authorized_key)
        self._server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=keys,
            process_factory=self._process,
            encoding="utf-8",
        )
        self.port = self._server.get_port()

    def stop(self) -> None:
        async def close() -> None:
            self._drop()
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def known_hosts(self) -> str:
        """A known_hosts line for this daemon (OpenSSH's `[host]:port` form)."""
        return f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"

    # -- what tests do

    def send(self, event: dict[str, Any]) -> int:
        """Write one event to every open stream; returns how many streams got it."""
        return self.send_line(json.dumps(event, separators=(",", ":")))

    def send_line(self, text: str) -> int:
        def write() -> int:
            alive = [p for p in self.streams if not p.is_closing()]
            for process in alive:
                process.stdout.write(text + "\n")
            return len(alive)

        if threading.current_thread() is self._thread:  # from a command (a review's comment-added)
            return write()

        async def in_loop() -> int:
            return write()

        return asyncio.run_coroutine_threadsafe(in_loop(), self.loop).result(10)

    def stream_count(self) -> int:
        async def count() -> int:
            return len([p for p in self.streams if not p.is_closing()])

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(10)

    def drop_streams(self) -> int:
        """Kill every stream-events session's SSH connection, as a network failure would."""

        async def drop() -> int:
            return self._drop()

        return asyncio.run_coroutine_threadsafe(drop(), self.loop).result(10)

    def _drop(self) -> int:
        streams, self.streams = self.streams, []
        for process in streams:
            connection = process.get_extra_info("connection")
            if connection is not None:
                connection.abort()
        return len(streams)

    # -- serving

    async def _process(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command or ""
        self.commands.append(command)
        try:
            words = shlex.split(command)
        except ValueError as exc:
            process.stderr.write(f"fatal: {exc}\n")
            process.exit(1)
            return
        if words[:2] == ["gerrit", "stream-events"]:
            self.streams.append(process)
            await process.wait_closed()  # until the client leaves or the test drops it
            return
        handler = {"query": self.query, "review": self.review}.get(words[1] if len(words) > 1 else "")
        if words[:1] != ["gerrit"] or handler is None:
            process.stderr.write(f"fatal: {command}: not found\n")
            process.exit(127)
            return
        try:
            process.stdout.write(handler(words[2:]))
            process.exit(0)
        except ValueError as exc:
            process.stderr.write(f"fatal: {exc}\n")
            process.exit(1)
