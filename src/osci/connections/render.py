"""A report as plain text, as HTML and as a subject line, shared by the reporters.

Infrastructure results (ERROR, RETRY_LIMIT) are called out as such and never listed as
test failures: a red report must mean the change broke something. Everything that comes
from a build (job names, test names, outputs, reasons, URLs) is treated as hostile in HTML.
"""

from __future__ import annotations

import html
import string
from urllib.parse import urlsplit

from osci.connections.base import ConnectionConfigError
from osci.model import BuildReport, Report

INFRASTRUCTURE = ("ERROR", "RETRY_LIMIT")
TEST_FAILURES = ("FAILURE", "TIMED_OUT")
OUTPUT_LINES = 10  # lines of each failed test's output shown
OUTPUT_CHARS = 2000
SUBJECT_FIELDS = ("pipeline", "project", "branch", "change", "result")
DEFAULT_SUBJECT = "[osci] {pipeline} {project} {change}: {result}"

HEADLINES = {
    None: "Testing started.",
    "SUCCESS": "Build succeeded.",
    "FAILURE": "Build failed.",
    "TIMED_OUT": "Build failed: a job timed out.",
    "ERROR": "Infrastructure error: the change could not be tested. This is not a test failure.",
    "RETRY_LIMIT": "Infrastructure error: setup kept failing, the change could not be tested. This is not a test failure.",
    "MERGE_CONFLICT": "Merge conflict: the change could not be merged onto its base.",
    "ABORTED": "Build aborted.",
    "SKIPPED": "Build skipped.",
}


def change_label(report: Report) -> str:
    """`12345,3` for a review, else the branch or ref with the short commit."""
    if report.change:
        return f"{report.change},{report.patchset}" if report.patchset else report.change
    where = report.branch or (report.ref or "").removeprefix("refs/tags/")
    if report.newrev:
        return f"{where}@{report.newrev[:10]}" if where else report.newrev[:10]
    return where


def headline(report: Report) -> str:
    if report.result is None and report.slot != "start":
        return f"{report.slot.capitalize()}."
    return HEADLINES.get(report.result, f"Result: {report.result}.")


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def result_note(build: BuildReport) -> str:
    """The result as a reader should take it (infrastructure spelled out)."""
    if build.result in INFRASTRUCTURE:
        attempts = f" after {build.attempts} attempts" if build.attempts > 1 else ""
        return f"{build.result} (infrastructure error{attempts}, not a test failure)"
    return build.result


def output_head(text: str) -> list[str]:
    lines = text[:OUTPUT_CHARS].splitlines()[:OUTPUT_LINES]
    return [line.rstrip() for line in lines]


def _infra(report: Report) -> list[BuildReport]:
    return [b for b in report.builds if b.result in INFRASTRUCTURE]


def _failed(report: Report) -> list[BuildReport]:
    return [b for b in report.builds if b.result in TEST_FAILURES and b.failed_tests]


def _short_result(build: BuildReport) -> str:
    return f"{build.result} (infrastructure)" if build.result in INFRASTRUCTURE else build.result


def _job(build: BuildReport) -> str:
    return build.job + ("" if build.voting else " (non-voting)")


# -- plain text


def render_text(report: Report) -> str:
    lines = [headline(report)]
    if report.message:
        lines += ["", report.message.strip()]
    lines += ["", f"Pipeline: {report.pipeline}", f"Project:  {report.project}"]
    if report.branch:
        lines.append(f"Branch:   {report.branch}")
    if change_label(report):
        lines.append(f"Change:   {change_label(report)}")
    if report.status_url:
        lines.append(f"Status:   {report.status_url}")
    if report.builds:
        width = max(len(_job(b)) for b in report.builds)
        rwidth = max(len(_short_result(b)) for b in report.builds)
        lines += ["", "Jobs:"]
        for b in report.builds:
            row = f"  {_job(b).ljust(width)}  {_short_result(b).ljust(rwidth)}  {duration(b.duration):>10}"
            lines.append(f"{row}  {b.log_url}" if b.log_url else row)
    failed = _failed(report)
    if failed:
        lines += ["", "Failed tests:"]
        for b in failed:
            for test in b.failed_tests:
                lines.append(f"  {b.job}: {test.name} ({test.status})")
                lines += [f"      {line}" for line in output_head(test.output_head)]
    infra = _infra(report)
    if infra:
        lines += ["", "Infrastructure errors (not test failures; the change is not blamed):"]
        for b in infra:
            lines.append(f"  {b.job}: {result_note(b)}" + (f": {b.reason}" if b.reason else ""))
    return "\n".join(lines) + "\n"


