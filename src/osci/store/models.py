"""The SQL tables of osci, as SQLAlchemy 2 typed ORM classes.

Times are timezone-aware UTC datetimes (see :class:`UTCDateTime`), durations are seconds.
States and results are plain strings (no database enums: adding a state needs no migration).
Builds and test results repeat a few columns of their parents (project, pipeline, job, branch,
change, end time) so that the dashboard's lists and histories need no joins.

Changing a table means adding an Alembic revision under ``migrations/versions``; a test checks
that the migrated schema equals this metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from osci.store.types import UTCDateTime, utcnow

# Stable constraint names, so that migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Name = String(255)
Rev = String(64)  # git sha (40 or 64 hex) or another VCS revision
Short = String(32)  # states, results, kinds


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Event(Base):
    """Something that happened outside, recorded before it is acted on."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    connection: Mapped[str] = mapped_column(Name)
    type: Mapped[str] = mapped_column(String(64))  # patchset-created, ref-updated, timer, manual, ...
    project: Mapped[str | None] = mapped_column(Name)
    branch: Mapped[str | None] = mapped_column(Name)
    ref: Mapped[str | None] = mapped_column(Name)
    oldrev: Mapped[str | None] = mapped_column(Rev)
    newrev: Mapped[str | None] = mapped_column(Rev)
    change: Mapped[str | None] = mapped_column(String(64))
    patchset: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(Name)
    files: Mapped[list[Any] | None] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(Text)  # what it triggered, or why nothing ran


class Item(Base):
    """One change in one pipeline."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    pipeline: Mapped[str] = mapped_column(Name)
    queue: Mapped[str | None] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name)
    branch: Mapped[str | None] = mapped_column(Name)
    ref: Mapped[str | None] = mapped_column(Name)
    oldrev: Mapped[str | None] = mapped_column(Rev)
    newrev: Mapped[str | None] = mapped_column(Rev)
    change: Mapped[str | None] = mapped_column(String(64))
    patchset: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(Name)
    state: Mapped[str] = mapped_column(Short, index=True, default="waiting")
    # waiting, active, completed, dequeued, superseded
    result: Mapped[str | None] = mapped_column(Short)
    enqueue_time: Mapped[datetime] = mapped_column(default=utcnow)
    dequeue_time: Mapped[datetime | None]
    ahead_uuid: Mapped[str | None] = mapped_column(String(64))  # the item ahead in a dependent queue
    live: Mapped[bool] = mapped_column(Boolean, default=True)


class Buildset(Base):
    """The builds of one item: its frozen job graph."""

    __tablename__ = "buildsets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    result: Mapped[str | None] = mapped_column(Short)
    message: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    completed: Mapped[datetime | None]
    job_graph: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # frozen jobs and dependencies


class Build(Base):
    """One run of one job for one item."""

    __tablename__ = "builds"
    __table_args__ = (
        Index("ix_builds_job_end_time", "job", "end_time"),
        Index("ix_builds_project_end_time", "project", "end_time"),
        Index("ix_builds_pipeline_end_time", "pipeline", "end_time"),
        Index("ix_builds_end_time", "end_time"),
        Index("ix_builds_author", "author"),
        Index("ix_builds_newrev", "newrev"),
        # covers "who breaks builds" (counts per author in some pipelines) without reading rows
        Index("ix_builds_pipeline_end_time_result_author", "pipeline", "end_time", "result", "author"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    buildset_id: Mapped[int | None] = mapped_column(ForeignKey("buildsets.id"), index=True)
    job: Mapped[str] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name, default="")
    pipeline: Mapped[str | None] = mapped_column(Name)
    branch: Mapped[str | None] = mapped_column(Name)
    change: Mapped[str | None] = mapped_column(String(64), index=True)
    patchset: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[str | None] = mapped_column(Name)
    newrev: Mapped[str | None] = mapped_column(Rev)
    author: Mapped[str | None] = mapped_column(Name)
    voting: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(Short, index=True, default="waiting")  # waiting, running, completed
    result: Mapped[str | None] = mapped_column(Short, index=True)
    node: Mapped[str | None] = mapped_column(Name)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    start_time: Mapped[datetime | None]  # first start
    attempt_start: Mapped[datetime | None]  # start of the attempt now running
    end_time: Mapped[datetime | None]
    duration: Mapped[float | None] = mapped_column(Float)
    estimated_duration: Mapped[float | None] = mapped_column(Float)
    log_url: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    tests_passed: Mapped[int] = mapped_column(Integer, default=0)
    tests_failed: Mapped[int] = mapped_column(Integer, default=0)
    tests_error: Mapped[int] = mapped_column(Integer, default=0)
    tests_skipped: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AttemptRow(Base):
    """One attempt of a build; an attempt cut short by a server restart has state "interrupted"."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("build_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1-based
    state: Mapped[str] = mapped_column(Short, default="completed")  # completed, interrupted
    result: Mapped[str | None] = mapped_column(Short)  # null when interrupted
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    node: Mapped[str | None] = mapped_column(Name)
    phases: Mapped[list[Any]] = mapped_column(JSON, default=list)


