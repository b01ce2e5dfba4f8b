"""The shapes of the API's answers, for the OpenAPI document (and a check on what is sent)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class TestTally(BaseModel):
    """A build's test counters."""

    __test__ = False
    passed: int
    failed: int
    error: int
    skipped: int


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
    author: str | None
    newrev: str | None
    tests: TestTally


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


class TestCounts(TestTally):
    __test__ = False
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


class BuildCounts(BaseModel):
    total: int
    passed: int
    failed: int
    infra: int
    running: int


class BuildsetEntry(BuildsetOut):
    builds: BuildCounts


class GraphJob(BaseModel):
    name: str
    dependencies: list[str]
    voting: bool


class JobGraphOut(BaseModel):
    jobs: list[GraphJob]


class BuildsetDetail(BuildsetOut):
    builds: list[BuildSummary]
    graph: JobGraphOut


class EventItemOut(BaseModel):
    uuid: str
    pipeline: str
    state: str
    result: str | None
    buildset: str | None


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
    items: list[EventItemOut]


class Dequeued(BaseModel):
    dequeued: list[str]


class Accepted(BaseModel):
    accepted: bool


class ErrorOut(BaseModel):
    error: str


class ConfigErrorOut(BaseModel):
    file: str | None
    line: int | None
    column: int | None
    message: str


class ConfigLoadOut(BaseModel):
    loaded_at: str | None
    ok: bool
    source: str | None
    errors: list[dict[str, Any]]


class PipelineOut(BaseModel):
    name: str
    manager: str
    precedence: str


class ConfigOut(BaseModel):
    errors: list[dict[str, Any]]
    loads: list[ConfigLoadOut]
    pipelines: list[PipelineOut]
    projects: list[str]
    jobs: list[str]


# -- history and statistics (rates are fractions 0..1 of runs, null when there were none) --------


class Counts(BaseModel):
    runs: int
    passed: int
    failed: int
    infra: int


class Totals(Counts):
    pass_rate: float | None
    failure_rate: float | None
    infra_rate: float | None
    avg_duration: float | None


class DayOut(Counts):
    day: str
    pass_rate: float | None
    avg_duration: float | None


class JobRow(Counts):
    job: str
    pass_rate: float | None
    avg_duration: float | None
    last_result: str | None
    last_end_time: str | None


class Variant(BaseModel):
    location: str | None
    branches: list[str] | None


class RunsIn(BaseModel):
    project: str | None
    pipeline: str
    branches: list[str] | None
    files: list[str] | None
    irrelevant_files: list[str] | None
    location: str | None


class JobConfig(BaseModel):
    definition: dict[str, Any]
    variants: list[Variant]
    runs_in: list[RunsIn]
    why: list[str]


class JobDetail(BaseModel):
    name: str
    days: int
    totals: Totals
    series: list[DayOut]
    recent: list[BuildSummary]
    config: JobConfig | None


class ProjectRow(Counts):
    project: str
    failure_rate: float | None
    last_result: str | None


class ProjectJob(Counts):
    job: str
    pass_rate: float | None
    last_result: str | None


class ProjectConfig(BaseModel):
    default_branch: str | None
    merge_mode: str | None
    queue: str | None
    pipelines: dict[str, list[str]]


class ProjectDetail(BaseModel):
    name: str
    days: int
    totals: Totals
    series: list[DayOut]
    jobs: list[ProjectJob]
    recent: list[BuildSummary]
    buildsets: list[BuildsetEntry]
    config: ProjectConfig | None


class TestRow(BaseModel):
    __test__ = False
    name: str
    classname: str
    job: str
    project: str
    runs: int
    failures: int
    failure_rate: float | None
    last_status: str | None
    last_time: str | None


class FragileTest(BaseModel):
    name: str
    classname: str
    runs: int
    failures: int
    failure_rate: float | None
    flaky: bool
    jobs: list[str]


class HistoryEntry(BaseModel):
    build: str
    job: str
    project: str
    pipeline: str | None
    branch: str | None
    change: str | None
    newrev: str | None
    status: str
    duration: float
    end_time: str | None
    message: str | None
    flaky: bool


class TestHistory(BaseModel):
    __test__ = False
    name: str
    classname: str
    runs: int
    failures: int
    failure_rate: float | None
    flips: int
    flip_rate: float | None
    flaky_revisions: list[str]
    history: list[HistoryEntry]


class TrendTotals(Counts):
    failure_rate: float | None
    infra_rate: float | None


class TrendDay(Counts):
    day: str


class RateRow(BaseModel):
    runs: int
    failed: int
    infra: int
    failure_rate: float | None
    infra_rate: float | None


class PipelineRate(RateRow):
    pipeline: str


class JobRate(RateRow):
    job: str


class ProjectRate(RateRow):
    project: str


class Breaker(BaseModel):
    author: str
    breaks: int
    builds: int
    projects: list[str]


class Trends(BaseModel):
    days: int
    totals: TrendTotals
    series: list[TrendDay]
    pipelines: list[PipelineRate]
    jobs: list[JobRate]
    projects: list[ProjectRate]
    tests: list[FragileTest]
    authors: list[Breaker]
    breaking_pipelines: list[str]
