"""TAP (Test Anything Protocol: prove, pytest --tap-stream, node-tap...) via tap.py."""

from __future__ import annotations

import re
from pathlib import Path

from tap.parser import Parser

from osci.executor.parsers.common import MAX_OUTPUT, bounded, split_id
from osci.model import TestCase, TestStatus

_UNITTEST = re.compile(r"^(\w+) \(([\w.]+)\)$")  # str() of a unittest case: "test_x (pkg.mod.Class.test_x)"


def _names(description: str) -> tuple[str, str]:
    """(classname, name) from a TAP description: pytest node ids, unittest names, dotted ids, free text."""
    match = _UNITTEST.match(description)
    if match:
        return split_id(match.group(2))
    if " " in description:
        return "", description
    return split_id(description, "::" if "::" in description else ".")


def _status(ok: bool, skip: bool, todo: bool) -> TestStatus:
    if skip:
        return TestStatus.SKIPPED
    if todo:  # a TODO test is expected to fail; `not ok # TODO` is an expected failure
        return TestStatus.PASSED if ok else TestStatus.SKIPPED
    return TestStatus.PASSED if ok else TestStatus.FAILED


def parse_tap(path: Path, source: str) -> list[TestCase]:
    cases: list[TestCase] = []
    diagnostics: list[str] = []
    diag_size = 0

    def close_diagnostics() -> None:
        nonlocal diagnostics, diag_size
        if cases and diagnostics:
            cases[-1].output = bounded("\n".join(diagnostics))
        diagnostics, diag_size = [], 0

    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in Parser().parse(handle):
            if line.category == "test":
                close_diagnostics()
                description = line.description.removeprefix("- ").strip()
                if not description:
                    description = f"test {line.number}" if line.number else f"test {len(cases) + 1}"
                classname, name = _names(description)
                directive = line.directive
                cases.append(
                    TestCase(
                        name=name,
                        status=_status(line.ok, directive.skip, directive.todo),
                        classname=classname,
                        message=bounded(directive.reason or "") if directive.text else "",
                        output=bounded(line.yaml_block and str(line.yaml_block) or ""),
                        source=source,
                    )
                )
            elif line.category == "diagnostic":
                if diag_size <= 4 * MAX_OUTPUT:
                    text = line.text.removeprefix("#").removeprefix(" ")
                    diagnostics.append(text)
                    diag_size += len(text)
            elif line.category == "bail":
                close_diagnostics()
                cases.append(
                    TestCase(
                        name="Bail out!",
                        status=TestStatus.ERROR,
                        message=bounded(line.reason or "the test run bailed out"),
                        source=source,
                    )
                )
    close_diagnostics()
    return cases
