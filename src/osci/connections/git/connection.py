"""The git connection: watches branches and tags of plain git repositories.

Polls with `git ls-remote` every `poll-interval` seconds and when a post-receive hook
notifies it (`osci hook install`), compares with the refs it last recorded, and emits
`ref-updated` (branches) and `tag-created` (tags) events. The first sight of a repository
only records its refs. Deleted tags emit nothing; a moved tag is a `tag-created` with
`oldrev` set. If the server was down, the first poll after start catches up on every push
made meanwhile (one event per ref, from the last recorded commit to the current one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from osci.connections.base import Connection, ConnectionConfigError, ConnectionContext, Emit
from osci.connections.git import repos
from osci.connections.git.gitcmd import GitError, git, redact
from osci.connections.git.refs import HEADS, TAGS, ZERO, RefChange, diff_refs, parse_ls_remote
from osci.connections.git.state import RefState
from osci.model import Event

log = logging.getLogger(__name__)

CONFIG_KEYS = ("baseurl", "poll-interval", "projects")
IGNORED_KEYS = ("name", "driver")  # tolerated if the server passes the whole object


def parse_config(name: str, config: dict[str, Any]) -> tuple[str, float, list[str] | None]:
    """(baseurl, poll interval, projects or None) from a connection's settings."""
    if not repos.safe_project(name) or "/" in name:
        raise ConnectionConfigError(f"connection name {name!r} cannot name a folder")
    for key in config:
        if key not in CONFIG_KEYS and key not in IGNORED_KEYS:
            raise ConnectionConfigError(
                f"connection {name} (git): unknown key '{key}'; expected one of {', '.join(CONFIG_KEYS)}"
            )
    baseurl = config.get("baseurl")
    if not isinstance(baseurl, str) or not baseurl.strip():
        raise ConnectionConfigError(
            f"connection {name} (git): 'baseurl' is required (a folder or a URL prefix)"
        )
    interval = config.get("poll-interval", 60)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
        raise ConnectionConfigError(
            f"connection {name} (git): 'poll-interval' must be a number of seconds >= 0, got {interval!r}"
        )
    projects = config.get("projects")
    if projects is not None:
        if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
            raise ConnectionConfigError(
                f"connection {name} (git): 'projects' must be a list of project names"
            )
        for project in projects:
            if not repos.safe_project(project):
                raise ConnectionConfigError(f"connection {name} (git): invalid project name {project!r}")
    return baseurl.strip(), float(interval), projects


