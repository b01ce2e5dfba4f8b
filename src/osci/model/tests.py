"""One test case inside a build, in one model whatever format it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class TestStatus(StrEnum):
    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass
class TestCase:
    __test__ = False

    name: str
    status: TestStatus
    classname: str = ""
    duration: float = 0.0
    message: str = ""
    output: str = ""
    source: str = ""  # the result file it was read from, relative to the workspace

    @property
    def full_name(self) -> str:
        return f"{self.classname}.{self.name}" if self.classname else self.name

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TestCase:
        fields = dict(data)
        fields["status"] = TestStatus(fields["status"])
        return cls(**fields)


@dataclass
class TestSummary:
    __test__ = False

    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, cases: list[TestCase]) -> TestSummary:
        summary = cls()
        for case in cases:
            name = str(case.status)
            setattr(summary, name, getattr(summary, name) + 1)
        return summary

    def to_dict(self) -> dict:
        return {"passed": self.passed, "failed": self.failed, "error": self.error, "skipped": self.skipped}
