"""Commit status fields for every result: infrastructure errors and aborts never read as the
change's failure."""

from __future__ import annotations

import pytest

from osci.connections.gitlab.reporting import marker, md, status_fields
from osci.model import BuildReport

from ..reports import sample_report

BASE = "http://osci.example.org"


@pytest.mark.parametrize(
    ("slot", "result", "state", "words"),
    [
        ("start", None, "running", "testing"),
        ("success", "SUCCESS", "success", "Build succeeded"),
        ("failure", "FAILURE", "failed", "Build failed: unit"),
        ("failure", "TIMED_OUT", "failed", "timed out"),
        ("merge-conflict", "MERGE_CONFLICT", "failed", "Merge conflict"),
        ("error", "ERROR", "canceled", "Infrastructure error"),
        ("error", "RETRY_LIMIT", "canceled", "Infrastructure error"),
        ("dequeue", "ABORTED", "canceled", "Aborted"),
        ("no-jobs", "NO_JOBS", "success", "No jobs"),
        ("failure", "SOMETHING_NEW", "canceled", "Not tested"),
    ],
)
def test_states_and_descriptions(slot: str, result: str | None, state: str, words: str) -> None:
    fields = status_fields(sample_report(slot=slot, result=result), BASE)
    assert fields["state"] == state
    assert words in fields["description"]
    assert fields["name"] == "osci/check"
    assert fields["target_url"] == f"{BASE}/buildset/bs-1"
    assert "ref" not in fields  # a merge request: GitLab finds it by the commit


def test_descriptions_stay_short() -> None:
    builds = [BuildReport(f"job-{i:03}-with-a-long-name", str(i), "FAILURE", True, 1, "") for i in range(40)]
    fields = status_fields(sample_report(builds=builds), BASE)
    assert len(fields["description"]) <= 140 and fields["description"].endswith("…")


def test_before_a_buildset_exists_the_link_is_the_status_page() -> None:
    fields = status_fields(sample_report(buildset_uuid=None, result="MERGE_CONFLICT"), BASE)
    assert fields["target_url"] == "http://127.0.0.1:8080/status/item-1"


def test_markdown_and_marker_are_inert() -> None:
    assert md("a|b [x](y) <b> *c* `d` &amp;\n# e") == "a\\|b \\[x\\](y) \\<b\\> \\*c\\* \\`d\\` \\&amp; # e"
    report = sample_report(delivery="osci-report-5 --><script>", item_uuid="abc")
    assert marker(report) == "<!-- osci-delivery: osci-report-5-script/abc -->"