class GitConnection(Connection):
    driver = "git"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        self.baseurl, self.poll_interval, self._projects = parse_config(name, config)
        self.remote = repos.is_remote(self.baseurl)
        self.folder = context.data_dir / "connections" / name
        self.state = RefState(self.folder / "refs.json")
        self.first_poll_done = asyncio.Event()  # set once the start-up poll has finished
        self._emit: Emit | None = None
        self._task: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._failing: dict[str, str] = {}  # project -> last error, to warn once per new error

    # -- where repositories are

    def clone_url(self, project: str) -> str | None:
        if not repos.safe_project(project):
            return None
        if self._projects is not None and project not in self._projects:
            return None
        if self.remote:
            return f"{self.baseurl.rstrip('/')}/{project}"
        path = repos.local_repo(self.baseurl, project)
        return str(path) if path else None

    def watches(self, project: str) -> bool:
        """Whether `project` is watched, at the cost of one look at one repository."""
        if self._projects is not None:
            return project in self._projects
        if not repos.safe_project(project) or project not in {p for p, _ in self.context.projects()}:
            return False
        return self.remote or repos.local_repo(self.baseurl, project) is not None

    def projects(self) -> list[str]:
        """The projects watched now: `projects` if configured, else the server's projects found here."""
        if self._projects is not None:
            return list(self._projects)
        names = [p for p, _ in self.context.projects() if repos.safe_project(p)]
        if self.remote:
            return names
        return [p for p in names if repos.local_repo(self.baseurl, p)]

    # -- lifecycle

    async def start(self, emit: Emit) -> None:
        self._emit = emit
        self._task = asyncio.create_task(self._loop(), name=f"osci-git-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        try:
            await self._poll_logged()
        finally:
            self.first_poll_done.set()
        while self.poll_interval > 0:
            await asyncio.sleep(self.poll_interval)
            await self._poll_logged()

    async def _poll_logged(self) -> None:
        try:
            await self.poll()
        except Exception:  # e.g. the server's project list failed: try again next interval
            log.exception("git connection %s: poll failed", self.name)

    async def notify(self, payload: dict[str, Any]) -> None:
        """Poll now: the project named in `payload`, or every project if it names none."""
        project = payload.get("project") if isinstance(payload, dict) else None
        if project is None or project == "":
            await self.poll()
            return
        if not isinstance(project, str) or not self.watches(project):
            raise ValueError(f"connection {self.name} does not watch project {project!r}")
        await self.poll([project])

    # -- polling

    async def poll(self, projects: list[str] | None = None) -> None:
        """Poll `projects` (default: all watched), a few at a time; failures are logged, never raised."""
        limit = asyncio.Semaphore(4)

        async def one(project: str) -> None:
            async with limit:
                await self._poll_safely(project)

        await asyncio.gather(*(one(p) for p in (projects if projects is not None else self.projects())))

    async def _poll_safely(self, project: str) -> None:
        lock = self._locks.setdefault(project, asyncio.Lock())
        async with lock:
            try:
                await self._poll_project(project)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                message = (
                    redact(str(exc)) if isinstance(exc, GitError) else redact(f"{type(exc).__name__}: {exc}")
                )
                if self._failing.get(project) != message:
                    log.warning(
                        "git connection %s: polling %s failed (retrying): %s", self.name, project, message
                    )
                else:
                    log.debug("git connection %s: polling %s still failing: %s", self.name, project, message)
                self._failing[project] = message
            else:
                if self._failing.pop(project, None) is not None:
                    log.info("git connection %s: polling %s works again", self.name, project)

    def _url(self, project: str) -> str:
        url = self.clone_url(project)
        if url is None:
            raise GitError(f"no repository for {project} under {redact(self.baseurl)}")
        return url

    def _mirror(self, project: str) -> Path:
        return self.folder / "mirrors" / (project if project.endswith(".git") else f"{project}.git")

    async def _poll_project(self, project: str) -> None:
        url = self._url(project)
        refs = parse_ls_remote((await git("ls-remote", "--heads", "--tags", url, timeout=120)).decode())
        seen = self.state.get(project)
        repo = self._mirror(project) if self.remote else Path(url)
        if seen is None:
            if self.remote:
                await repos.fetch_mirror(repo, url)  # so later diffs have the old commits
            self.state.set_project(project, refs)
            log.info("git connection %s: watching %s (%d refs)", self.name, project, len(refs))
            return
        changes = diff_refs(seen, refs)
        if not changes:
            return
        if self.remote and any(not c.deleted for c in changes):
            await repos.fetch_mirror(repo, url)
        for change in changes:
            event = await self._event(project, repo, change, refs)
            if event is not None:
                assert self._emit is not None, "poll before start()"
                await self._emit(event)  # before recording: the server de-duplicates a replay
            self.state.set_ref(project, change.ref, None if change.deleted else change.newrev)

    async def _event(self, project: str, repo: Path, change: RefChange, refs: dict[str, str]) -> Event | None:
        if change.is_tag:
            if change.deleted:
                return None
            return Event(
                connection=self.name,
                type="tag-created",
                project=project,
                ref=change.ref,
                oldrev=change.oldrev,
                newrev=change.newrev,
                author=await repos.author(repo, change.newrev),
                payload={"tag": change.ref[len(TAGS) :]},
            )
        return Event(
            connection=self.name,
            type="ref-updated",
            project=project,
            branch=change.ref[len(HEADS) :],
            ref=change.ref,
            oldrev=change.oldrev,
            newrev=change.newrev,
            author=None if change.deleted else await repos.author(repo, change.newrev),
            files=await repos.changed_files(repo, change, refs),
        )


__all__ = ["GitConnection", "ZERO", "parse_config"]
