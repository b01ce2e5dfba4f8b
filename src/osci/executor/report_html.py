"""index.html: a small self-contained summary of a build. Everything shown is escaped."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from osci.executor.collect import list_files
from osci.model import BuildRecord, TestStatus

MAX_LINKS = 500
MAX_SHOWN_OUTPUT = 16 * 1024

_ORDER = {TestStatus.FAILED: 0, TestStatus.ERROR: 1, TestStatus.SKIPPED: 2, TestStatus.PASSED: 3}
_STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
.SUCCESS,.passed{color:#161}.FAILURE,.TIMED_OUT,.failed,.error{color:#b00}
.ERROR,.RETRY_LIMIT,.ABORTED,.skipped{color:#a60}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:30em;white-space:pre-wrap}
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(href: str, text: str) -> str:
    return f'<a href="{e(quote(href))}">{e(text)}</a>'


def _when(stamp: float) -> str:
    if not stamp:
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(record: BuildRecord, logs: list[str]) -> str:
    out: list[str] = []
    add = out.append
    result = str(record.result)
    add(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(record.job)}: {e(result)}</title>")
    add(f"<style>{_STYLE}</style></head><body>")
    add(f"<h1>{e(record.job)}: <span class='{e(result)}'>{e(result)}</span></h1>")
    add("<table>")
    for label, value in (
        ("build", record.uuid),
        ("project", record.project),
        ("branch", record.branch or ""),
        ("ref", record.ref or ""),
        ("change", record.change or ""),
        ("started", _when(record.start_time)),
        ("duration", f"{record.duration:.1f} s"),
        ("reason", record.reason),
    ):
        if value:
            add(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>")
    add("</table>")
    add(
        "<p>"
        + " · ".join(_link(name, name) for name in ("job-output.txt", "build.json", "junit.xml"))
        + "</p>"
    )
    add("<h2>Attempts</h2><table><tr><th>#</th><th>result</th><th>duration</th><th>reason</th></tr>")
    for attempt in record.attempts:
        res = str(attempt.result)
        add(
            f"<tr><td>{attempt.number}</td><td class='{e(res)}'>{e(res)}</td>"
            f"<td>{attempt.duration:.1f} s</td><td>{e(attempt.reason)}</td></tr>"
        )
    add("</table>")
    summary = record.test_summary
    add(
        f"<h2>Tests</h2><p>{summary.passed} passed, {summary.failed} failed, "
        f"{summary.error} errors, {summary.skipped} skipped</p>"
    )
    if record.tests:
        add("<table><tr><th>status</th><th>test</th><th>duration</th><th>details</th></tr>")
        for case in sorted(record.tests, key=lambda c: (_ORDER.get(c.status, 9), c.full_name)):
            status = str(case.status)
            details = ""
            text = "\n".join(p for p in (case.message, case.output) if p)
            if text and case.status is not TestStatus.PASSED:
                shown = text if len(text) <= MAX_SHOWN_OUTPUT else text[-MAX_SHOWN_OUTPUT:]
                details = f"<pre>{e(shown)}</pre>"
            add(
                f"<tr><td class='{e(status)}'>{e(status)}</td><td>{e(case.full_name)}</td>"
                f"<td>{case.duration:.3f} s</td><td>{details}</td></tr>"
            )
        add("</table>")
    if record.metrics:
        add("<h2>Metrics</h2><table><tr><th>name</th><th>value</th><th>unit</th></tr>")
        for metric in record.metrics:
            add(f"<tr><td>{e(metric.name)}</td><td>{e(metric.value)}</td><td>{e(metric.unit)}</td></tr>")
        add("</table>")
    for title, folder, names in (("Artifacts", "artifacts/", record.artifacts), ("Logs", "logs/", logs)):
        if names:
            add(f"<h2>{e(title)}</h2><ul>")
            for name in names[:MAX_LINKS]:
                add(f"<li>{_link(folder + name, name)}</li>")
            if len(names) > MAX_LINKS:
                add(f"<li>… and {len(names) - MAX_LINKS} more</li>")
            add("</ul>")
    add("</body></html>\n")
    return "\n".join(out)


def write_index(record: BuildRecord, build_dir: Path) -> None:
    page = render(record, list_files(build_dir / "logs"))
    (build_dir / "index.html").write_text(page, encoding="utf-8")
