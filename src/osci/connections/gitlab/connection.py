"""The gitlab connection: merge request, push and comment webhooks in; commit statuses and
merge request notes out.

A webhook is checked against the secret token before its body is read. Each delivery becomes
at most one event, whose uuid is derived from the delivery, so a redelivered hook is recorded
once. A merge request's changed files come from the API, so `files` matchers work; when the
API cannot say (down, slow, too many files) the files are unknown and every job runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from osci.connections.base import (
    ChangeToMerge,
    Connection,
    ConnectionConfigError,
    ConnectionContext,
    DependencyRef,
    Emit,
    ReportError,
    WebhookRejected,
)
from osci.connections.gitauth import basic_auth_env
from osci.connections.gitlab import hooks, merging, reporting
from osci.connections.gitlab.api import GitLabAPI, GitLabError, for_reporting
from osci.connections.gitlab.settings import (
    check_requirements,
    check_trigger,
    parse_options,
    parse_settings,
)
from osci.model import Report

log = logging.getLogger(__name__)

FILES_TIMEOUT = 8.0  # seconds for all of a merge request's files; GitLab waits 10 s for an answer
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^[^/\s]+@[^/\s]+:")


class GitLabConnection(Connection):
    driver = "gitlab"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        self.settings = parse_settings(name, config)
        self.api = GitLabAPI(self.settings.api, self.settings.token)
        self._emit: Emit | None = None

    def __repr__(self) -> str:
        return f"GitLabConnection({self.name!r}, baseurl={self.settings.baseurl!r})"

    # -- repositories

    async def start(self, emit: Emit) -> None:
        self._emit = emit  # webhooks drive this connection: nothing to start

    def clone_url(self, project: str) -> str | None:
        """`<git-url>/<project>.git`; for a local folder, the bare repository found there."""
        base = self.settings.git_url
        if not _REMOTE.match(base):
            folder = Path(base).expanduser()
            for candidate in (folder / f"{project}.git", folder / project):
                if candidate.is_dir():
                    return str(candidate)
            return None
        separator = "" if base.endswith(("/", ":")) else "/"
        return f"{base}{separator}{project}.git"

    async def git_env(self, project: str) -> dict[str, str]:
        """Environment for a git command that fetches `project` from `clone_url(project)`: over
        HTTPS the token rides in an HTTP header scoped to `git-url` (GitLab takes any user name
        with a token as the password), never in a URL, an argument or a log. Empty for a local
        folder, an SSH `git-url` (its keys are the operator's) or a connection without a token."""
        base = self.settings.git_url.rstrip("/")
        if not self.settings.token or not base.lower().startswith(("https://", "http://")):
            return {}
        return basic_auth_env(base, "oauth2", self.settings.token)

    # -- configuration checks the server runs on every pipeline

    def check_pipeline(self, pipeline: Any) -> None:
        """Refuse trigger filters and reporter options this driver does not understand."""
        for flt in pipeline.triggers.get(self.name, []):
            where = f"{flt.location}: pipeline '{pipeline.name}' trigger"
            check_trigger(self.name, list(flt.events), dict(flt.options), where)
        for key in ("require", "reject"):
            if self.name in (getattr(pipeline, key, None) or {}):
                where = f"{pipeline.location}: pipeline '{pipeline.name}'"
                check_requirements(self.name, key, getattr(pipeline, key)[self.name], where)
        for slot, reporters in pipeline.reporters.items():
            if self.name in (reporters or {}):
                try:
                    parse_options(self.name, reporters[self.name])
                except ConnectionConfigError as exc:
                    raise ConnectionConfigError(
                        f"{pipeline.location}: pipeline '{pipeline.name}' {slot}: {exc}"
                    ) from None

    # -- gating

    async def merge(self, change: ChangeToMerge) -> str | None:
        """Merge the merge request at the head that was tested (`squash`, `remove-source-branch`
        as the connection says); the target branch's new commit. MergeFailed(retry=True) for outages."""
        return await merging.merge(self.name, self.settings, change)

    def resolve_dependency(self, reference: str) -> DependencyRef | None:
        """A `Depends-On:` merge request URL of this GitLab (`<baseurl>/<group>/.../-/merge_requests/<iid>`)."""
        return merging.resolve_dependency(self.name, self.settings, reference)

    # -- webhooks in

    async def webhook(self, headers: dict[str, str], body: bytes) -> str:
        hooks.verify_token(self.settings.webhook_token, headers)
        hook = hooks.parse(self.name, headers, body)
        event = hook.event
        if event is None:
            return hook.detail
        if self._emit is None:
            raise WebhookRejected(503, f"connection {self.name} is not started; redeliver later")
        if hook.needs_files and self._tests(event.project):
            event.files = await self._merge_request_files(event.project, event.change or "")
        await self._emit(event)
        return f"{hook.detail} (event {event.uuid})"

    def _tests(self, project: str) -> bool:
        projects = [p for p, _ in self.context.projects()]
        return not projects or project in projects

    async def _merge_request_files(self, project: str, iid: str) -> list[str] | None:
        api = GitLabAPI(self.settings.api, self.settings.token, timeout=FILES_TIMEOUT)
        try:
            async with api.client() as client:
                return await asyncio.wait_for(api.merge_request_files(client, project, iid), FILES_TIMEOUT)
        except (GitLabError, ReportError, TimeoutError) as exc:
            log.warning(
                "gitlab connection %s: cannot list the files of %s!%s (every job runs): %s",
                self.name,
                project,
                iid,
                exc,
            )
            return None

    # -- reports out

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        wanted = parse_options(self.name, options)
        if not (wanted.status or wanted.comment):
            return
        if not self.settings.token:
            raise ConnectionConfigError(f"connection {self.name} (gitlab): reporting needs a 'token'")
        base = self.context.base_url.rstrip("/")
        async with self.api.client() as client:
            if wanted.status and report.newrev and set(report.newrev) != {"0"}:
                fields = reporting.status_fields(report, base)
                what = f"status {fields['state']} on {report.project}@{report.newrev[:12]}"
                try:
                    await self.api.post_status(client, report.project, report.newrev, fields)
                except GitLabError as exc:
                    raise for_reporting(exc, what) from None
            if wanted.comment and report.change:
                await self._note(client, report, base)

    async def _note(self, client: Any, report: Report, base: str) -> None:
        iid = report.change or ""
        what = f"note on {report.project}!{iid}"
        marker = reporting.marker(report)
        try:
            if report.delivery:  # a retry after a lost answer must not post the note twice
                for existing in await self.api.recent_notes(client, report.project, iid):
                    if marker in str(existing.get("body", "")):
                        return
            await self.api.post_note(client, report.project, iid, reporting.note_body(report, base))
        except GitLabError as exc:
            raise for_reporting(exc, what) from None
