"""The shapes of the API's answers, for the OpenAPI document (and a check on what is sent)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class BuildSummary(BaseModel):
    uuid: str
    job: str
    project: str
    branch: str | None
    ref: str | None
    change: str | None
    patchset: str | None
    pipeline: str | None
    state: str
    result: str | None
    voting: bool
    start_time: str | None
    end_time: str | None
    duration: float | None
    log_url: str
    buildset: str | None


class AttemptOut(BaseModel):
    number: int
    state: str
    interrupted: bool
    result: str | None
    reason: str | None
    node: str | None
    start_time: str | None
    end_time: str | None
    duration: float | None
    phases: list[Any]


class TestCounts(BaseModel):
    __test__ = False
    passed: int
    failed: int
    error: int
    skipped: int
    total: int


class ArtifactOut(BaseModel):
    path: str
    size: int | None
    url: str


class MetricOut(BaseModel):
    name: str
    value: float
    unit: str


class BuildDetail(BuildSummary):
    newrev: str | None
    node: str | None
    reason: str | None
    created: str | None
    estimated_duration: float | None
    attempts: list[AttemptOut]
    tests: TestCounts
    artifacts: list[ArtifactOut]
    metrics: list[MetricOut]
    extra: dict[str, Any]


class TestCaseOut(BaseModel):
    __test__ = False
    name: str
    classname: str
    status: str
    duration: float
    message: str | None
    output: str | None
    source: str | None


class ItemOut(BaseModel):
    uuid: str
    pipeline: str
    project: str
    branch: str | None
    ref: str | None
    change: str | None
    patchset: str | None
    state: str
    result: str | None
    enqueue_time: str | None
    dequeue_time: str | None


class BuildsetOut(BaseModel):
    uuid: str
    result: str | None
    message: str | None
    created: str | None
    completed: str | None
    item: ItemOut | None


class BuildsetDetail(BuildsetOut):
    builds: list[BuildSummary]


class EventOut(BaseModel):
    uuid: str
    connection: str
    type: str
    project: str | None
    branch: str | None
    ref: str | None
    change: str | None
    patchset: str | None
    newrev: str | None
    author: str | None
    received_at: str | None
    processed_at: str | None
    outcome: str | None


class Dequeued(BaseModel):
    dequeued: list[str]


class Accepted(BaseModel):
    accepted: bool


class ErrorOut(BaseModel):
    error: str
