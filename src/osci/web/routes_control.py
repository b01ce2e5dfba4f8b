"""The scheduler's face: status and configuration errors (open), enqueue, dequeue and reload
(admin token), and the post-receive hook's notify (open: it only asks for a poll)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

from osci.connections.base import WebhookRejected
from osci.store.models import Token
from osci.web.auth import require_admin
from osci.web.errors import ApiError
from osci.web.ports import ServerPort
from osci.web.schemas import Accepted, Dequeued, ErrorOut
from osci.web.status_stream import follow_status

log = logging.getLogger("osci.web")
router = APIRouter(
    prefix="/api",
    tags=["control"],
    responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 422)},
)

# Names and revisions: one line of printable text, bounded.
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
# A change number may come as a JSON integer (Gerrit's are): kept as text.
Change = Annotated[Name | int, AfterValidator(str)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EnqueueRequest(Strict):
    project: Name | None = None  # may be left out for a change a code-review connection knows
    pipeline: Name
    branch: Name | None = None
    ref: Name | None = None
    change: Change | None = None

    @model_validator(mode="after")
    def _what(self) -> EnqueueRequest:
        if self.project is None and self.change is None:
            raise ValueError("name a project, or a change (NUMBER or NUMBER,PATCHSET)")
        return self


class DequeueRequest(Strict):
    item: Name | None = None
    project: Name | None = None
    change: Change | None = None
    ref: Name | None = None
    pipeline: Name | None = None


class NotifyRequest(Strict):
    project: Name | None = None


def _server(request: Request) -> ServerPort:
    return request.app.state.server


@router.get("/status", summary="The pipelines, their queues and items, and each item's jobs")
async def status(request: Request) -> Any:
    # async on purpose: the server's sync methods read scheduler state owned by the event loop,
    # so they are called from the loop, never from FastAPI's worker threads.
    return jsonable_encoder(_server(request).status())


@router.get(
    "/status/stream",
    summary="Server-sent events: the status document now and whenever it changes",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def status_stream(request: Request) -> StreamingResponse:
    state = request.app.state
    return StreamingResponse(
        follow_status(_server(request).status, state.poll, state.closing, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/config/errors", summary="Errors of the last configuration load (file, line, column, message)")
async def config_errors(request: Request) -> Any:
    return jsonable_encoder(_server(request).config_errors())


@router.post("/enqueue", summary="Enqueue a change or ref into a pipeline (admin token)")
async def enqueue(
    request: Request, body: EnqueueRequest, token: Annotated[Token, Depends(require_admin)]
) -> Any:
    try:
        outcome = await _server(request).enqueue(
            body.project, body.pipeline, body.branch, body.ref, body.change
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("token %s enqueued %s in %s", token.name, body.project or f"change {body.change}", body.pipeline)
    return jsonable_encoder(outcome)


@router.post(
    "/dequeue",
    summary="Dequeue live items by id, or by project and change or ref (admin token)",
    response_model=Dequeued,
)
async def dequeue(
    request: Request, body: DequeueRequest, token: Annotated[Token, Depends(require_admin)]
) -> Any:
    if not (body.item or body.project or body.change or body.ref):
        raise ApiError(400, "say which item to dequeue: item, or project with change or ref")
    try:
        items = await _server(request).dequeue(body.item, body.project, body.change, body.ref, body.pipeline)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("token %s dequeued %s", token.name, ", ".join(items))
    return {"dequeued": jsonable_encoder(items)}


@router.post("/reload", summary="Reload the configuration (admin token)")
async def reload(request: Request, token: Annotated[Token, Depends(require_admin)]) -> Any:
    log.info("token %s asked for a configuration reload", token.name)
    return jsonable_encoder(await _server(request).reload())


@router.post(
    "/connection/{name}/notify",
    summary="A post-receive hook: poll this connection now",
    status_code=202,
    response_model=Accepted,
)
async def notify(request: Request, name: str, body: NotifyRequest) -> Any:
    try:
        await _server(request).notify(name, body.model_dump(exclude_none=True))
    except KeyError:
        raise ApiError(404, f"no connection named {name[:80]!r}") from None
    return {"accepted": True}


class WebhookAccepted(BaseModel):
    accepted: bool
    detail: str


@router.post(
    "/connection/{name}/payload",
    summary="A webhook from GitHub, GitLab or another service, verified by the connection",
    status_code=202,
    response_model=WebhookAccepted,
)
async def payload(request: Request, name: str) -> Any:
    # No token: the connection verifies the delivery itself (HMAC signature or shared token),
    # on the raw body, before anything of it is read.
    body = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        detail = await _server(request).webhook(name, headers, body)
    except KeyError:
        raise ApiError(404, f"no connection named {name[:80]!r}") from None
    except WebhookRejected as exc:
        log.warning("connection %s refused a webhook: %s", name[:80], exc.message)
        raise ApiError(exc.status, exc.message) from None
    return {"accepted": True, "detail": detail}
