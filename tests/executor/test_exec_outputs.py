"""Metrics, artifacts, junit.xml, build.json and an index.html that escapes everything."""

from __future__ import annotations

import json
from pathlib import Path

from exec_helpers import PYTHON, console_text, script, write
from junitparser import JUnitXml

from osci.model import FrozenJob, Result, TestStatus

HOSTILE = "<img src=x onerror=alert(1)>"


def test_metrics_files(build, project):
    job = FrozenJob(
        name="m",
        run=[
            script(
                """echo '{"boot_time": 12.5, "latency": {"value": 3, "unit": "ms"}, "bad": "fast", "flag": true}' > perf.json
echo '[1, 2]' > "$OSCI_LOG_DIR/list.json"
echo 'not json' > broken.json"""
            )
        ],
        metrics=["perf.json", "list.json", "broken.json"],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS
    metrics = {m.name: (m.value, m.unit) for m in record.metrics}
    assert metrics == {"boot_time": (12.5, ""), "latency": (3.0, "ms")}
    text = console_text(record)
    assert "metric 'bad' skipped" in text and "metric 'flag' skipped" in text
    assert "logs/list.json: expected a JSON object" in text
    assert "broken.json: not valid JSON" in text
    data = json.loads((Path(record.build_dir) / "build.json").read_text())
    assert {"name": "latency", "value": 3.0, "unit": "ms"} in data["metrics"]


def test_artifacts_are_listed(build, project):
    job = FrozenJob(
        name="a",
        run=[
            script(
                'mkdir -p "$OSCI_ARTIFACTS/dist" && echo pkg > "$OSCI_ARTIFACTS/dist/pkg.tar" && echo r > "$OSCI_ARTIFACTS/readme.txt"'
            )
        ],
        post_run=[script('echo collected > "$OSCI_LOG_DIR/service.log"')],
    )
    record = build(job, project)
    assert record.artifacts == ["dist/pkg.tar", "readme.txt"]
    out = Path(record.build_dir)
    assert (out / "artifacts" / "dist" / "pkg.tar").read_text() == "pkg\n"
    page = (out / "index.html").read_text()
    assert 'href="artifacts/dist/pkg.tar"' in page and 'href="logs/service.log"' in page


def test_index_html_escapes_hostile_names_and_output(build, project):
    tests = f'''
import unittest

class Hostile(unittest.TestCase):
    def test_ok(self):
        pass

def _bad(self):
    self.fail("{HOSTILE} in the message")

setattr(Hostile, "test_{HOSTILE}", _bad)
'''
    write(project / "hostile_tests.py", tests)
    job = FrozenJob(
        name=f"job-{HOSTILE}",
        run=[
            script(
                f"{PYTHON} -m subunit.run hostile_tests > r.subunit; "
                f'echo \'{{"{HOSTILE}": 1}}\' > m.json; touch "$OSCI_ARTIFACTS/{HOSTILE}.txt"'
            )
        ],
        test_results=["r.subunit"],
        metrics=["m.json"],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    failed = [c for c in record.tests if c.status is TestStatus.FAILED]
    assert failed and HOSTILE in failed[0].name
    page = (Path(record.build_dir) / "index.html").read_text()
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page.lower() and "http" not in page  # self-contained, no external assets
    # failures first
    assert page.index("failed</td>") < page.index("passed</td>")
    junit = (Path(record.build_dir) / "junit.xml").read_text()
    assert "&lt;img" in junit


def test_build_json_describes_the_build(build, project):
    job = FrozenJob(name="j", run=[script("true")], vars={"k": "v"}, tags=["t"])
    record = build(job, project, project="p", change="7")
    data = json.loads((Path(record.build_dir) / "build.json").read_text())
    assert data["uuid"] == record.uuid and data["project"] == "p" and data["change"] == "7"
    assert data["attempts"][0]["phases"][0]["phase"] == "run"
    assert data["frozen_job"]["vars"] == {"k": "v"} and data["test_summary"]["passed"] == 0


def test_a_build_without_tests_writes_an_empty_suite_any_junit_reader_takes(build, project):
    record = build(FrozenJob(name=f'quiet "{HOSTILE}"', run=[script("true")]), project)
    suites = list(JUnitXml.fromfile(str(Path(record.build_dir) / "junit.xml")))
    assert [(suite.name, suite.tests, suite.failures) for suite in suites] == [(f'quiet "{HOSTILE}"', 0, 0)]
    assert json.loads((Path(record.build_dir) / "build.json").read_text())["job"] == f'quiet "{HOSTILE}"'
