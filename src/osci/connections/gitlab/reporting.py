"""What osci tells GitLab: a commit status per pipeline and, when asked, a merge request note.

Infrastructure results (ERROR, RETRY_LIMIT) never blame the change: their status is
`canceled`, not `failed`, and its description says "infrastructure error". An aborted item
(dequeued or superseded) is `canceled` as well.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from osci.connections.render import INFRASTRUCTURE, TEST_FAILURES, duration, headline, result_note
from osci.model import BuildReport, Report

DESCRIPTION_CHARS = 140
# buildset result -> (GitLab state, description)
STATES: dict[str | None, tuple[str, str]] = {
    None: ("running", "osci is testing this change"),
    "SUCCESS": ("success", "Build succeeded"),
    "FAILURE": ("failed", "Build failed"),
    "TIMED_OUT": ("failed", "Build failed: a job timed out"),
    "MERGE_CONFLICT": ("failed", "Merge conflict: the change does not merge onto its branch"),
    "ERROR": ("canceled", "Infrastructure error: not tested (not a test failure)"),
    "RETRY_LIMIT": ("canceled", "Infrastructure error: setup kept failing (not a test failure)"),
    "ABORTED": ("canceled", "Aborted: dequeued or superseded"),
    "NO_JOBS": ("success", "No jobs to run for this change"),
}
UNKNOWN = ("canceled", "Not tested")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&])")
_DELIVERY = re.compile(r"[^A-Za-z0-9._:/-]")


def status_name(report: Report) -> str:
    return f"osci/{report.pipeline}"


def target_url(report: Report, base_url: str) -> str:
    """The buildset's page on the osci dashboard, or the status page before there is one."""
    if report.buildset_uuid:
        return f"{base_url}/buildset/{report.buildset_uuid}"
    return report.status_url or f"{base_url}/status"


def _failing_jobs(report: Report) -> list[str]:
    return [b.job for b in report.builds if b.voting and b.result in TEST_FAILURES]


def status_fields(report: Report, base_url: str) -> dict[str, Any]:
    """The body of `POST /projects/:id/statuses/:sha` for this report."""
    state, description = STATES.get(report.result, UNKNOWN)
    if report.result is None and report.slot != "start":
        state, description = UNKNOWN
    failing = _failing_jobs(report)
    if report.result in ("FAILURE", "TIMED_OUT") and failing:
        description += ": " + ", ".join(failing)
    elif report.result == "SUCCESS" and report.builds:
        description += f": {len(report.builds)} job{'s' if len(report.builds) != 1 else ''}"
    if len(description) > DESCRIPTION_CHARS:
        description = description[: DESCRIPTION_CHARS - 1] + "…"
    fields: dict[str, Any] = {
        "state": state,
        "name": status_name(report),
        "target_url": target_url(report, base_url),
        "description": description,
    }
    if report.change is None and report.branch:
        fields["ref"] = report.branch  # a pushed branch; a merge request's head is found by its sha
    return fields


# -- the note


def marker(report: Report) -> str:
    """The hidden line that names this report in its note, so a retry never posts it twice. The
    item's uuid keeps two osci servers reporting on one merge request apart."""
    delivery = re.sub("-{2,}", "-", _DELIVERY.sub("", f"{report.delivery}/{report.item_uuid}"))
    return f"<!-- osci-delivery: {delivery} -->"


def md(text: object) -> str:
    """Text from a build, safe in Markdown: no markup, no HTML, no table breaks."""
    flat = " ".join(str(text).split())
    return _MARKDOWN.sub(r"\\\1", flat)


def _link(url: str, label: str) -> str:
    if url and urlsplit(url).scheme.lower() in ("http", "https") and not re.search(r"[\s()<>]", url):
        return f"[{label}]({url})"
    return ""


def _row(build: BuildReport) -> str:
    job = md(build.job) + ("" if build.voting else " *(non-voting)*")
    result = md(result_note(build)) if build.result else "running"
    took = duration(build.duration) if build.result else ""
    return f"| {job} | {result} | {took} | {_link(build.log_url, 'logs')} |"


def note_body(report: Report, base_url: str) -> str:
    """The merge request note: headline, job table with log links, failed tests, the marker."""
    lines = [f"**osci** `{md(report.pipeline)}`: **{md(headline(report))}**"]
    if report.message and report.result not in ("SUCCESS", None):
        lines += ["", md(report.message.strip()[:500])]
    if report.builds:
        lines += ["", "| job | result | duration | logs |", "|---|---|---|---|"]
        lines += [_row(b) for b in report.builds]
    failed = [(b, t) for b in report.builds if b.result in TEST_FAILURES for t in b.failed_tests]
    if failed:
        lines += ["", "Failed tests:"]
        lines += [f"- {md(b.job)}: {md(t.name[:200])} ({md(t.status)})" for b, t in failed[:20]]
        if len(failed) > 20:
            lines.append(f"- … and {len(failed) - 20} more")
    infra = [b for b in report.builds if b.result in INFRASTRUCTURE]
    if infra:
        lines += ["", "Infrastructure errors (not test failures; the change is not blamed):"]
        lines += [f"- {md(b.job)}" + (f": {md(b.reason[:200])}" if b.reason else "") for b in infra]
    page = _link(target_url(report, base_url), "this buildset on osci")
    if page:
        lines += ["", f"Details: {page}"]
    lines += ["", marker(report)]
    return "\n".join(lines) + "\n"
