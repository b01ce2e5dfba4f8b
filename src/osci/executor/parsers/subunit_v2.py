"""subunit v2 (stestr, `python -m subunit.run`, tempest) via python-subunit and testtools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import subunit
from testtools import StreamToDict

from osci.executor.parsers.common import MAX_OUTPUT, bounded, split_id
from osci.model import TestCase, TestStatus

_STATUS = {
    "success": TestStatus.PASSED,
    "xfail": TestStatus.PASSED,
    "fail": TestStatus.FAILED,
    "uxsuccess": TestStatus.FAILED,
    "skip": TestStatus.SKIPPED,
}


def _details_text(details: dict[str, Any]) -> tuple[str, str]:
    """(message, output) from a test's attachments; 'reason' is a skip reason."""
    message = ""
    parts: list[str] = []
    for name, content in details.items():
        data = b""
        for chunk in content.iter_bytes():
            data += chunk
            if len(data) > 4 * MAX_OUTPUT:
                break
        text = data.decode("utf-8", errors="replace")
        if name == "reason":
            message = text
        elif text.strip():
            parts.append(text if len(details) == 1 else f"--- {name} ---\n{text}")
    return message, "\n".join(parts)


def parse_subunit(path: Path, source: str) -> list[TestCase]:
    cases: list[TestCase] = []

    def on_test(test: dict[str, Any]) -> None:
        status_name = test["status"]
        if status_name == "exists":  # listed, not run
            return
        status = _STATUS.get(status_name, TestStatus.ERROR)
        message, output = _details_text(test["details"])
        if status is TestStatus.ERROR and not message:
            message = f"test ended with status {status_name!r} (did the run crash?)"
        start, end = test["timestamps"]
        duration = (end - start).total_seconds() if start is not None and end is not None else 0.0
        classname, name = split_id(test["id"])
        cases.append(
            TestCase(
                name=name,
                status=status,
                classname=classname,
                duration=max(0.0, duration),
                message=bounded(message),
                output=bounded(output),
                source=source,
            )
        )

    collector = StreamToDict(on_test)
    with open(path, "rb") as handle:
        stream = subunit.ByteStreamToStreamResult(handle, non_subunit_name="stdout")
        collector.startTestRun()
        try:
            stream.run(collector)
        finally:
            collector.stopTestRun()
    return cases
