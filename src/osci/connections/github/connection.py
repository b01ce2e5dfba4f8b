"""The github connection: webhooks in, check runs, commit statuses and comments out.

A delivery is verified on its raw body, read, completed from the API where the payload is
not enough (a pull request's files, a commented pull request's head), and emitted as one
event whose uuid is derived from `X-GitHub-Delivery`: a redelivered webhook is recorded once.
"""

from __future__ import annotations

import hashlib
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
    WebhookRejected,
)
from osci.connections.gitauth import basic_auth_env
from osci.connections.github import merging, webhooks
from osci.connections.github.api import MAX_PAGES, GitHubAPI, GitHubRefused, GitHubUnavailable
from osci.connections.github.auth import AppAuth, TokenAuth
from osci.connections.github.config import check_trigger, parse_options, parse_settings, split_project
from osci.connections.github.reporting import Reporter
from osci.model import Event, Report

log = logging.getLogger(__name__)


def event_uuid(connection: str, delivery: str) -> str:
    """The same delivery (a redelivery, a replay) always makes the same event uuid."""
    return hashlib.sha256(f"github\0{connection}\0{delivery}".encode()).hexdigest()[:32]


class GitHubConnection(Connection):
    driver = "github"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        self.settings = parse_settings(name, config)
        self.api = GitHubAPI(self.settings.api_url, self.settings.timeout)
        if self.settings.app is not None:
            try:
                self.api.auth = AppAuth(self.settings.app, self.api.raw)
            except ConnectionConfigError as exc:
                raise ConnectionConfigError(f"connection {name} (github): {exc}") from None
        else:
            assert self.settings.token is not None
            self.api.auth = TokenAuth(self.settings.token)
        self.reporter = Reporter(self.api, context.base_url)
        self._emit: Emit | None = None

    def __repr__(self) -> str:
        return f"GitHubConnection({self.name!r}, api={self.settings.api_url!r})"

    # -- lifecycle

    async def start(self, emit: Emit) -> None:
        self._emit = emit

    async def stop(self) -> None:
        self._emit = None
        await self.api.aclose()

    # -- repositories

    def clone_url(self, project: str) -> str | None:
        found = split_project(project)
        if found is None:
            return None
        owner, repo = found
        if self.settings.git_is_local:
            path = Path(self.settings.git_url) / owner / f"{repo}.git"
            return str(path) if path.is_dir() else None
        return f"{self.settings.git_url}/{owner}/{repo}.git"

    async def git_env(self, project: str) -> dict[str, str]:
        """Environment for a git command that fetches `project` from `clone_url(project)`: the
        token rides in an HTTP header scoped to `git-url`, never in a URL, an argument or a log.
        Empty for a local `git-url`."""
        found = split_project(project)
        if found is None or self.settings.git_is_local:
            return {}
        assert self.api.auth is not None
        return basic_auth_env(self.settings.git_url, "x-access-token", await self.api.auth.token(*found))

    # -- configuration checks the server runs on every pipeline

    def check_pipeline(self, pipeline: Any) -> None:
        """Refuse trigger filters and reporter options this driver does not understand."""
        for flt in pipeline.triggers.get(self.name, []):
            where = f"{flt.location}: pipeline '{pipeline.name}' trigger"
            check_trigger(self.name, list(flt.events), dict(flt.options), where)
        for slot, reporters in pipeline.reporters.items():
            if self.name in (reporters or {}):
                try:
                    parse_options(self.name, reporters[self.name])
                except ConnectionConfigError as exc:
                    raise ConnectionConfigError(
                        f"{pipeline.location}: pipeline '{pipeline.name}' {slot}: {exc}"
                    ) from None

    # -- reports

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        await self.reporter.report(report, parse_options(self.name, options))

    # -- gating

    async def merge(self, change: ChangeToMerge) -> str | None:
        """Merge the pull request at the head that was tested (`merge-method`: merge, squash or
        rebase); the base branch's new commit. MergeFailed(retry=True) for outages."""
        return await merging.merge(self.api, self.settings, change)

    def resolve_dependency(self, reference: str) -> DependencyRef | None:
        """A `Depends-On:` pull request URL of this GitHub (github.com, or an Enterprise host)."""
        return merging.resolve_dependency(self.name, self.settings, reference)

    # -- webhooks

    async def webhook(self, headers: dict[str, str], body: bytes) -> str:
        webhooks.verify(self.settings.webhook_secret, body, headers.get(webhooks.SIGNATURE))
        delivery = webhooks.read_delivery(headers, body)
        found = webhooks.intent(delivery)
        if isinstance(found, str):
            return found
        if self._emit is None:
            raise WebhookRejected(503, "the connection is not running yet; redeliver later")
        if found.head_unknown and not await self._complete_head(found):
            return f"ignored: pull request {found.pull} is not open"
        if found.pull is not None:
            found.files = await self.pull_files(found.project, found.pull)
        event = Event(
            connection=self.name,
            type=found.type,
            project=found.project,
            branch=found.branch,
            ref=found.ref,
            oldrev=found.oldrev,
            newrev=found.newrev,
            change=found.change,
            patchset=found.patchset,
            author=found.author,
            files=found.files,
            comment=found.comment,
            pipeline=found.pipeline,
            payload={**found.summary, "closes": found.closes},
            uuid=event_uuid(self.name, delivery.id),
        )
        await self._emit(event)
        what = f" {found.action}" if found.action else ""
        return f"{found.type}{what} for {found.project}" + (f"#{found.change}" if found.change else "")

    async def _complete_head(self, found: webhooks.Intent) -> bool:
        """Fill a commented pull request's head and base from the API; False if it is closed."""
        owner, repo = found.project.split("/")
        try:
            response = await self.api.call("GET", f"/repos/{owner}/{repo}/pulls/{found.pull}", owner, repo)
        except (GitHubUnavailable, GitHubRefused) as exc:
            raise WebhookRejected(
                503, f"cannot read pull request {found.pull}: {exc}; redeliver later"
            ) from None
        pull = response.body if isinstance(response.body, dict) else {}
        head = pull.get("head") if isinstance(pull.get("head"), dict) else {}
        base = pull.get("base") if isinstance(pull.get("base"), dict) else {}
        sha = head.get("sha")
        if not isinstance(sha, str) or len(sha) != 40:
            raise WebhookRejected(503, f"GitHub answered pull request {found.pull} without a head sha")
        if pull.get("state") != "open":
            return False
        found.newrev = found.patchset = sha
        found.branch = base.get("ref") if isinstance(base.get("ref"), str) else None
        return True

    async def pull_files(self, project: str, number: int) -> list[str] | None:
        """The files a pull request changes (renames count both names); None when unknown."""
        owner, repo = project.split("/")
        try:
            entries = await self.api.pages(f"/repos/{owner}/{repo}/pulls/{number}/files", owner, repo)
        except (GitHubUnavailable, GitHubRefused) as exc:
            log.warning(
                "github %s: files of %s#%d unknown, every job runs: %s", self.name, project, number, exc
            )
            return None
        if len(entries) >= MAX_PAGES * 100:
            return None  # GitHub lists at most 3000 files: the rest are unknown
        files: dict[str, None] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("previous_filename", "filename"):
                if isinstance(entry.get(key), str):
                    files[entry[key]] = None
        return list(files)
