"""Reports on the API double: check runs created then completed (found again, never duplicated
nor taken back), commit statuses, comments, infrastructure never a failure, and GitHub's
errors sorted into retried and permanent."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest

from osci.connections.base import ConnectionConfigError, ReportError
from osci.connections.github import GitHubConnection
from osci.connections.github.markdown import escape
from osci.model import Report

from ..reports import HOSTILE, sample_report
from .apidouble import GitHubDouble

SHA = "0123456789abcdef0123456789abcdef01234567"  # sample_report's newrev


def send(conn: GitHubConnection, report: Report, options: dict[str, Any] | None = None) -> None:
    async def run() -> None:
        try:
            await conn.report(report, options or {})
        finally:
            await conn.stop()

    asyncio.run(run())


def start_report(**overrides: Any) -> Report:
    builds = [b for b in sample_report().builds]
    for b in builds:
        b.result, b.duration = "", 0
    return sample_report(slot="start", result=None, builds=builds, **overrides)


def test_check_run_created_at_start_then_completed_with_the_job_table(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    send(conn, start_report(delivery="osci-report-1"))
    [run] = double.runs()
    assert run["name"] == "osci/check" and run["head_sha"] == SHA
    assert run["status"] == "in_progress" and run["conclusion"] is None
    assert run["external_id"] == "item-1"
    assert run["details_url"] == "http://osci.example.org/buildset/bs-1"
    assert run["output"]["title"] == "Testing started."
    send(conn, sample_report(delivery="osci-report-2"))
    [run] = double.runs()
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    assert double.completions == {run["id"]: 1}
    summary = run["output"]["summary"]
    assert "| job | result | duration | logs |" in summary
    assert "| unit | FAILURE | 1m 23s | [logs](http://127.0.0.1:8080/logs/b1/) |" in summary
    assert "| perf *(non-voting)* | FAILURE | 1h 01m 40s | javascript:alert\\(1\\) |" in summary
    assert "RETRY\\_LIMIT \\(infrastructure error after 3 attempts, not a test failure\\)" in summary
    assert "[Buildset on osci](http://osci.example.org/buildset/bs-1)" in summary
    text = run["output"]["text"]
    assert "### Failed tests" in text and escape(f"test_{HOSTILE}") in text
    assert "<script>" not in summary + text.split("```")[0]  # only inside a code fence
    assert "```text\nTraceback\n  <script>" in text
    assert "setup_probe" not in text  # an infrastructure failure lists no failed tests
    assert [c.method for c in double.calls(path_regex=r"check-runs")] == ["GET", "POST", "GET", "PATCH"]
    listing = double.calls("GET", r"/commits/.*/check-runs$")[0]
    assert listing.query["check_name"] == "osci/check" and listing.query["filter"] == "all"


def test_a_failing_update_is_retried_and_completes_exactly_once(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    send(conn, start_report())
    double.fail("PATCH", r"/check-runs/\d+$", times=2)
    for _ in range(2):
        with pytest.raises(ReportError, match="HTTP 500"):
            send(conn, sample_report(result="SUCCESS"))
    send(conn, sample_report(result="SUCCESS"))
    send(conn, sample_report(result="SUCCESS"))  # sent again after a crash: still one run, one completion
    [run] = double.runs()
    assert run["conclusion"] == "success"
    assert double.completions == {run["id"]: 1}


def test_a_late_start_never_takes_back_a_result(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    send(conn, sample_report(result="SUCCESS"))  # the start report failed; the result went first
    send(conn, start_report())  # then the start is retried
    [run] = double.runs()
    assert run["status"] == "completed" and run["conclusion"] == "success"
    assert double.calls("PATCH") == []


def test_a_new_item_on_the_same_commit_gets_its_own_run(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    send(conn, sample_report(result="FAILURE"))
    send(conn, start_report(item_uuid="item-2"))  # a recheck
    send(conn, sample_report(item_uuid="item-2", result="SUCCESS"))
    first, second = double.runs()
    assert (first["external_id"], first["conclusion"]) == ("item-1", "failure")
    assert (second["external_id"], second["conclusion"]) == ("item-2", "success")


@pytest.mark.parametrize(
    ("result", "options", "conclusion"),
    [
        ("ERROR", {}, "action_required"),
        ("RETRY_LIMIT", {"error-conclusion": "neutral"}, "neutral"),
        ("ABORTED", {}, "cancelled"),
        ("NO_JOBS", {}, "skipped"),
        ("MERGE_CONFLICT", {}, "failure"),
    ],
)
def test_conclusions(
    make_connection: Callable[..., GitHubConnection],
    double: GitHubDouble,
    result: str,
    options: dict[str, Any],
    conclusion: str,
) -> None:
    send(make_connection(), sample_report(result=result, slot="error"), options)
    [run] = double.runs()
    assert run["conclusion"] == conclusion
    if result in ("ERROR", "RETRY_LIMIT"):
        assert "not a test failure" in run["output"]["title"]


def test_commit_statuses_and_a_late_pending_is_dropped(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    options = {"check": False, "status": True}
    send(conn, start_report(), options)
    send(conn, sample_report(), options)
    send(conn, start_report(), options)  # a retried start after the result
    statuses = double.statuses[("acme/widget", SHA)]
    assert [s["state"] for s in statuses] == ["failure", "pending"]  # newest first
    assert all(s["context"] == "osci/check" for s in statuses)
    assert statuses[0]["target_url"] == "http://osci.example.org/buildset/bs-1"
    assert statuses[0]["description"] == "Build failed."
    assert double.runs() == []
    send(conn, sample_report(result="RETRY_LIMIT", slot="error"), options)
    latest = double.statuses[("acme/widget", SHA)][0]
    assert latest["state"] == "error" and len(latest["description"]) <= 140


def test_a_comment_is_posted_once_per_report(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    options = {"check": False, "comment": True}
    report = sample_report(change="7", delivery="osci-report-9")
    double.fail("POST", r"/issues/7/comments$", times=1)
    with pytest.raises(ReportError):
        send(conn, report, options)
    send(conn, report, options)
    send(conn, report, options)  # the same delivery again (a crash before it was marked sent)
    [comment] = double.comments[("acme/widget", 7)]
    body = comment["body"]
    assert body.startswith("**osci/check**: **Build failed.**")
    assert "| lint | SUCCESS | 4s | [logs](http://127.0.0.1:8080/logs/b2/) |" in body
    assert "<!-- osci-delivery: osci-report-9 -->" in body
    send(conn, sample_report(change=None, delivery="osci-report-10"), options)  # a push: no PR
    assert len(double.comments[("acme/widget", 7)]) == 1


def test_permission_and_config_problems_are_permanent_with_a_clear_message(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.token = "ghp_" + "y" * 36
    conn = make_connection(token=double.token)
    with pytest.raises(ConnectionConfigError, match=r"HTTP 403.*needs a GitHub App") as info:
        send(conn, sample_report())
    assert double.token not in str(info.value)
    wrong = make_connection(token="ghp_wrong")
    with pytest.raises(ConnectionConfigError, match=r"HTTP 401.*check 'token'"):
        send(wrong, sample_report(), {"check": False, "status": True})
    with pytest.raises(ConnectionConfigError, match="not a GitHub owner/repo"):
        send(conn, sample_report(project="widget"))
    with pytest.raises(ConnectionConfigError, match="no commit"):
        send(conn, sample_report(newrev=None, patchset=None))
    with pytest.raises(ConnectionConfigError, match="unknown option 'checks'"):
        send(conn, sample_report(), {"checks": True})
    with pytest.raises(ConnectionConfigError, match="'status' must be true or false"):
        send(conn, sample_report(), {"status": "yes"})


def test_outages_and_rate_limits_are_retried(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    conn = make_connection()
    double.fail("GET", r"/check-runs$", times=1, status=502)
    with pytest.raises(ReportError, match="HTTP 502"):
        send(conn, sample_report())
    double.fail("GET", r"/check-runs$", times=1, status=429)
    with pytest.raises(ReportError, match="HTTP 429"):
        send(conn, sample_report())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = make_connection(**{"api-url": f"http://127.0.0.1:{port}", "timeout": 5})
    with pytest.raises(ReportError, match="ConnectError"):
        send(down, sample_report())
    assert not isinstance(ReportError("x"), ConnectionConfigError)
    send(conn, sample_report())
    assert len(double.runs()) == 1


def test_hostile_names_stay_text_in_markdown() -> None:
    assert escape("a|b") == "a\\|b"
    assert escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert escape("[x](javascript:1)") == "\\[x\\]\\(javascript:1\\)"
    assert escape("two\nlines") == "two lines"
    assert re.fullmatch(r"[^<>\n]*", escape(HOSTILE))