class TestResult(Base):
    """One test case of a build. Output is bounded (MAX_OUTPUT); the full text stays in the logs."""

    __test__ = False
    __tablename__ = "test_results"
    __table_args__ = (Index("ix_test_results_name_build_id", "name", "build_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    classname: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(Short)  # passed, failed, error, skipped
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    job: Mapped[str] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name, default="")
    pipeline: Mapped[str | None] = mapped_column(Name)
    branch: Mapped[str | None] = mapped_column(Name)
    newrev: Mapped[str | None] = mapped_column(Rev)
    end_time: Mapped[datetime | None]


class MetricRow(Base):
    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Name)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(64), default="")


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)  # relative to the build's artifacts/ folder
    size: Mapped[int | None] = mapped_column(BigInteger)


class Node(Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    label: Mapped[str | None] = mapped_column(Name)
    provider: Mapped[str | None] = mapped_column(Name)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(Short, default="ready")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Autohold(Base):
    """`osci autohold`: keep the nodes of the next `count` failing builds of a job (held)."""

    __tablename__ = "autoholds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(Name)
    job: Mapped[str] = mapped_column(Name)
    count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    held: Mapped[list[str]] = mapped_column(JSON, default=list)  # the builds whose nodes were held
    created: Mapped[datetime] = mapped_column(default=utcnow)


class NodeEvent(Base):
    __tablename__ = "node_events"
    __table_args__ = (Index("ix_node_events_node_id_time", "node_id", "time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class Report(Base):
    """The reporters' outbox: a report is written here first, then sent, then marked sent."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_state_next_try_at", "state", "next_try_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    buildset_id: Mapped[int | None] = mapped_column(ForeignKey("buildsets.id"), index=True)
    reporter: Mapped[str] = mapped_column(Name)  # connection name
    slot: Mapped[str] = mapped_column(String(64))  # start, success, failure, no-jobs, ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(Short, default="pending")  # pending, sent, failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class Token(Base):
    """An API token: only the sha256 of the secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(Short)  # admin, agent
    created: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ConfigLoad(Base):
    """One attempt to load the configuration, with its errors ({file, line, column, message})."""

    __tablename__ = "config_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(Text)  # the file or folder loaded
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)


class BuildDaily(Base):
    """Roll-up: completed builds per UTC day, project, pipeline, job and counted result.

    Only results that enter rates are kept (passed, failed and infra: see ``osci.store.rollups``).
    The primary key is (day, ``key``), ``key`` a hash of (project, pipeline, job, result): a key
    over the long text columns themselves could exceed PostgreSQL's btree entry size for
    non-ASCII names."""

    __tablename__ = "build_daily"
    # No secondary index: rows are clustered by day (SQLite WITHOUT ROWID), so any window,
    # with or without a job or project filter, is read in one short sweep.
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC) of the end
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    project: Mapped[str] = mapped_column(Name)
    pipeline: Mapped[str] = mapped_column(Name)  # "" for builds without a pipeline
    job: Mapped[str] = mapped_column(Name)
    result: Mapped[str] = mapped_column(Short)
    count: Mapped[int] = mapped_column(Integer, default=0)
    duration_sum: Mapped[float] = mapped_column(Float, default=0.0)


class TestDaily(Base):
    """Roll-up: one test's results per UTC day, project and job.

    ``runs`` leaves skips out; ``failures`` are failed + error; ``flaky`` is 1 when one of the
    day's results has the opposite outcome (passed vs failed/error) on the same revision in any
    build. ``last_rank`` = build id * 8 + status code orders the latest result (see rollups)."""

    __test__ = False
    __tablename__ = "test_daily"
    __table_args__ = (
        UniqueConstraint("day", "key"),
        Index("ix_test_daily_name_key_day", "name", "key", "day"),  # the tests list, in name order
        Index("ix_test_daily_day_failures", "day", "failures"),  # fragile tests: failing rows only
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # rowid: quick lookups from indexes
    day: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(40))  # hash of (project, job, classname, name)
    project: Mapped[str] = mapped_column(Name)
    job: Mapped[str] = mapped_column(Name)
    name: Mapped[str] = mapped_column(String(512))
    classname: Mapped[str] = mapped_column(String(512))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    skips: Mapped[int] = mapped_column(Integer, default=0)
    duration_sum: Mapped[float] = mapped_column(Float, default=0.0)
    flaky: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str] = mapped_column(Short)
    last_rank: Mapped[int] = mapped_column(BigInteger)
    last_time: Mapped[datetime | None]


