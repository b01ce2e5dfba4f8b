"""What `osci agent` asks of the server: register, poll (the heartbeat), download a workspace,
stream the console, upload results, finish an attempt, stop. Every call needs an agent token
(`osci token create NAME --kind agent`); the token's name is the agent's node name."""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from osci.nodes.providers.agent import AgentError, AgentProvider
from osci.store.models import Token
from osci.web.auth import CHALLENGE, bearer_secret
from osci.web.errors import ApiError
from osci.web.schemas import ErrorOut

log = logging.getLogger("osci.web")
router = APIRouter(
    prefix="/api/agent",
    tags=["agents"],
    responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422)},
)

Text = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
Line = Annotated[str, StringConstraints(max_length=20000)]
TOKEN_CACHE_SECONDS = 2.0  # a revoked token stops working within this


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterRequest(Strict):
    label: Text
    provides: list[Text] = Field(default_factory=list, max_length=100)
    slots: int = Field(default=1, ge=1, le=256)
    version: Annotated[str, StringConstraints(max_length=100)] = ""
    hostname: Annotated[str, StringConstraints(max_length=255)] = ""


class PollRequest(Strict):
    session: Id
    running: list[Id] = Field(default_factory=list, max_length=1024)
    stopping: bool = False
    wait: float = Field(default=10.0, ge=0, le=60)


class ConsoleBatch(Strict):
    """Numbered console lines (a batch resent after a network error has the same number)."""

    seq: int = Field(ge=1)
    lines: list[Line] = Field(max_length=10000)


class ConsoleRequest(ConsoleBatch):
    session: Id


class AttemptReport(Strict):
    result: Text
    reason: Annotated[str, StringConstraints(max_length=10000)] = ""
    phases: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class FinishRequest(Strict):
    session: Id
    attempt: AttemptReport
    console: ConsoleBatch | None = None  # the console's last lines, with the report


class SessionRequest(Strict):
    session: Id


async def require_agent(request: Request) -> Token:
    """An active agent token, else 401 (missing, invalid, revoked) or 403 (another kind).

    A coroutine, so the agents' many calls are answered on the loop; a plain function would
    cost each a trip through the thread pool. The store is asked in a thread on a cache miss."""
    secret = bearer_secret(request)
    if secret is None:
        raise ApiError(401, "authentication required: send 'Authorization: Bearer <agent token>'", CHALLENGE)
    cache: dict[str, tuple[float, Token | None]] | None = getattr(request.app.state, "agent_tokens", None)
    if cache is None:
        cache = request.app.state.agent_tokens = {}
    now = time.monotonic()
    cached = cache.get(secret)
    if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
        token = cached[1]
    else:
        token = await run_in_threadpool(request.app.state.store.check_token, secret)
        if len(cache) > 10000:
            cache.clear()
        cache[secret] = (now, token)
    if token is None:
        raise ApiError(401, "invalid or revoked token", CHALLENGE)
    if token.kind != "agent":
        raise ApiError(403, f"token {token.name!r} is a {token.kind} token: agents need an agent token")
    return token


AgentToken = Annotated[Token, Depends(require_agent)]


def _provider(request: Request, name: str | None = None, label: str | None = None) -> AgentProvider:
    """The agent provider an agent belongs to: the one it registered with, else the first whose
    labels take its label."""
    providers: list[AgentProvider] = getattr(request.app.state, "agent_providers", None) or []
    if not providers:
        raise ApiError(404, "this server has no agent provider (add a `- provider: {driver: agent}`)")
    if name is not None:
        for provider in providers:
            if name in provider.agents:
                return provider
    if label is not None:
        for provider in providers:
            if not provider.allowed or label in provider.allowed:
                return provider
    return providers[0]


def _answer(exc: AgentError) -> ApiError:
    return ApiError(exc.status, str(exc))


@router.post("/register", summary="An agent joins the grid: its node, label, capabilities, slots")
async def register(request: Request, body: RegisterRequest, token: AgentToken) -> Any:
    provider = _provider(request, label=body.label)
    address = request.client.host if request.client else "?"
    where = f"{body.hostname} ({address})" if body.hostname else address
    try:
        return provider.register(token.name, body.label, body.provides, body.slots, where, body.version)
    except AgentError as exc:
        raise _answer(exc) from None


@router.post("/poll", summary="The agent's heartbeat and long poll: work to run, cancels, attempts to abandon")
async def poll(request: Request, body: PollRequest, token: AgentToken) -> Any:
    try:
        reply = await _provider(request, token.name).poll(
            token.name, body.session, body.running, body.stopping, body.wait
        )
    except AgentError as exc:
        raise _answer(exc) from None
    # Serialised here: FastAPI would walk every key of the assignments (jobs, variables, an
    # inline workspace) through jsonable_encoder first. default=str as it would for dates.
    return Response(json.dumps(reply, default=str), media_type="application/json")


@router.get("/work/{assignment}/workspace", summary="The workspace of an attempt, as a tar")
async def workspace(request: Request, assignment: Id, token: AgentToken, x_osci_session: Annotated[Id, Header()]) -> Any:
    try:
        path = _provider(request, token.name).workspace(token.name, x_osci_session, assignment)
    except AgentError as exc:
        raise _answer(exc) from None
    if not path.exists():
        raise ApiError(409, f"the workspace of {assignment} is gone")
    return FileResponse(path, media_type="application/gzip")  # a gzip-compressed tar


@router.post("/work/{assignment}/console", summary="Console lines of a running attempt (resent batches are ignored)")
async def console(request: Request, assignment: Id, body: ConsoleRequest, token: AgentToken) -> Any:
    try:
        return _provider(request, token.name).console(token.name, body.session, assignment, body.seq, body.lines)
    except AgentError as exc:
        raise _answer(exc) from None


@router.put("/work/{assignment}/results", summary="Logs, artifacts and result files of an attempt, as a tar")
async def results(request: Request, assignment: Id, token: AgentToken, x_osci_session: Annotated[Id, Header()]) -> Any:
    try:
        size = await _provider(request, token.name).results(
            token.name, x_osci_session, assignment, request.stream()
        )
    except AgentError as exc:
        raise _answer(exc) from None
    return {"received": size}


@router.post("/work/{assignment}/finish", summary="The attempt's result; refused (409) once the server gave it up")
async def finish(request: Request, assignment: Id, body: FinishRequest, token: AgentToken) -> Any:
    try:
        provider = _provider(request, token.name)
        if body.console is not None:
            provider.console(token.name, body.session, assignment, body.console.seq, body.console.lines)
        provider.finish(token.name, body.session, assignment, body.attempt.model_dump())
    except AgentError as exc:
        raise _answer(exc) from None
    return {"finished": assignment}


@router.post("/deregister", summary="The agent stops (after finishing its attempts)")
async def deregister(request: Request, body: SessionRequest, token: AgentToken) -> Any:
    try:
        _provider(request, token.name).deregister(token.name, body.session)
    except AgentError as exc:
        raise _answer(exc) from None
    return {"stopped": token.name}
