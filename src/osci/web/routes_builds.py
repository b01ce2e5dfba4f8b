"""Read-only endpoints over the store: builds, their tests, buildsets and events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from osci.model import TestStatus
from osci.store import NotFound, Store
from osci.store.api_queries import (
    BuildsetView,
    buildset_build_counts,
    buildset_uuids,
    event_items,
    get_buildset_with_builds,
    list_buildsets,
    recent_events,
)
from osci.store.builds import RESULTS
from osci.store.models import Build
from osci.web import serialize
from osci.web.errors import ApiError
from osci.web.params import Filter, Limit, Search, Skip, ident, text
from osci.web.schemas import (
    BuildDetail,
    BuildsetDetail,
    BuildsetEntry,
    BuildSummary,
    ErrorOut,
    EventOut,
    TestCaseOut,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
router = APIRouter(prefix="/api", tags=["builds"], responses=ERRORS)
STATUSES = tuple(str(status) for status in TestStatus)
BUILD_STATES = ("waiting", "running", "completed")


def _store(request: Request) -> Store:
    return request.app.state.store


def _build(store: Store, uuid: str) -> Build:
    build = store.get_build(ident("build", uuid))
    if build is None:
        raise ApiError(404, f"no build {uuid!r}")
    return build


def _buildset_uuid(store: Store, build: Build) -> str | None:
    if build.buildset_id is None:
        return None
    return buildset_uuids(store, {build.buildset_id}).get(build.buildset_id)


@router.get(
    "/builds", summary="Builds matching every filter, newest first", response_model=list[BuildSummary]
)
def builds(
    request: Request,
    project: Filter = None,
    pipeline: Filter = None,
    job: Filter = None,
    branch: Filter = None,
    change: Filter = None,
    result: Filter = None,
    author: Filter = None,
    state: Filter = None,
    q: Search = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> list[dict[str, Any]]:
    filters = {
        "project": project,
        "pipeline": pipeline,
        "job": job,
        "branch": branch,
        "change": change,
        "author": author,
        "q": q,
    }
    filters = {name: text(name, value) for name, value in filters.items()}
    if result is not None and result not in RESULTS:
        raise ApiError(400, f"invalid result {result[:40]!r}: expected one of {', '.join(RESULTS)}")
    if state is not None and state not in BUILD_STATES:
        raise ApiError(400, f"invalid state {state[:40]!r}: expected one of {', '.join(BUILD_STATES)}")
    store = _store(request)
    rows = store.list_builds(**filters, result=result, state=state, limit=limit, skip=skip)
    return summaries(store, rows)


def summaries(store: Store, rows: list[Build]) -> list[dict[str, Any]]:
    """Build summaries, their buildsets' uuids fetched in one query."""
    sets = buildset_uuids(store, {row.buildset_id for row in rows if row.buildset_id is not None})
    return [serialize.build_summary(row, sets.get(row.buildset_id)) for row in rows]


@router.get(
    "/build/{uuid}",
    summary="One build with its attempts, test counts, artifacts and metrics",
    response_model=BuildDetail,
)
def build(request: Request, uuid: str) -> dict[str, Any]:
    store = _store(request)
    row = _build(store, uuid)
    return serialize.build_detail(
        row,
        _buildset_uuid(store, row),
        store.build_attempts(row.uuid),
        store.build_artifacts(row.uuid),
        store.build_metrics(row.uuid),
    )


@router.get(
    "/build/{uuid}/tests", summary="A build's test results, failures first", response_model=list[TestCaseOut]
)
def build_tests(request: Request, uuid: str, status: Filter = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"invalid status {status[:40]!r}: expected one of {', '.join(STATUSES)}")
    store = _store(request)
    rows = store.build_tests(_build(store, uuid).uuid)
    if status is not None:
        rows = [row for row in rows if row.status == status]
    rows.sort(key=lambda row: serialize.STATUS_ORDER.get(row.status, 9))  # stable: file order within a status
    return [serialize.test_case(row) for row in rows]


@router.get(
    "/buildsets",
    summary="Buildsets newest first, each with its item and its builds counted",
    response_model=list[BuildsetEntry],
)
def buildsets(
    request: Request,
    project: Filter = None,
    pipeline: Filter = None,
    change: Filter = None,
    result: Filter = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> list[dict[str, Any]]:
    filters = {"project": project, "pipeline": pipeline, "change": change, "result": result}
    filters = {name: text(name, value) for name, value in filters.items()}
    store = _store(request)
    return buildset_entries(store, list_buildsets(store, limit=limit, skip=skip, **filters))


def buildset_entries(store: Store, views: list[BuildsetView]) -> list[dict[str, Any]]:
    counts = buildset_build_counts(store, {view.buildset.id for view in views})
    return [serialize.buildset_entry(view, counts[view.buildset.id]) for view in views]


@router.get(
    "/buildset/{uuid}",
    summary="One buildset, its item, its builds and its job graph",
    response_model=BuildsetDetail,
)
def buildset(request: Request, uuid: str) -> dict[str, Any]:
    try:
        view, rows = get_buildset_with_builds(_store(request), ident("buildset", uuid))
    except NotFound:
        raise ApiError(404, f"no buildset {uuid!r}") from None
    return {
        **serialize.buildset(view),
        "builds": [serialize.build_summary(row, view.buildset.uuid) for row in rows],
        "graph": serialize.graph(view.buildset.job_graph),
    }


@router.get(
    "/events",
    summary="Recent events, newest first, with what each triggered (or why nothing ran)",
    response_model=list[EventOut],
)
def events(
    request: Request, project: Filter = None, type: Filter = None, limit: Limit = 50
) -> list[dict[str, Any]]:
    store = _store(request)
    rows = recent_events(store, limit=limit, project=text("project", project), type=text("type", type))
    items = event_items(store, {row.id for row in rows})
    return [serialize.event(row, items[row.id]) for row in rows]
