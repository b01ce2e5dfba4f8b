"""JUnit XML (pytest --junitxml, Jenkins, most tools) via junitparser."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

from osci.executor.parsers.common import bounded
from osci.model import TestCase, TestStatus


def _suites(xml: JUnitXml | TestSuite) -> list[TestSuite]:
    if isinstance(xml, TestSuite):
        return [xml]
    return list(xml)


def _join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def parse_junit(path: Path, source: str) -> list[TestCase]:
    xml = JUnitXml.fromfile(str(path))
    cases: list[TestCase] = []
    for suite in _suites(xml):
        for case in suite:
            status = TestStatus.PASSED
            message = ""
            details = ""
            for result in case.result:
                if isinstance(result, Failure):
                    status = TestStatus.FAILED
                elif isinstance(result, Error):
                    status = TestStatus.ERROR
                elif isinstance(result, Skipped):
                    status = TestStatus.SKIPPED
                else:
                    continue
                message = result.message or ""
                details = result.text or ""
                break
            try:
                duration = float(case.time or 0.0)
            except (TypeError, ValueError):
                duration = 0.0
            cases.append(
                TestCase(
                    name=case.name or "",
                    status=status,
                    classname=case.classname or "",
                    duration=duration,
                    message=bounded(message),
                    output=bounded(_join(details, case.system_out, case.system_err)),
                    source=source,
                )
            )
    return cases
