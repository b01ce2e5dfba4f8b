"""Builds, their attempts, and what they produced (tests, metrics, artifacts); the builds list."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from osci.model import Attempt, BuildRecord, Result, TestStatus
from osci.store import rollups
from osci.store.base import StoreBase
from osci.store.errors import NotFound, StoreError
from osci.store.models import Artifact, AttemptRow, Build, Buildset, Item, MetricRow, TestResult
from osci.store.queue import new_uuid
from osci.store.serialize import json_ready
from osci.store.types import MAX_MESSAGE, MAX_NAME, MAX_OUTPUT, clean_text, clip, from_epoch
from osci.store.validate import count, moment, one_of, required, text_or_none

INTERRUPTED = "interrupted by server restart"
RESULTS = tuple(str(result) for result in Result)
MAX_PAGE = 1000
SEARCH_WINDOW = 20_000  # builds a free-text search looks through, newest first
MAX_SEARCH = 100
SEARCHED = (Build.job, Build.project, Build.change, Build.author)


def contains(column: Any, text: str, dialect: str) -> ColumnElement[bool]:
    """A case-insensitive substring test, LIKE wildcards escaped. SQLite's LIKE already ignores
    ASCII case (its lower() knows no more than that), and skips lower() on every row."""
    pattern = "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    if dialect == "postgresql":
        return column.ilike(pattern, escape="/")
    return column.like(pattern, escape="/")


def _get(session: Session, uuid: str) -> Build:
    build = session.scalar(select(Build).where(Build.uuid == uuid))
    if build is None:
        raise NotFound(f"no build {uuid}")
    return build


def _next_attempt_number(build: Build) -> int:
    """Every attempt row is written with `attempts_count` set to its number (no query needed)."""
    return (build.attempts_count or 0) + 1


def interrupt_in(session: Session, build: Build, reason: str, now: datetime) -> AttemptRow:
    """Inside a caller's transaction: the running attempt recorded as interrupted, the build
    back to waiting (to run again)."""
    row = AttemptRow(
        build_id=build.id,
        number=_next_attempt_number(build),
        state="interrupted",
        result=None,
        start_time=build.attempt_start,
        end_time=now,
        reason=clean_text(reason),
        node=build.node,
        phases=[],
    )
    session.add(row)
    build.attempts_count = row.number
    build.state = "waiting"
    build.node = None
    build.attempt_start = None
    return row


def _result(value: object) -> str:
    try:
        return str(Result(value))
    except ValueError:
        raise StoreError(f"invalid result {value!r}: expected one of {', '.join(RESULTS)}") from None


def _status(value: object) -> str:
    try:
        return str(TestStatus(value))
    except ValueError:
        statuses = ", ".join(str(status) for status in TestStatus)
        raise StoreError(f"invalid test status {value!r}: expected one of {statuses}") from None


def _attempt_row(build_id: int, number: int, attempt: Attempt) -> AttemptRow:
    return AttemptRow(**_attempt_values(build_id, number, attempt))


def _attempt_values(build_id: int, number: int, attempt: Attempt) -> dict[str, Any]:
    return {
        "build_id": build_id,
        "number": number,
        "state": "completed",
        "result": _result(attempt.result),
        "start_time": from_epoch(attempt.start_time),
        "end_time": from_epoch(attempt.end_time),
        "reason": clip(attempt.reason, MAX_MESSAGE),
        "node": attempt.node or None,
        "phases": json_ready([phase.to_dict() for phase in attempt.phases]),
    }


def _artifact_size(build_dir: str, path: str) -> int | None:
    if not build_dir:
        return None
    file = Path(build_dir) / "artifacts" / path
    try:
        return file.stat().st_size if file.is_file() else None
    except OSError:
        return None


class BuildQueries(StoreBase):
    def create_build(
        self,
        job: str,
        *,
        buildset_id: int | None = None,
        uuid: str | None = None,
        project: str | None = None,
        pipeline: str | None = None,
        branch: str | None = None,
        change: str | int | None = None,
        patchset: str | int | None = None,
        ref: str | None = None,
        newrev: str | None = None,
        author: str | None = None,
        voting: bool = True,
        estimated_duration: float | None = None,
        log_url: str | None = None,
        now: datetime | None = None,
    ) -> Build:
        """A waiting build. Fields not given are copied from the buildset's item, if any."""
        required("job", job)
        fields = {
            "project": project,
            "pipeline": pipeline,
            "branch": branch,
            "change": text_or_none("change", change),
            "patchset": text_or_none("patchset", patchset),
            "ref": ref,
            "newrev": newrev,
            "author": author,
        }
        with self._write() as session:
            if buildset_id is not None:
                buildset = session.get(Buildset, buildset_id)
                if buildset is None:
                    raise NotFound(f"no buildset {buildset_id}")
                item = session.get(Item, buildset.item_id) if buildset.item_id is not None else None
                if item is not None:
                    for name, value in fields.items():
                        if value is None:
                            fields[name] = getattr(item, name)
            build = Build(
                uuid=uuid or new_uuid(),
                buildset_id=buildset_id,
                job=job,
                voting=bool(voting),
                state="waiting",
                created=moment("now", now),
                estimated_duration=estimated_duration,
                log_url=log_url,
                **{**fields, "project": fields["project"] or ""},
            )
            session.add(build)
        return build

    def start_build(self, uuid: str, node: str, now: datetime | None = None) -> Build:
        """A waiting build starts an attempt on `node`."""
        with self._write() as session:
            build = _get(session, uuid)
            if build.state != "waiting":
                raise StoreError(f"build {uuid} cannot start: it is {build.state}")
            started = moment("now", now)
            build.state = "running"
            build.node = node
            build.attempt_start = started
            if build.start_time is None:
                build.start_time = started
            return build

    def record_attempt(self, uuid: str, attempt: Attempt) -> AttemptRow:
        """Add a finished attempt (e.g. an ERROR that will be retried); the store numbers it."""
        with self._write() as session:
            build = _get(session, uuid)
            row = _attempt_row(build.id, _next_attempt_number(build), attempt)
            session.add(row)
            build.attempts_count = row.number
            return row

    def interrupt_build(
        self, uuid: str, reason: str = INTERRUPTED, now: datetime | None = None
    ) -> AttemptRow:
        """Record the running attempt as interrupted and put the build back to waiting, to run again."""
        with self._write() as session:
            build = _get(session, uuid)
            if build.state != "running":
                raise StoreError(f"build {uuid} is {build.state}, not running: nothing to interrupt")
            return interrupt_in(session, build, reason, moment("now", now))

    def interrupted_builds(self) -> list[Build]:
        """Builds marked running: at server start, these were cut off by the previous process."""
        with self._read() as session:
            return list(session.scalars(select(Build).where(Build.state == "running").order_by(Build.id)))

    def finish_build(
        self, uuid: str, record: BuildRecord, *, log_url: str | None = None, now: datetime | None = None
    ) -> Build:
        """Write a build's outcome in one transaction: result, attempts, tests, metrics, artifacts.

        The record's attempts are added after any already recorded (interrupted ones, say)."""
        with self._write() as session:
            return self._finish_in(session, uuid, record, log_url=log_url, now=now)

    def _finish_in(
        self,
        session: Session,
        uuid: str,
        record: BuildRecord,
        *,
        log_url: str | None = None,
        now: datetime | None = None,
        build: Build | None = None,
    ) -> Build:
        """`finish_build` inside a caller's transaction (the scheduler's composite transitions);
        `build`: its row, when the caller has loaded it already."""
        if not isinstance(record, BuildRecord):
            raise StoreError(f"finish_build needs a BuildRecord, got {type(record).__name__}")
        result = _result(record.result)
        statuses = Counter(_status(case.status) for case in record.tests)  # checked before writing
        for attempt in record.attempts:
            _result(attempt.result)
        if build is None:
            build = _get(session, uuid)
        if build.state == "completed":
            raise StoreError(f"build {uuid} is already completed ({build.result})")
        end = from_epoch(record.end_time) or moment("now", now)
        start = build.start_time or from_epoch(record.start_time) or end
        first = _next_attempt_number(build)
        values: dict[str, Any] = {
            "state": "completed",
            "result": result,
            "start_time": start,
            "end_time": end,
            "duration": record.duration if record.start_time and record.end_time else (end - start).total_seconds(),
            "reason": clip(record.reason, MAX_MESSAGE) or None,
            "extra": json_ready(record.extra),
            "attempt_start": None,
            "attempts_count": first - 1 + len(record.attempts),
            "tests_passed": statuses["passed"],
            "tests_failed": statuses["failed"],
            "tests_error": statuses["error"],
            "tests_skipped": statuses["skipped"],
        }
        if log_url is not None:
            values["log_url"] = log_url
        if record.attempts and record.attempts[-1].node:
            values["node"] = record.attempts[-1].node
        # Core statements, not the unit of work: a busy grid finishes dozens of builds a second,
        # and flushing each through the ORM cost more than all the rest of recording it.
        session.flush()  # whatever the caller changed before, in order
        connection = session.connection()
        connection.execute(update(Build.__table__).where(Build.__table__.c.id == build.id).values(**values))
        for name, value in values.items():
            set_committed_value(build, name, value)  # the caller's object says what the row says
        if record.attempts:
            connection.execute(
                insert(AttemptRow.__table__),
                [_attempt_values(build.id, first + n, attempt) for n, attempt in enumerate(record.attempts)],
            )
        tests = self._insert_outputs(session, build, record)
        rollups.record_build(session, build, tests)
        return build

    @staticmethod
    def _insert_outputs(session: Session, build: Build, record: BuildRecord) -> list[dict[str, Any]]:
        """Insert the record's tests, metrics and artifacts; returns the test rows inserted."""
        common = {
            "build_id": build.id,
            "job": build.job,
            "project": build.project,
            "pipeline": build.pipeline,
            "branch": build.branch,
            "newrev": build.newrev,
            "end_time": build.end_time,
        }
        tests = [
            {
                **common,
                "name": clip(case.name, MAX_NAME),
                "classname": clip(case.classname, MAX_NAME),
                "status": _status(case.status),
                "duration": float(case.duration or 0.0),
                "message": clip(case.message, MAX_MESSAGE) or None,
                "output": clip(case.output, MAX_OUTPUT) or None,
                "source": clean_text(case.source) or None,
            }
            for case in record.tests
        ]
        if tests:
            session.execute(insert(TestResult), tests)
        metrics = [
            {
                "build_id": build.id,
                "name": clean_text(m.name),
                "value": float(m.value),
                "unit": clean_text(m.unit),
            }
            for m in record.metrics
        ]
        if metrics:
            session.execute(insert(MetricRow), metrics)
        artifacts = [
            {"build_id": build.id, "path": clean_text(path), "size": _artifact_size(record.build_dir, path)}
            for path in record.artifacts
        ]
        if artifacts:
            session.execute(insert(Artifact), artifacts)
        return tests

    # -- reading --------------------------------------------------------------------------------

    def get_build(self, uuid: str) -> Build | None:
        with self._read() as session:
            return session.scalar(select(Build).where(Build.uuid == uuid))

    def build_attempts(self, uuid: str) -> list[AttemptRow]:
        with self._read() as session:
            build = _get(session, uuid)
            query = select(AttemptRow).where(AttemptRow.build_id == build.id).order_by(AttemptRow.number)
            return list(session.scalars(query))

    def build_tests(self, uuid: str) -> list[TestResult]:
        with self._read() as session:
            build = _get(session, uuid)
            query = select(TestResult).where(TestResult.build_id == build.id).order_by(TestResult.id)
            return list(session.scalars(query))

    def build_metrics(self, uuid: str) -> list[MetricRow]:
        with self._read() as session:
            build = _get(session, uuid)
            return list(
                session.scalars(
                    select(MetricRow).where(MetricRow.build_id == build.id).order_by(MetricRow.id)
                )
            )

    def build_artifacts(self, uuid: str) -> list[Artifact]:
        with self._read() as session:
            build = _get(session, uuid)
            return list(
                session.scalars(select(Artifact).where(Artifact.build_id == build.id).order_by(Artifact.id))
            )

    def list_builds(
        self,
        *,
        project: str | None = None,
        pipeline: str | None = None,
        job: str | None = None,
        branch: str | None = None,
        change: str | int | None = None,
        result: str | None = None,
        state: str | None = None,
        author: str | None = None,
        q: str | None = None,
        limit: int = 50,
        skip: int = 0,
    ) -> list[Build]:
        """Builds matching every filter given, newest (most recently created) first.

        `q` is a case-insensitive substring of the job, project, change or author. It cannot use
        an index, so it searches only the newest :data:`SEARCH_WINDOW` builds (by id)."""
        count("limit", limit, 1, MAX_PAGE)
        count("skip", skip, 0, 2**31)
        query = select(Build)
        filters = {
            "project": project,
            "pipeline": pipeline,
            "job": job,
            "branch": branch,
            "state": state,
            "author": author,
        }
        for name, value in filters.items():
            if value is not None:
                query = query.where(getattr(Build, name) == value)
        if change is not None:
            query = query.where(Build.change == text_or_none("change", change))
        if result is not None:
            query = query.where(Build.result == one_of("result", result, RESULTS))
        if q:
            if len(q) > MAX_SEARCH:
                raise StoreError(f"search text too long: at most {MAX_SEARCH} characters")
            oldest = select(Build.id).order_by(Build.id.desc()).offset(SEARCH_WINDOW - 1).limit(1)
            query = query.where(
                Build.id >= func.coalesce(oldest.scalar_subquery(), 0),
                or_(*(contains(column, q, self.dialect) for column in SEARCHED)),
            )
        query = query.order_by(Build.id.desc()).limit(limit).offset(skip)
        with self._read() as session:
            return list(session.scalars(query))

    def test_history(
        self, name: str, limit: int = 50, *, classname: str | None = None, job: str | None = None
    ) -> list[TestResult]:
        """The latest results of one test across builds, newest first."""
        required("test name", name)
        count("limit", limit, 1, MAX_PAGE)
        query = select(TestResult).where(TestResult.name == clip(name, MAX_NAME))
        if classname is not None:
            query = query.where(TestResult.classname == classname)
        if job is not None:
            query = query.where(TestResult.job == job)
        query = query.order_by(TestResult.build_id.desc(), TestResult.id.desc()).limit(limit)
        with self._read() as session:
            return list(session.scalars(query))