class CulpritSearch(Base):
    """A search for the commit that broke a job on a branch (``osci.analysis.culprit``).

    ``commits`` is the searched range oldest first, from the last known good revision
    (``good_rev``, first element) to the first known bad one (``bad_rev``, last element).
    ``verdict`` is culprit, flaky (the failure did not reproduce: nobody is blamed) or
    inconclusive (infrastructure errors, or results that contradict each other); ``state``
    is running or completed."""

    __tablename__ = "culprit_searches"
    __table_args__ = (Index("ix_culprit_searches_project_job", "project", "job"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    project: Mapped[str] = mapped_column(Name)
    pipeline: Mapped[str] = mapped_column(Name)
    branch: Mapped[str | None] = mapped_column(Name)
    job: Mapped[str] = mapped_column(Name)
    trigger: Mapped[str] = mapped_column(String(64))  # post-merge, periodic, promote, manual
    good_rev: Mapped[str] = mapped_column(Rev)
    bad_rev: Mapped[str] = mapped_column(Rev)
    commits: Mapped[list[Any]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(Short, index=True, default="running")
    verdict: Mapped[str | None] = mapped_column(Short)
    reason: Mapped[str | None] = mapped_column(Text)
    culprit_rev: Mapped[str | None] = mapped_column(Rev)
    culprit_parent: Mapped[str | None] = mapped_column(Rev)
    culprit_author: Mapped[str | None] = mapped_column(Name)
    culprit_email: Mapped[str | None] = mapped_column(Name)
    culprit_subject: Mapped[str | None] = mapped_column(Text)
    search_builds: Mapped[int] = mapped_column(Integer, default=0)
    total_builds: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    completed: Mapped[datetime | None]


class CulpritBuild(Base):
    """One build a culprit search ran: the evidence behind its verdict."""

    __tablename__ = "culprit_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("culprit_searches.id", ondelete="CASCADE"), index=True)
    rev: Mapped[str] = mapped_column(Rev)
    position: Mapped[int] = mapped_column(Integer)  # index of rev in the search's commits
    purpose: Mapped[str] = mapped_column(Short)  # reproduce, search, confirm-bad, confirm-good
    round: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(Short)  # pass, fail, error (None while running)
    result: Mapped[str | None] = mapped_column(Short)  # the build's result (SUCCESS, FAILURE, ...)
    build_uuid: Mapped[str | None] = mapped_column(String(64))
    item_uuid: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(default=utcnow)
    completed: Mapped[datetime | None]


class Promotion(Base):
    """One promotion of a staging branch's commits onto a target branch (a ``promote`` pipeline).

    ``base_rev`` is the target's tip when the promotion started, ``tip_rev`` the staging tip
    tested; ``promoted_rev`` is where the target was fast-forwarded to (None: not moved).
    ``result`` is promoted, partial (up to the commit before a culprit), rejected (the first
    commit is the culprit, or the failure was a flake and the target is left where it was),
    error."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    pipeline: Mapped[str] = mapped_column(Name)
    project: Mapped[str] = mapped_column(Name)
    from_branch: Mapped[str] = mapped_column(Name)
    to_branch: Mapped[str] = mapped_column(Name)
    base_rev: Mapped[str | None] = mapped_column(Rev)
    tip_rev: Mapped[str | None] = mapped_column(Rev)
    commits: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(Short, index=True, default="running")  # running, completed
    phase: Mapped[str | None] = mapped_column(String(64))  # testing, bisecting, cherry-picking, ...
    result: Mapped[str | None] = mapped_column(Short)
    promoted_rev: Mapped[str | None] = mapped_column(Rev)
    culprit_search_id: Mapped[int | None] = mapped_column(ForeignKey("culprit_searches.id"))
    candidate_rev: Mapped[str | None] = mapped_column(Rev)  # cherry-picked candidate, if any
    message: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    completed: Mapped[datetime | None]
