"""Report rendering: wording, non-voting marks, escaping, subjects."""

from __future__ import annotations

import pytest

from osci.connections.base import ConnectionConfigError
from osci.connections.render import DEFAULT_SUBJECT, render_html, render_text, subject

from .reports import HOSTILE, sample_report


def test_text_lists_jobs_failures_and_infrastructure() -> None:
    text = render_text(sample_report())
    assert text.startswith("Build failed.")
    assert "Change:   12345,3" in text
    assert "http://127.0.0.1:8080/status/item-1" in text
    assert "perf (non-voting)" in text
    assert "lint (non-voting)" not in text
    assert "1m 23s" in text and "1h 01m 40s" in text
    assert "http://127.0.0.1:8080/logs/b1/" in text
    failed = text.split("Failed tests:")[1].split("Infrastructure errors")[0]
    assert f"unit: test_{HOSTILE} (failed)" in failed
    assert "line 9" in failed and "line 10" not in failed  # only the first lines
    assert "setup_probe" not in text  # a setup failure is never a test failure
    infra = text.split("Infrastructure errors")[1]
    assert (
        "tempest: RETRY_LIMIT (infrastructure error after 3 attempts, not a test failure): node lost" in infra
    )


def test_infrastructure_buildset_is_not_called_a_failure() -> None:
    report = sample_report(result="RETRY_LIMIT", builds=sample_report().builds[3:])
    text = render_text(report)
    assert text.startswith("Infrastructure error")
    assert "not a test failure" in text.splitlines()[0]
    assert "failed" not in text.lower().replace("kept failing", "")
    assert "Failed tests" not in text


def test_html_escapes_everything_hostile() -> None:
    page = render_html(sample_report(message=HOSTILE, project="<b>p</b>"))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert "&lt;b&gt;p&lt;/b&gt;" in page
    assert 'href="javascript' not in page  # only http(s) links are clickable
    assert '<a href="http://127.0.0.1:8080/logs/b1/">logs</a>' in page
    assert "perf <em>(non-voting)</em>" in page
    assert "Infrastructure errors (not test failures" in page
    assert "setup_probe" not in page


def test_start_report() -> None:
    report = sample_report(slot="start", result=None, builds=[], change=None, patchset=None)
    assert render_text(report).startswith("Testing started.")
    assert subject(report) == "[osci] check acme/widget main@0123456789: STARTED"


def test_subject_templates() -> None:
    report = sample_report()
    assert subject(report, DEFAULT_SUBJECT) == "[osci] check acme/widget 12345,3: FAILURE"
    assert subject(report, "{result}\n{branch}\r\nBcc: x@y") == "FAILURE main Bcc: x@y"  # one line
    for bad, why in [
        ("{nope}", "unknown field {nope}"),
        ("{project.__class__}", "unknown field"),
        ("{", "Single"),
    ]:
        with pytest.raises(ConnectionConfigError, match=why):
            subject(report, bad)
