"""A report as GitHub Markdown: the job table (job, result, duration, log link), failed tests
and infrastructure errors, for check run output and pull request comments.

Everything from a build (job and test names, outputs, reasons, URLs) is hostile: table cells
are escaped so they stay text, outputs go in fences longer than any backtick run inside them,
and only http(s) URLs become links.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from osci.connections import render
from osci.model import BuildReport, Report

MAX_CHARS = 60000  # GitHub allows 65535 characters in a check run's summary, text and a comment
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape(text: object) -> str:
    """`text` as literal Markdown on one line: no markup, no HTML, no table breaks."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", flat)


def link(url: str, label: str) -> str:
    """A Markdown link for an http(s) URL; anything else is shown as escaped text."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return escape(url)
    return f"[{escape(label)}]({quote(url, safe=':/?#[]@!$&*+,;=%~.-_')})"


def fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _job(build: BuildReport) -> str:
    return escape(build.job) + ("" if build.voting else " *(non-voting)*")


def job_table(report: Report) -> str:
    if not report.builds:
        return ""
    rows = ["| job | result | duration | logs |", "|---|---|---|---|"]
    for b in report.builds:
        result = escape(render.result_note(b) if b.result else "pending")
        logs = link(b.log_url, "logs") if b.log_url else ""
        took = escape(render.duration(b.duration)) if b.result else ""
        rows.append(f"| {_job(b)} | {result} | {took} | {logs} |")
    return "\n".join(rows)


def details(report: Report) -> str:
    """Failed tests with the head of their output, then infrastructure errors."""
    out: list[str] = []
    failed = [b for b in report.builds if b.result in render.TEST_FAILURES and b.failed_tests]
    if failed:
        out.append("### Failed tests")
        for b in failed:
            for test in b.failed_tests:
                out.append(f"- {escape(b.job)}: `{escape(test.name)}` ({escape(test.status)})")
                head = "\n".join(render.output_head(test.output_head))
                if head:
                    out.append(fence(head))
    infra = [b for b in report.builds if b.result in render.INFRASTRUCTURE]
    if infra:
        out.append("### Infrastructure errors (not test failures; the change is not blamed)")
        for b in infra:
            reason = f": {escape(b.reason)}" if b.reason else ""
            out.append(f"- {escape(b.job)}: {escape(render.result_note(b))}{reason}")
    return "\n\n".join(out)


def summary(report: Report, details_url: str | None) -> str:
    """The headline, the item's message, the job table and a link to the buildset."""
    parts = [f"**{escape(render.headline(report))}**"]
    if report.message:
        parts.append(escape(report.message.strip()[:2000]))
    table = job_table(report)
    if table:
        parts.append(table)
    if details_url:
        parts.append(link(details_url, "Buildset on osci"))
    return clip("\n\n".join(parts))


def comment(report: Report, details_url: str | None) -> str:
    """A pull request comment: the pipeline named, the summary, then the details."""
    parts = [f"**osci/{escape(report.pipeline)}**: {summary(report, details_url)}"]
    more = details(report)
    if more:
        parts.append(more)
    return clip("\n\n".join(parts))


def clip(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 40].rsplit("\n", 1)[0] + "\n\n*(cut: too long for GitHub)*"
