"""Test results written by the real tools (pytest, python-subunit, Perl Test::More, tap.py) are parsed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from exec_helpers import PYTHON, console_text, script, write

from osci.executor.parsers import ParseError, detect_format, parse_file
from osci.model import FrozenJob, Result, TestStatus

UNITTESTS = """
import unittest


class Tiny(unittest.TestCase):
    def test_passes(self):
        self.assertTrue(True)

    def test_fails(self):
        print("some output before failing")
        self.assertEqual(1, 2, "one is not two")

    @unittest.skip("not today")
    def test_skipped(self):
        pass

    def test_errors(self):
        raise RuntimeError("kaboom")
"""

PYTESTS = """
import pytest

def test_ok():
    pass

def test_bad():
    assert 1 == 2, "numbers differ"

@pytest.mark.skip(reason="later")
def test_skip():
    pass
"""

PERL_TAP = """
use strict;
use Test::More tests => 4;
ok(1, 'passes');
ok(0, 'fails');
SKIP: { skip "no network", 1; ok(1, 'needs network'); }
TODO: { local $TODO = "not done"; ok(0, 'unfinished'); }
"""


def _by_name(cases):
    return {case.name: case for case in cases}


def test_pytest_junitxml(build, project):
    write(project / "test_tiny.py", PYTESTS)
    job = FrozenJob(
        name="pytest",
        run=[
            script(
                f"{PYTHON} -m pytest -q -p no:cacheprovider --junitxml=reports/junit-tiny.xml test_tiny.py"
            )
        ],
        test_results=["**/junit*.xml"],
    )
    record = build(job, project)
    assert record.result is Result.FAILURE
    cases = _by_name(record.tests)
    assert cases["test_ok"].status is TestStatus.PASSED
    assert cases["test_bad"].status is TestStatus.FAILED
    assert "numbers differ" in cases["test_bad"].message + cases["test_bad"].output
    assert cases["test_skip"].status is TestStatus.SKIPPED
    assert cases["test_ok"].classname == "test_tiny" and cases["test_ok"].source == "reports/junit-tiny.xml"
    junit = (Path(record.build_dir) / "junit.xml").read_text()
    assert "test_bad" in junit and "numbers differ" in junit


def test_subunit_v2_from_python_subunit(build, project):
    write(project / "tiny_tests.py", UNITTESTS)
    job = FrozenJob(
        name="subunit",
        run=[script(f"{PYTHON} -m subunit.run tiny_tests > results.subunit")],
        test_results=["*.subunit"],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    assert detect_format(Path(record.build_dir) / "junit.xml") == "junit"
    cases = _by_name(record.tests)
    assert set(cases) == {"test_passes", "test_fails", "test_skipped", "test_errors"}
    assert cases["test_passes"].status is TestStatus.PASSED
    assert cases["test_passes"].classname == "tiny_tests.Tiny"
    assert cases["test_fails"].status is TestStatus.FAILED
    assert "one is not two" in cases["test_fails"].output
    assert cases["test_errors"].status is TestStatus.FAILED  # subunit has no separate error status
    assert "kaboom" in cases["test_errors"].output
    assert cases["test_skipped"].status is TestStatus.SKIPPED
    assert "not today" in cases["test_skipped"].message


@pytest.mark.skipif(shutil.which("perl") is None, reason="perl is not installed")
def test_tap_from_perl_test_more_found_under_log_dir(build, project):
    write(project / "t.pl", PERL_TAP)
    job = FrozenJob(
        name="tap",
        run=[script('perl t.pl > "$OSCI_LOG_DIR/perl.tap" 2>&1 || true')],
        test_results=["*.tap"],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS
    cases = _by_name(record.tests)
    assert cases["passes"].status is TestStatus.PASSED
    assert cases["fails"].status is TestStatus.FAILED
    assert "Failed test" in cases["fails"].output
    assert cases["test 3"].status is TestStatus.SKIPPED
    assert cases["unfinished"].status is TestStatus.SKIPPED  # not ok # TODO: an expected failure
    assert cases["passes"].source == "logs/perl.tap"


def test_tap_from_tap_py_runner(build, project):
    write(project / "tiny_tests.py", UNITTESTS)
    runner = (
        "import sys, unittest; from tap import TAPTestRunner; "
        "r = TAPTestRunner(); r.set_stream(True); "
        "r.run(unittest.defaultTestLoader.loadTestsFromName('tiny_tests'))"
    )
    job = FrozenJob(
        name="tap-py", run=[script(f'{PYTHON} -c "{runner}" > out.txt')], test_results=["out.txt"]
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    cases = _by_name(record.tests)
    assert cases["test_passes"].status is TestStatus.PASSED
    assert cases["test_fails"].status is TestStatus.FAILED
    assert cases["test_skipped"].status is TestStatus.SKIPPED
    assert cases["test_fails"].classname == "tiny_tests.Tiny"
    assert "one is not two" in cases["test_fails"].output


def test_malformed_and_unknown_files_are_noted_not_fatal(build, project):
    job = FrozenJob(
        name="bad",
        run=[
            script(
                "echo '<testsuite><testcase name=' > junit-broken.xml; "
                "echo 'hello world' > junit-text.xml; : > junit-empty.xml; "
                "printf '\\xb3garbage' > x.subunit"
            )
        ],
        test_results=["junit-*.xml", "*.subunit", "nothing-*.xml"],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS
    text = console_text(record)
    assert "junit-broken.xml: malformed junit file" in text
    assert "junit-text.xml: not JUnit XML, subunit v2 or TAP" in text
    assert "junit-empty.xml: not JUnit XML" in text
    assert (Path(record.build_dir) / "build.json").exists()


def test_detect_by_content_not_extension(tmp_path):
    tap = write(tmp_path / "results.xml", "# comment\n1..1\nok 1 - fine\n")
    assert detect_format(tap) == "tap"
    assert [c.name for c in parse_file(tap, "results.xml")] == ["fine"]
    xml = write(tmp_path / "r.tap", '<?xml version="1.0"?><testsuite><testcase name="t"/></testsuite>')
    assert detect_format(xml) == "junit"
    with pytest.raises(ParseError, match="cannot read"):
        parse_file(tmp_path / "missing", "missing")


def test_output_per_case_is_bounded(tmp_path):
    big = "y" * 200_000
    xml = write(
        tmp_path / "big.xml",
        f'<testsuite><testcase name="t"><failure message="m">{big}</failure></testcase></testsuite>',
    )
    (case,) = parse_file(xml, "big.xml")
    assert case.status is TestStatus.FAILED
    assert len(case.output) < 70_000 and "characters cut" in case.output


def test_tap_version_13_with_yaml_block(tmp_path):
    tap = write(
        tmp_path / "r.tap",
        "TAP version 13\n1..2\nok 1 - first\nnot ok 2 - second\n  ---\n  message: went wrong\n  ...\n",
    )
    cases = parse_file(tap, "r.tap")
    assert [(c.name, c.status) for c in cases] == [
        ("first", TestStatus.PASSED),
        ("second", TestStatus.FAILED),
    ]
    assert "went wrong" in cases[1].output


def test_subunit_test_that_crashed_the_run_is_an_error(build, project):
    write(
        project / "crash_tests.py",
        "import os, unittest\n\nclass Crash(unittest.TestCase):\n    def test_dies(self):\n        os._exit(3)\n",
    )
    job = FrozenJob(
        name="crash",
        run=[script(f"{PYTHON} -m subunit.run crash_tests > r.subunit || true")],
        test_results=["r.subunit"],
    )
    record = build(job, project)
    (case,) = record.tests
    assert case.name == "test_dies" and case.status is TestStatus.ERROR
    assert "inprogress" in case.message
