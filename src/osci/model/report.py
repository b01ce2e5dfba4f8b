"""What a reporter is told about an item: enough to write a vote, a comment or an e-mail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FailedTest:
    name: str
    status: str
    output_head: str = ""  # the first lines of the test's output


@dataclass
class BuildReport:
    job: str
    uuid: str
    result: str
    voting: bool
    duration: float
    log_url: str
    attempts: int = 1
    reason: str = ""
    failed_tests: list[FailedTest] = field(default_factory=list)


@dataclass
class Report:
    """One message for one reporter slot (start, success, failure, no-jobs, ...)."""

    slot: str
    pipeline: str
    project: str
    branch: str | None
    ref: str | None
    newrev: str | None
    change: str | None
    patchset: str | None
    author: str | None
    item_uuid: str
    buildset_uuid: str | None
    result: str | None  # the buildset's result (SUCCESS, FAILURE, ...), None for start
    status_url: str
    builds: list[BuildReport] = field(default_factory=list)
    message: str = ""
    delivery: str = ""  # stable across retries (the outbox row), so receivers can drop duplicates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        builds = []
        for build in data.pop("builds", []):
            build = dict(build)
            build["failed_tests"] = [FailedTest(**t) for t in build.get("failed_tests", [])]
            builds.append(BuildReport(**build))
        return cls(builds=builds, **data)
