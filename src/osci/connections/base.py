"""The connection plugin interface.

A driver is a module `osci.connections.<driver>` exposing `CONNECTION`, a
subclass of `Connection`. Adding a driver (Bitbucket, say) means adding one
module or package here and nothing else: the server finds it by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from osci.model import Event, Report

Emit = Callable[[Event], Awaitable[None]]


class ConnectionConfigError(ValueError):
    """A connection's configuration is wrong; the message says which key and what was expected."""


class ReportError(RuntimeError):
    """A report could not be delivered now; the server retries it later with backoff."""


class WebhookRejected(Exception):
    """A webhook delivery refused: `status` is the HTTP answer (401 bad signature, 400 malformed,
    404 when this connection takes no webhooks); `message` is safe to send back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MergeFailed(RuntimeError):
    """A gate could not merge a change. `retry` True: a passing outage (try again later);
    False: the review system refused it (not mergeable, missing approval, the branch moved):
    the item is reported as failing to merge and leaves the queue."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class ChangeToMerge:
    """What a gate asks a connection to merge: the change (or branch push) at the head of a
    dependent queue whose voting jobs all passed."""

    project: str
    branch: str  # the target branch
    change: str | None  # the change / pull request / merge request number; None for a plain git ref
    patchset: str | None  # the patchset number (Gerrit) or the change's head sha (GitHub, GitLab)
    ref: str | None  # the change's own ref (refs/changes/..., refs/pull/N/head, a staging branch...)
    tested: str  # the exact commit the jobs tested: this change on the branch tip and the items ahead
    previous: str | None  # the branch tip the tested commit was built on (for a compare-and-swap push)
    message: str = ""  # the report's summary, for systems that take a merge message


@dataclass(frozen=True)
class DependencyRef:
    """A `Depends-On:` footer resolved by the connection that knows it."""

    connection: str
    project: str | None  # None when only the review system can tell (a Gerrit Change-Id)
    change: str  # change number, pull request or merge request number, or a Change-Id


@dataclass
class ConnectionContext:
    """What the server lends every connection."""

    data_dir: Path  # a private folder per connection lives under it
    base_url: str  # the server's public URL, for links in reports (no trailing slash)
    projects: Callable[[], list[tuple[str, str | None]]] = (
        lambda: []
    )  # (project, default branch) this server tests
    extra: dict[str, Any] = field(default_factory=dict)


class Connection:
    driver: ClassVar[str] = ""

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        self.name = name
        self.config = config
        self.context = context

    async def start(self, emit: Emit) -> None:
        """Begin producing events (start poll loops, subscribe to streams). Must return promptly."""

    async def stop(self) -> None:
        """Stop producing events and release resources."""

    def clone_url(self, project: str) -> str | None:
        """Where the project's repository can be fetched from, if this connection hosts it."""
        return None

    async def git_env(self, project: str) -> dict[str, str]:
        """What git's environment needs to fetch `project` from `clone_url(project)`: an SSH
        command with the connection's key, an HTTP header with a token... Empty by default.
        The values are secrets: never log them."""
        return {}

    async def change_event(self, change: str, patchset: str | None, project: str | None) -> Event | None:
        """A review system's change, to be tested by hand (`osci enqueue --change N[,P]`): an event
        with its project, branch, ref, newrev, patchset, files and change_state, as the driver's
        own events have them (the server makes it a `manual` event). `patchset` None means the
        current one. None when this connection has no such change; raise ValueError to say why."""
        return None

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        """Deliver `report` as the pipeline's reporter `options` say; raise ReportError to be retried."""
        raise ReportError(f"connection {self.name} ({self.driver}) cannot report")

    async def notify(self, payload: dict[str, Any]) -> None:
        """Called by the HTTP API when something outside pokes this connection (a hook)."""

    async def merge(self, change: ChangeToMerge) -> str | None:
        """Merge `change` on its review system, or push `change.tested` to its branch (plain git);
        return the branch's new commit when known. Raise MergeFailed. A connection that cannot
        merge says so here, and a gate pipeline reporting to it is refused at start."""
        raise MergeFailed(f"connection {self.name} ({self.driver}) cannot merge changes")

    def resolve_dependency(self, reference: str) -> DependencyRef | None:
        """A `Depends-On:` footer's value (a change URL, or a Gerrit Change-Id) if it names a
        change of this connection; None otherwise. No network: URLs and ids are parsed."""
        return None

    async def webhook(self, headers: dict[str, str], body: bytes) -> str:
        """A webhook delivery (``POST /api/connection/{name}/payload``): verify it (signature or
        token) before reading anything else, emit the events it carries, and return a short
        description of what was done. Raise WebhookRejected to refuse it. `headers` have
        lower-case names."""
        raise WebhookRejected(404, f"connection {self.name} ({self.driver}) takes no webhooks")


def check_keys(where: str, config: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse keys a driver does not know (`name` and `driver` belong to every connection)."""
    for key in config:
        if key not in allowed and key not in ("name", "driver"):
            raise ConnectionConfigError(f"{where}: unknown key '{key}'; expected one of {', '.join(allowed)}")


def load_driver(driver: str) -> type[Connection]:
    """The Connection class of `driver`, found as `osci.connections.<driver>`."""
    if not driver.replace("_", "").isalnum():
        raise ConnectionConfigError(f"invalid driver name {driver!r}")
    try:
        module = importlib.import_module(f"osci.connections.{driver}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("osci.connections."):
            raise ConnectionConfigError(f"unknown connection driver {driver!r}") from None
        raise
    connection = getattr(module, "CONNECTION", None)
    if not (isinstance(connection, type) and issubclass(connection, Connection)):
        raise ConnectionConfigError(f"module osci.connections.{driver} defines no CONNECTION")
    return connection