# -- HTML


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(url: str, text: str | None = None) -> str:
    """A link only for http(s) URLs; anything else is shown as escaped text."""
    label = _e(text if text is not None else url)
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return f'<a href="{_e(url)}">{label}</a>'
    return label


def _html_jobs(report: Report) -> list[str]:
    out = ['<table border="1" cellpadding="4" cellspacing="0">']
    out.append("<tr><th>job</th><th>result</th><th>duration</th><th>logs</th></tr>")
    for b in report.builds:
        job = _e(b.job) + (" <em>(non-voting)</em>" if not b.voting else "")
        logs = _link(b.log_url, "logs") if b.log_url else ""
        out.append(
            f"<tr><td>{job}</td><td>{_e(result_note(b))}</td><td>{_e(duration(b.duration))}</td><td>{logs}</td></tr>"
        )
    out.append("</table>")
    return out


def render_html(report: Report) -> str:
    out = ["<html><body>", f"<p><strong>{_e(headline(report))}</strong></p>"]
    if report.message:
        out.append(f"<p>{_e(report.message.strip())}</p>")
    facts = [("Pipeline", report.pipeline), ("Project", report.project), ("Branch", report.branch)]
    facts.append(("Change", change_label(report)))
    out.append("<p>" + "<br>".join(f"{k}: {_e(v)}" for k, v in facts if v))
    if report.status_url:
        out.append("<br>Status: " + _link(report.status_url))
    out.append("</p>")
    if report.builds:
        out += _html_jobs(report)
    failed = _failed(report)
    if failed:
        out.append("<h3>Failed tests</h3><ul>")
        for b in failed:
            for test in b.failed_tests:
                head = "\n".join(output_head(test.output_head))
                pre = f"<pre>{_e(head)}</pre>" if head else ""
                out.append(f"<li>{_e(b.job)}: <code>{_e(test.name)}</code> ({_e(test.status)}){pre}</li>")
        out.append("</ul>")
    infra = _infra(report)
    if infra:
        out.append("<h3>Infrastructure errors (not test failures; the change is not blamed)</h3><ul>")
        for b in infra:
            reason = f": {_e(b.reason)}" if b.reason else ""
            out.append(f"<li>{_e(b.job)}: {_e(result_note(b))}{reason}</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- subject


def check_template(template: str) -> None:
    """Raise ConnectionConfigError unless `template` uses only the plain subject fields."""
    if not isinstance(template, str):
        raise ConnectionConfigError(f"subject must be a string, got {template!r}")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConnectionConfigError(f"subject {template!r}: {exc}") from None
    for field in fields:
        if field not in SUBJECT_FIELDS:
            raise ConnectionConfigError(
                f"subject {template!r}: unknown field {{{field}}}; use {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
            )


def subject(report: Report, template: str = DEFAULT_SUBJECT) -> str:
    """`template` filled in, on one line (a header must never carry a newline)."""
    check_template(template)
    values = {
        "pipeline": report.pipeline,
        "project": report.project,
        "branch": report.branch or "",
        "change": change_label(report),
        "result": report.result or ("STARTED" if report.slot == "start" else report.slot.upper()),
    }
    try:
        text = template.format(**values)
    except (ValueError, IndexError) as exc:  # e.g. a bad format spec such as {result:d}
        raise ConnectionConfigError(f"subject {template!r}: {exc}") from None
    return " ".join(text.split())[:250]
