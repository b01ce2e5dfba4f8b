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

from osci.connections.base import (
    ChangeToMerge,
    Connection,
    ConnectionConfigError,
    ConnectionContext,
    DependencyRef,
    Emit,
    MergeFailed,
)
from osci.connections.git import repos
from osci.connections.git.gitcmd import GitError, git, nul_split, redact
from osci.connections.git.refs import HEADS, TAGS, ZERO, RefChange, diff_refs, parse_ls_remote
from osci.connections.git.state import RefState
from osci.model import Event

log = logging.getLogger(__name__)

CONFIG_KEYS = ("baseurl", "poll-interval", "projects", "proposals")
DEFAULT_PROPOSALS = "refs/proposals/"  # refs/proposals/<branch>/<name>: a change proposed for <branch>
IGNORED_KEYS = ("name", "driver")  # tolerated if the server passes the whole object


def parse_proposals(name: str, config: dict[str, Any]) -> str:
    """The ref namespace under which changes are proposed for a gate (`proposals`)."""
    prefix = config.get("proposals", DEFAULT_PROPOSALS)
    if (
        not isinstance(prefix, str)
        or not prefix.startswith("refs/")
        or prefix.startswith((HEADS, TAGS))
        or " " in prefix
        or prefix.count("/") < 2
    ):
        raise ConnectionConfigError(
            f"connection {name} (git): 'proposals' must be a ref namespace outside refs/heads and "
            f"refs/tags, such as {DEFAULT_PROPOSALS}, got {prefix!r}"
        )
    return prefix.rstrip("/") + "/"


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
        self.proposals = parse_proposals(name, config)
        self._merged: set[tuple[str, str]] = set()  # (project, change) merged by a gate here
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
        refs = parse_ls_remote((await git("ls-remote", url, timeout=120)).decode(), (self.proposals,))
        seen = self.state.get(project)
        repo = self._mirror(project) if self.remote else Path(url)
        if seen is None:
            if self.remote:
                await repos.fetch_mirror(repo, url, (self.proposals,))  # later diffs have the old commits
            self.state.set_project(project, refs)
            log.info("git connection %s: watching %s (%d refs)", self.name, project, len(refs))
            return
        changes = diff_refs(seen, refs)
        if not changes:
            return
        if self.remote and any(not c.deleted for c in changes):
            await repos.fetch_mirror(repo, url, (self.proposals,))
        for change in changes:
            event = await self._event(project, repo, change, refs)
            if event is not None:
                assert self._emit is not None, "poll before start()"
                await self._emit(event)  # before recording: the server de-duplicates a replay
            self.state.set_ref(project, change.ref, None if change.deleted else change.newrev)

    async def _event(self, project: str, repo: Path, change: RefChange, refs: dict[str, str]) -> Event | None:
        if change.ref.startswith(self.proposals):
            return await self._proposal_event(project, repo, change, refs)
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

    # -- proposals: what a gate tests and merges

    def proposal(self, ref: str) -> tuple[str, str] | None:
        """(target branch, change name) of a proposal ref `<proposals><branch>/<name>`."""
        if not ref.startswith(self.proposals):
            return None
        branch, _, name = ref[len(self.proposals) :].rpartition("/")
        return (branch, name) if branch and name else None

    async def _proposal_event(
        self, project: str, repo: Path, change: RefChange, refs: dict[str, str]
    ) -> Event | None:
        """`proposal-created` / `proposal-updated` (a change to test and, in a gate, merge), or
        `proposal-deleted` (withdrawn or merged: it leaves every queue)."""
        found = self.proposal(change.ref)
        if found is None:
            return None
        branch, name = found
        common = {"connection": self.name, "project": project, "branch": branch, "ref": change.ref,
                  "change": f"{branch}/{name}"}  # fmt: skip
        if change.deleted:
            return Event(type="proposal-deleted", oldrev=change.oldrev, payload={"closes": True}, **common)
        files = None
        tip = refs.get(f"{HEADS}{branch}")
        if tip:
            try:
                out = await git(
                    "diff", "--name-only", "-z", f"{tip}...{change.newrev}", "--", cwd=repo, timeout=60
                )
                files = nul_split(out)
            except GitError:
                files = None
        return Event(
            type="proposal-created" if change.created else "proposal-updated",
            oldrev=None if change.created else change.oldrev,
            newrev=change.newrev,
            patchset=change.newrev,
            author=await repos.author(repo, change.newrev),
            files=files,
            **common,
        )

    async def merge(self, change: ChangeToMerge) -> str | None:
        """Push the exact tested commit to the branch, compare-and-swap against `previous`, and
        delete the proposal ref (if it still holds the tested patchset) in the same atomic push."""
        url = self._url(change.project)
        merger_repo = self.context.extra.get("merger_repo")
        if merger_repo is None:
            raise MergeFailed("no merger repository to push from")
        source = Path(merger_repo(change.project))
        branch_ref = f"{HEADS}{change.branch}"
        try:
            current = parse_ls_remote((await git("ls-remote", url, branch_ref, timeout=120)).decode())
        except GitError as exc:
            raise MergeFailed(f"cannot read {change.branch} of {change.project}: {exc}", retry=True) from None
        tip = current.get(branch_ref)
        updates = []
        leases = []
        if tip != change.tested:
            if change.previous and tip != change.previous:
                raise MergeFailed(
                    f"{change.branch} moved to {str(tip)[:12]} since the change was tested on "
                    f"{change.previous[:12]}: nothing untested goes onto it"
                )
            if change.previous:
                try:
                    await git("merge-base", "--is-ancestor", change.previous, change.tested, cwd=source)
                except GitError:
                    raise MergeFailed(f"{change.tested[:12]} does not descend from {change.branch}") from None
            updates.append(f"{change.tested}:{branch_ref}")
            leases.append(f"--force-with-lease={branch_ref}:{tip or ''}")
        if change.ref and change.ref.startswith(self.proposals):
            updates.append(f":{change.ref}")
            if change.patchset:
                leases.append(f"--force-with-lease={change.ref}:{change.patchset}")
        if updates:
            try:
                await git("push", "--atomic", "--porcelain", *leases, url, *updates, cwd=source, timeout=600)
            except GitError as exc:
                refused = any(w in str(exc) for w in ("stale info", "rejected", "non-fast-forward", "failed"))
                raise MergeFailed(f"git push to {change.branch} of {change.project}: {exc}",
                                  retry=not refused) from None  # fmt: skip
        self._merged.add((change.project, change.change or ""))
        return change.tested

    def resolve_dependency(self, reference: str) -> DependencyRef | None:
        """`<project>:<proposals><branch>/<name>` (e.g. `lib:refs/proposals/main/fix-x`)."""
        project, sep, ref = reference.strip().partition(":")
        if not sep or not self.proposal(ref) or not repos.safe_project(project) or not self.watches(project):
            return None
        branch, name = self.proposal(ref) or ("", "")
        return DependencyRef(self.name, project, f"{branch}/{name}")

    async def dependency_merged(self, dependency: DependencyRef) -> bool:
        """Merged by a gate here, or its proposal ref is gone and its commit is on the branch."""
        project = dependency.project or ""
        if (project, dependency.change) in self._merged:
            return True
        seen = (self.state.get(project) or {}).get(self.proposals + dependency.change)
        if seen is None:
            return False
        branch = dependency.change.rpartition("/")[0]
        url = self._url(project)
        try:
            await git("merge-base", "--is-ancestor", seen, f"{HEADS}{branch}", cwd=Path(url))
        except GitError:
            return False
        return True


__all__ = ["GitConnection", "ZERO", "parse_config"]
