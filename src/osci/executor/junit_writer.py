"""Write test cases as one JUnit XML file (what Jenkins, GitLab and most tools read)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite
from junitparser import TestCase as JUnitCase

from osci.model import TestCase, TestStatus

# XML 1.0 cannot hold most control characters; a test's output may contain anything.
_XML_BAD = {c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}


def xml_safe(text: str) -> str:
    return text.translate(_XML_BAD)


def write_junit(cases: list[TestCase], path: Path, suite_name: str = "osci") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cases:  # most builds of a busy grid: skip building an XML tree for an empty suite
        name = escape(xml_safe(suite_name), {'"': "&quot;"})
        path.write_text(
            "<?xml version='1.0' encoding='utf-8'?>\n<testsuites>\n"
            f'  <testsuite name="{name}" tests="0" errors="0" failures="0" skipped="0" time="0"/>\n'
            "</testsuites>\n",
            encoding="utf-8",
        )
        return
    suite = TestSuite(xml_safe(suite_name))
    for case in cases:
        entry = JUnitCase(xml_safe(case.name), xml_safe(case.classname), case.duration)
        if case.status is TestStatus.FAILED:
            result = Failure(xml_safe(case.message))
            result.text = xml_safe(case.output)
            entry.result = [result]
        elif case.status is TestStatus.ERROR:
            result = Error(xml_safe(case.message))
            result.text = xml_safe(case.output)
            entry.result = [result]
        elif case.status is TestStatus.SKIPPED:
            entry.result = [Skipped(xml_safe(case.message))]
        elif case.output:
            entry.system_out = xml_safe(case.output)
        suite.add_testcase(entry)
    suite.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(str(path), pretty=True)
