"""A real `osci server` process against real git repositories, for integration tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev Eloper",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Dev Eloper",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.1, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class Repo:
    """A bare repository (what the server watches) and a work tree to push from."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.bare = root / "repos" / f"{name}.git"
        self.work = root / "work" / name
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        self._git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self._git(root, "clone", "-q", str(self.bare), str(self.work))
        self._git(self.work, "checkout", "-q", "-B", "main")

    @staticmethod
    def _git(cwd: Path, *args: str) -> str:
        env = dict(os.environ, **GIT_ENV)
        out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def write(self, path: str, text: str, executable: bool = False) -> None:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
        if executable:
            target.chmod(0o755)

    def commit(self, message: str) -> str:
        self._git(self.work, "add", "-A")
        self._git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        return self._git(self.work, "rev-parse", "HEAD")

    def push(self, branch: str = "main") -> None:
        self._git(self.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")


class ServerProcess:
    def __init__(self, root: Path, config: Path) -> None:
        self.root = root
        self.config = config
        self.data = root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_file = root / "admin.token"
        self.log_path = root / "server.log"
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self.extra_args: list[str] = []

    def start(self, timeout: float = 30) -> None:
        env = dict(os.environ, OSCI_ADMIN_TOKEN_FILE=str(self.token_file), **GIT_ENV)
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "osci", "server",
                "--config", str(self.config),
                "--data-dir", str(self.data),
                "--listen", f"127.0.0.1:{self.port}",
                "--slots", "2",
                *self.extra_args,
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.root,
        )  # fmt: skip

        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                return self.client.get("/api/status").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, what="the server to answer")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def builds(self, **filters: Any) -> list[dict[str, Any]]:
        return self.client.get("/api/builds", params=filters).json()

    def finished_builds(self, **filters: Any) -> list[dict[str, Any]]:
        return [b for b in self.builds(**filters) if b["result"]]

    def wait_builds(self, count: int, timeout: float = 60, **filters: Any) -> list[dict[str, Any]]:
        return wait_for(
            lambda: (lambda found: found if len(found) >= count else None)(self.finished_builds(**filters)),
            timeout,
            what=f"{count} finished build(s) matching {filters}",
        )

    def events(self) -> list[dict[str, Any]]:
        return self.client.get("/api/events").json()


@pytest.fixture
def make_server(tmp_path: Path):
    servers: list[ServerProcess] = []

    def make(config_text: str) -> ServerProcess:
        config = tmp_path / "osci.yaml"
        config.write_text(textwrap.dedent(config_text).lstrip("\n").replace("@ROOT@", str(tmp_path)))
        server = ServerProcess(tmp_path, config)
        servers.append(server)
        return server

    yield make
    for server in servers:
        if server.process and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
        server.client.close()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path, "demo")


def dump(data: Any) -> str:
    return json.dumps(data, indent=1)[:4000]
