"""Reports to GitHub: a check run per pipeline, commit statuses, pull request comments.

Every step can be sent again without harm, because the outbox retries a whole report when
any step fails: a check run is found again by its name and `external_id` (the item) and
updated instead of duplicated, and never taken back from completed to in progress (a start
report retried after the result); a status is not set back to pending once the buildset
has a result; a comment carries the report's delivery id and is not posted twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from osci.connections import render
from osci.connections.base import ConnectionConfigError
from osci.connections.github import markdown
from osci.connections.github.api import GitHubAPI
from osci.connections.github.config import ReportOptions, split_project
from osci.model import Report

# An item's result -> the check run's conclusion (infrastructure: ReportOptions.error_conclusion).
CONCLUSIONS = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "TIMED_OUT": "timed_out",
    "MERGE_CONFLICT": "failure",
    "ABORTED": "cancelled",
    "NO_JOBS": "skipped",
    "SKIPPED": "skipped",
}
STATES = {"SUCCESS": "success", "NO_JOBS": "success", "FAILURE": "failure", "TIMED_OUT": "failure"}
STATUS_DESCRIPTION = 140  # GitHub's limit
MARKER = "<!-- osci-delivery: {} -->"


def check_name(report: Report) -> str:
    return f"osci/{report.pipeline}"


def details_url(base_url: str, report: Report) -> str | None:
    if report.buildset_uuid:
        return f"{base_url.rstrip('/')}/buildset/{report.buildset_uuid}"
    return f"{base_url.rstrip('/')}/" if base_url else None


def conclusion(report: Report, options: ReportOptions) -> str:
    result = report.result or ""
    if result in render.INFRASTRUCTURE:
        return options.error_conclusion
    return CONCLUSIONS.get(result, "neutral")


def commit_state(report: Report) -> str:
    if report.slot == "start" or report.result is None:
        return "pending"
    return STATES.get(report.result, "error")  # infrastructure, aborted, merge conflict...


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_run_body(report: Report, options: ReportOptions, url: str | None) -> dict[str, Any]:
    """The fields of a check run for this report (create or update)."""
    body: dict[str, Any] = {
        "name": check_name(report),
        "head_sha": _sha(report),
        "external_id": report.item_uuid,
        "output": {
            "title": render.headline(report)[:250],
            "summary": markdown.summary(report, url),
        },
    }
    if url and url.startswith(("http://", "https://")):
        body["details_url"] = url
    text = markdown.details(report)
    if text:
        body["output"]["text"] = markdown.clip(text)
    if report.slot == "start":
        body.update(status="in_progress", started_at=_now())
    else:
        body.update(status="completed", conclusion=conclusion(report, options), completed_at=_now())
    return body


def status_body(report: Report, url: str | None) -> dict[str, Any]:
    state = commit_state(report)
    description = render.headline(report) if report.slot != "start" else "Testing started."
    body: dict[str, Any] = {
        "state": state,
        "context": check_name(report),
        "description": description[:STATUS_DESCRIPTION],
    }
    if url and url.startswith(("http://", "https://")):
        body["target_url"] = url
    return body


def _sha(report: Report) -> str:
    sha = report.newrev or report.patchset or ""
    if len(sha) != 40:
        raise ConnectionConfigError(
            f"github reporter: the item of {report.project} has no commit to report on (got {sha!r})"
        )
    return sha


def _repo(report: Report) -> tuple[str, str]:
    found = split_project(report.project)
    if found is None:
        raise ConnectionConfigError(
            f"github reporter: project {report.project!r} is not a GitHub owner/repo name"
        )
    return found


class Reporter:
    def __init__(self, api: GitHubAPI, base_url: str) -> None:
        self.api = api
        self.base_url = base_url

    async def report(self, report: Report, options: ReportOptions) -> None:
        owner, repo = _repo(report)
        url = details_url(self.base_url, report)
        if options.check:
            await self.check_run(owner, repo, report, options, url)
        if options.status:
            await self.status(owner, repo, report, url)
        if options.comment and report.change:
            await self.comment(owner, repo, report, url)

    async def find_check_run(self, owner: str, repo: str, report: Report) -> dict[str, Any] | None:
        """This item's check run on the commit, if an earlier report made one."""
        runs = await self.api.pages(
            f"/repos/{owner}/{repo}/commits/{_sha(report)}/check-runs",
            owner,
            repo,
            params={"check_name": check_name(report), "filter": "all"},
            key="check_runs",
        )
        mine = [r for r in runs if isinstance(r, dict) and r.get("external_id") == report.item_uuid]
        return max(mine, key=lambda r: r.get("id") or 0) if mine else None

    async def check_run(
        self, owner: str, repo: str, report: Report, options: ReportOptions, url: str | None
    ) -> None:
        body = check_run_body(report, options, url)
        existing = await self.find_check_run(owner, repo, report)
        if existing is None:
            await self.api.call("POST", f"/repos/{owner}/{repo}/check-runs", owner, repo, body=body)
            return
        if report.slot == "start" and existing.get("status") == "completed":
            return  # the result was reported already; a late start must not undo it
        body.pop("head_sha")
        if report.slot != "start" and existing.get("status") == "completed":
            body.pop("completed_at")  # the same result sent again: keep the first completion time
        await self.api.call(
            "PATCH", f"/repos/{owner}/{repo}/check-runs/{existing['id']}", owner, repo, body=body
        )

    async def status(self, owner: str, repo: str, report: Report, url: str | None) -> None:
        body = status_body(report, url)
        if body["state"] == "pending" and url:
            statuses = await self.api.pages(
                f"/repos/{owner}/{repo}/commits/{_sha(report)}/statuses", owner, repo
            )
            if any(
                isinstance(s, dict)
                and s.get("context") == body["context"]
                and s.get("target_url") == url
                and s.get("state") != "pending"
                for s in statuses
            ):
                return  # this buildset's result is already there
        await self.api.call("POST", f"/repos/{owner}/{repo}/statuses/{_sha(report)}", owner, repo, body=body)

    async def comment(self, owner: str, repo: str, report: Report, url: str | None) -> None:
        number = report.change
        text = markdown.comment(report, url)
        if report.delivery:
            marker = MARKER.format(report.delivery)
            comments = await self.api.pages(f"/repos/{owner}/{repo}/issues/{number}/comments", owner, repo)
            if any(isinstance(c, dict) and marker in str(c.get("body", "")) for c in comments):
                return  # posted by an earlier try whose answer was lost
            text = f"{text}\n\n{marker}"
        await self.api.call(
            "POST", f"/repos/{owner}/{repo}/issues/{number}/comments", owner, repo, body={"body": text}
        )
