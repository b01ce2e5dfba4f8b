"""Write test cases as one JUnit XML file (what Jenkins, GitLab and most tools read)."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite
from junitparser import TestCase as JUnitCase

from osci.model import TestCase, TestStatus

# XML 1.0 cannot hold most control characters; a test's output may contain anything.
_XML_BAD = {c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}


def xml_safe(text: str) -> str:
    return text.translate(_XML_BAD)


def write_junit(cases: list[TestCase], path: Path, suite_name: str = "osci") -> None:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path), pretty=True)
