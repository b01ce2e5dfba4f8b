"""The gerrit connection: `gerrit stream-events` in, votes and comments out.

Events come from the SSH stream (see stream.py for reconnection and catch-up), are read as
osci events (events.py), completed where a pipeline needs it (the changed files from REST
or `gerrit query --files`; the change's current patchset and votes for `require`/`reject`)
and emitted; the server records each once. Reports go out as reviews (reporting.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
from typing import Any
from urllib.parse import quote, urlsplit

from osci.config.change_filters import check_approvals
from osci.config.errors import ErrorList
from osci.connections.base import (
    ChangeToMerge,
    Connection,
    ConnectionConfigError,
    ConnectionContext,
    DependencyRef,
    Emit,
    MergeFailed,
)
from osci.connections.gerrit import events as ev
from osci.connections.gerrit.reporting import Reporter, change_id, parse_options
from osci.connections.gerrit.rest import GerritHTTPError, GerritREST
from osci.connections.gerrit.settings import GerritSettings, parse_settings
from osci.connections.gerrit.ssh import GerritSSH, GerritUnavailable
from osci.connections.gerrit.stream import EventStream, StreamState
from osci.connections.gitauth import basic_auth_env
from osci.model import Event, Report
from osci.scheduler.triggers import filter_matches

log = logging.getLogger(__name__)

FILTER_KEYS = ("branch", "ref", "comment", "approval")
CHANGE_ID = re.compile(r"I[0-9a-fA-F]{40}")
# https://review.example.org/c/org/app/+/123, .../#/c/123/, .../123
CHANGE_URL = re.compile(r"(?:/c/(?P<project>.+?)/\+)?/(?P<number>\d+)/?(?:\d+/?)?$")
# events whose change may be tested: their files are worth asking Gerrit for
TESTABLE = (
    "patchset-created",
    "comment-added",
    "change-restored",
    "wip-state-changed",
    "private-state-changed",
)


class GerritConnection(Connection):
    driver = "gerrit"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        self.settings: GerritSettings = parse_settings(name, config)
        self.folder = context.data_dir / "connections" / name
        self.ssh = GerritSSH(self.settings)
        self.rest = GerritREST(self.settings) if self.settings.baseurl else None
        self.reporter = Reporter(self.settings, self.ssh, self.rest, self.folder)
        self.stream = EventStream(
            name, self.ssh, StreamState(self.folder / "stream.json"), self._handle, self.settings.max_backoff
        )
        self._filters: dict[str, list[Any]] = {}  # pipeline -> its trigger filters on this connection
        self._needs_state = False  # some pipeline requires or rejects on votes or the current patchset
        self._emit: Emit | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        s = self.settings
        return f"GerritConnection({self.name!r}, {s.user}@{s.server}:{s.port})"

    # -- lifecycle

    async def start(self, emit: Emit) -> None:
        self._emit = emit
        self._task = asyncio.create_task(self.stream.run(), name=f"osci-gerrit-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.ssh.close()
        if self.rest is not None:
            await self.rest.aclose()

    # -- repositories

    def clone_url(self, project: str) -> str | None:
        if project not in {p for p, _ in self.context.projects()}:
            return None
        return self.settings.project_url(project)

    async def git_env(self, project: str) -> dict[str, str]:
        """git's SSH command with the connection's key and known hosts, or, over HTTPS, the HTTP
        password as a header scoped to `git-url` (never in a URL or an argument)."""
        s = self.settings
        if s.git_over_ssh:
            command = ["ssh", "-i", str(s.ssh_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
            if s.known_hosts is not None:
                command += ["-o", f"UserKnownHostsFile={s.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
            return {"GIT_SSH_COMMAND": shlex.join(command)}
        if s.git_url.startswith(("http://", "https://")) and s.password:
            return basic_auth_env(s.git_url, s.user, s.password)
        return {}

    # -- configuration checks (the server calls this for every pipeline, at start and reload)

    def check_pipeline(self, pipeline: Any) -> None:
        where = f"{pipeline.location}: pipeline '{pipeline.name}'"
        filters = pipeline.triggers.get(self.name, [])
        for flt in filters:
            for event in flt.events:
                if event not in ev.TYPES:
                    raise ConnectionConfigError(
                        f"{flt.location}: pipeline '{pipeline.name}' trigger {self.name}: unknown Gerrit event "
                        f"'{event}'; expected one of {', '.join(ev.TYPES)}"
                    )
            for key in flt.options:
                if key not in FILTER_KEYS:
                    raise ConnectionConfigError(
                        f"{flt.location}: pipeline '{pipeline.name}' trigger {self.name}: unknown key '{key}'; "
                        f"expected one of event, {', '.join(FILTER_KEYS)}"
                    )
            if "approval" in flt.options:
                errors = ErrorList()
                check_approvals(errors, flt.options["approval"], flt.location, f"trigger {self.name}")
                if errors:
                    raise ConnectionConfigError(f"{where} {errors.items[0].message}")
        for slot, reporters in pipeline.reporters.items():
            if self.name in (reporters or {}):
                try:
                    parse_options(self.name, reporters[self.name])
                except ConnectionConfigError as exc:
                    raise ConnectionConfigError(f"{where} {slot}: {exc}") from None
        self._filters[pipeline.name] = list(filters)
        for rules in (pipeline.require.get(self.name), pipeline.reject.get(self.name)):
            if rules and any(k in rules for k in ("approval", "current-patchset", "current-patch-set")):
                self._needs_state = True

    # -- events

    def _wanted(self, event: Event) -> bool:
        """Whether some pipeline's trigger takes this event (before asking Gerrit more about it)."""
        if not self._filters:
            return True  # nothing said which: complete every event
        return any(
            filter_matches(list(f.events), dict(f.options), event)
            for fs in self._filters.values()
            for f in fs
        )

    async def _handle(self, event: Event) -> None:
        if event.type in TESTABLE and event.change and self._wanted(event):
            if event.files is None:
                event.files = await self.files(event.project, event.change, event.patchset, event.newrev)
            if self._needs_state and event.type != "patchset-created":
                await self._complete_state(event)
        assert self._emit is not None
        await self._emit(event)

    async def files(
        self, project: str, change: str, patchset: str | None, revision: str | None
    ) -> list[str] | None:
        """The files a patchset changes, from Gerrit; None (the planner then asks git) if Gerrit cannot say."""
        try:
            if self.rest is not None:
                body = await self.rest.call(
                    "GET", f"/changes/{change_id(project, change)}/revisions/{revision or patchset}/files"
                )
                return ev.rest_files(body)
            row = await self._change_row(change)
            for ps in (row or {}).get("patchSets") or []:
                if str(ps.get("number")) == str(patchset):
                    return ev.changed_files(ps)
        except (GerritHTTPError, GerritUnavailable, ValueError) as exc:
            log.warning("gerrit %s: files of change %s,%s unknown: %s", self.name, change, patchset, exc)
        return None

    async def _change_row(self, change: str) -> dict[str, Any] | None:
        output = await self.ssh.run(
            "gerrit",
            "query",
            "--format=JSON",
            "--current-patch-set",
            "--patch-sets",
            "--files",
            f"change:{change}",
        )
        rows, _ = ev.query_rows(output)
        return rows[0] if rows else None

    async def _complete_state(self, event: Event) -> None:
        """The change's current patchset and votes, which a stream event does not carry."""
        try:
            row = await self._change_row(str(event.change))
        except (GerritUnavailable, ValueError) as exc:
            log.warning("gerrit %s: state of change %s unknown: %s", self.name, event.change, exc)
            event.change_state = None  # requirements on it then fail: better than a wrong vote
            return
        if row is not None:
            event.change_state = ev.change_state(row, event.patchset)

    async def change_event(self, change: str, patchset: str | None, project: str | None) -> Event | None:
        try:
            row = await self._change_row(change)
        except GerritUnavailable as exc:
            raise ValueError(f"gerrit {self.name}: {exc}") from None
        if row is None or (project is not None and row.get("project") != project):
            return None
        wanted = patchset or str((row.get("currentPatchSet") or {}).get("number"))
        for ps in row.get("patchSets") or [row.get("currentPatchSet") or {}]:
            if str(ps.get("number")) == wanted:
                event = ev.patchset_event(self.name, row, ps)
                if event is not None:
                    event.uuid = Event(connection="", type="", project="").uuid  # a request by hand is new
                    event.change_state = ev.change_state(row, event.patchset)
                    if event.files is None:
                        event.files = await self.files(event.project, change, event.patchset, event.newrev)
                return event
        raise ValueError(f"change {change} has no patchset {wanted}")

    # -- the gate: submit, and Depends-On (a Change-Id or a change URL)

    async def merge(self, change: ChangeToMerge) -> str | None:
        """REST `POST /changes/{id}/revisions/{patchset}/submit`. Gerrit merges the change itself
        (its project's submit type); a 409 (not mergeable, missing votes, closed) is a refusal."""
        if self.rest is None:
            raise MergeFailed(f"gerrit {self.name}: submitting needs 'baseurl' (REST)")
        if not change.change:
            raise MergeFailed(f"gerrit {self.name}: only changes can be submitted")
        path = f"/changes/{change_id(change.project, change.change)}/revisions/{change.patchset or 'current'}/submit"
        try:
            await self.rest.call("POST", path, {})
        except GerritHTTPError as exc:
            raise MergeFailed(f"gerrit {self.name}: submit refused: {exc}", retry=exc.retriable) from None
        return None

    def resolve_dependency(self, reference: str) -> DependencyRef | None:
        value = reference.strip()
        if CHANGE_ID.fullmatch(value):
            return DependencyRef(self.name, None, value)
        parts = urlsplit(value)
        hosts = {self.settings.server}
        if self.settings.baseurl:
            hosts.add(urlsplit(self.settings.baseurl).hostname or "")
        if parts.scheme not in ("http", "https") or parts.hostname not in hosts:
            return None
        found = CHANGE_URL.search(parts.path + ("#" + parts.fragment if parts.fragment else ""))
        if found is None:
            return None
        return DependencyRef(self.name, found["project"] or None, found["number"])

    async def dependency_merged(self, dependency: DependencyRef) -> bool:
        if self.rest is None:
            return False
        ident = (
            change_id(dependency.project, dependency.change)
            if dependency.project
            else quote(dependency.change, safe="")
        )
        try:
            info = await self.rest.call("GET", f"/changes/{ident}")
        except GerritHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return isinstance(info, dict) and info.get("status") == "MERGED"

    # -- reports

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        await self.reporter.report(report, parse_options(self.name, options))
