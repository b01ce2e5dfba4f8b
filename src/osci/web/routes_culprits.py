"""Culprit searches and promotions: read from the store (open), and `osci promote` (admin token)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder

from osci.store import NotFound, Store
from osci.store.models import Token
from osci.web.auth import require_admin
from osci.web.errors import ApiError
from osci.web.routes_control import Name, Strict
from osci.web.schemas import ErrorOut

log = logging.getLogger("osci.web")
router = APIRouter(
    prefix="/api",
    tags=["culprits"],
    responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 422)},
)
Filter = Annotated[str | None, Query(max_length=255)]
VERDICTS = ("culprit", "flaky", "inconclusive")


def _store(request: Request) -> Store:
    return request.app.state.store


@router.get("/culprits", summary="Culprit searches, newest first (without their evidence)")
def culprits(
    request: Request,
    project: Filter = None,
    job: Filter = None,
    verdict: Filter = None,
    state: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    if verdict is not None and verdict not in VERDICTS:
        raise ApiError(400, f"verdict must be one of {', '.join(VERDICTS)}")
    found = _store(request).culprit_searches(
        project=project, job=job, verdict=verdict, state=state, limit=limit
    )
    return jsonable_encoder(found)


@router.get("/culprit/{uuid}", summary="One culprit search: range, verdict, culprit, and every build")
def culprit(request: Request, uuid: str) -> dict[str, Any]:
    try:
        return jsonable_encoder(_store(request).culprit_search(uuid[:64]))
    except NotFound:
        raise ApiError(404, f"no culprit search {uuid[:80]!r}") from None


@router.get("/promotions", summary="Promotions of staging branches, newest first")
def promotions(
    request: Request,
    project: Filter = None,
    state: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    return jsonable_encoder(_store(request).promotions(project=project, state=state, limit=limit))


class PromoteRequest(Strict):
    pipeline: Name | None = None
    project: Name | None = None


@router.post("/promote", summary="Test the staging branch now and promote it (admin token)")
async def promote(
    request: Request, body: PromoteRequest, token: Annotated[Token, Depends(require_admin)]
) -> Any:
    server = request.app.state.server
    try:
        outcome = await server.promote(body.pipeline, body.project)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("token %s started a promotion (%s)", token.name, body.pipeline or "the promote pipeline")
    return jsonable_encoder(outcome)
