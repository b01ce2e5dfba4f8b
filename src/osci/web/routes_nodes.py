"""The grid: nodes, their states and events (open); hold, release, maintenance, quarantine,
resuming a halted label and autohold (admin token)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from osci.store.models import Token
from osci.web.auth import require_admin
from osci.web.errors import ApiError
from osci.web.ports import ServerPort
from osci.web.schemas import ErrorOut

log = logging.getLogger("osci.web")
router = APIRouter(
    prefix="/api",
    tags=["nodes"],
    responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 422)},
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
Reason = Annotated[str, StringConstraints(max_length=1000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NodeActionRequest(Strict):
    action: Literal["hold", "release", "maintenance", "quarantine"]
    reason: Reason = ""


class AutoholdRequest(Strict):
    project: Name
    job: Name
    count: int = Field(default=1, ge=1, le=100)
    reason: Reason = ""


def _server(request: Request) -> ServerPort:
    return request.app.state.server


@router.get("/nodes", summary="Every node: label, capabilities, state, builds; halted labels; autoholds")
async def nodes(request: Request) -> Any:
    return jsonable_encoder(_server(request).nodes())


@router.get("/nodes/{name}", summary="One node and its latest events (newest first)")
async def node(request: Request, name: str) -> Any:
    doc = await _server(request).node(name)
    if doc is None:
        raise ApiError(404, f"no node {name!r}")
    return jsonable_encoder(doc)


@router.post("/nodes/{name}", summary="hold | release | maintenance | quarantine a node (admin token)")
async def node_action(
    request: Request, name: str, body: NodeActionRequest, token: Annotated[Token, Depends(require_admin)]
) -> Any:
    try:
        doc = _server(request).node_action(name, body.action, body.reason)
    except ValueError as exc:
        raise ApiError(404 if "no node" in str(exc) else 400, str(exc)) from None
    log.info("token %s: node %s %s", token.name, name, body.action)
    return jsonable_encoder(doc)


@router.post("/labels/{label}/resume", summary="Resume dispatching for a halted label (admin token)")
async def resume(request: Request, label: str, token: Annotated[Token, Depends(require_admin)]) -> Any:
    if not _server(request).resume_label(label):
        raise ApiError(400, f"label {label!r} is not halted")
    log.info("token %s resumed label %s", token.name, label)
    return {"resumed": label}


@router.post("/autohold", summary="Keep the nodes of the next failing build(s) of a job (admin token)")
async def autohold(request: Request, body: AutoholdRequest, token: Annotated[Token, Depends(require_admin)]) -> Any:
    doc = await _server(request).autohold(body.project, body.job, body.count, body.reason)
    log.info("token %s: autohold %s %s x%d", token.name, body.project, body.job, body.count)
    return jsonable_encoder(doc)
