"""A build and its attempts, as the executor reports them and the store keeps them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from osci.model.results import Result
from osci.model.tests import TestCase, TestSummary


@dataclass
class Metric:
    name: str
    value: float
    unit: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PhaseRun:
    """One step's process within an attempt."""

    phase: str  # pre-run, run, post-run
    step: str
    returncode: int | None
    duration: float
    timed_out: bool = False
    aborted: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Attempt:
    number: int  # 1-based
    result: Result
    start_time: float
    end_time: float
    reason: str = ""  # why it ended as it did, e.g. "pre-run step scripts/stack.sh exited 1"
    phases: list[PhaseRun] = field(default_factory=list)
    node: str = ""

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "result": str(self.result),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": self.duration,
            "reason": self.reason,
            "node": self.node,
            "phases": [p.to_dict() for p in self.phases],
        }


@dataclass
class BuildRecord:
    """Everything about one build of one job: written to build.json."""

    uuid: str
    job: str
    result: Result
    voting: bool = True
    project: str = ""
    branch: str | None = None
    ref: str | None = None
    change: str | None = None
    start_time: float = 0.0
    end_time: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    tests: list[TestCase] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # paths relative to artifacts/
    build_dir: str = ""
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.end_time - self.start_time)

    @property
    def test_summary(self) -> TestSummary:
        return TestSummary.of(self.tests)

    def to_dict(self) -> dict:
        return {
            "uuid": self.uuid,
            "job": self.job,
            "result": str(self.result),
            "voting": self.voting,
            "project": self.project,
            "branch": self.branch,
            "ref": self.ref,
            "change": self.change,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": self.duration,
            "reason": self.reason,
            "attempts": [a.to_dict() for a in self.attempts],
            "tests": [t.to_dict() for t in self.tests],
            "test_summary": self.test_summary.to_dict(),
            "metrics": [m.to_dict() for m in self.metrics],
            "artifacts": self.artifacts,
            "build_dir": self.build_dir,
            "extra": self.extra,
        }
