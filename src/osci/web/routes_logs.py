"""A build's console log (whole, or followed live) and the files of its build folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from osci.store import BlobStore, Store, StoreError
from osci.web.errors import ApiError
from osci.web.follow import follow_log
from osci.web.logfiles import INDEX, NO_SCRIPT, TEXT, listing, serving, snapshot
from osci.web.params import ident
from osci.web.ports import ServerPort

router = APIRouter(tags=["logs"])
CONSOLE = "job-output.txt"
WAITING_RECHECK = 2.0  # seconds between store reads while a followed build has not started


def _build_dir(blobs: BlobStore, uuid: str) -> Path:
    try:
        return blobs.build_dir(uuid)
    except StoreError:
        raise ApiError(404, f"no logs for build {uuid[:80]!r}") from None


@router.get(
    "/api/build/{uuid}/log",
    tags=["builds"],
    summary="The console log as text; with follow=1, server-sent events until the build ends",
    responses={200: {"content": {"text/plain": {}, "text/event-stream": {}}}},
)
def build_log(request: Request, uuid: str, follow: bool = Query(False)) -> object:
    state = request.app.state
    store: Store = state.store
    build = store.get_build(ident("build", uuid))
    if build is None:
        raise ApiError(404, f"no build {uuid!r}")
    path = _build_dir(state.blobs, build.uuid) / CONSOLE
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if not follow:
        if not path.is_file():
            raise ApiError(404, f"build {uuid} has no console log yet")
        return snapshot(path, TEXT, headers)
    server: ServerPort = state.server
    return StreamingResponse(
        follow_log(
            path,
            _still_going(store, server, build.uuid),
            _finished(store, build.uuid),
            state.poll,
            state.closing,
        ),
        media_type="text/event-stream",
        headers={**headers, "X-Accel-Buffering": "no"},
    )


def _still_going(store: Store, server: ServerPort, uuid: str) -> Callable[[], Awaitable[bool]]:
    """Running now (asked in the event loop, which owns the scheduler's state), or waiting to
    start (read from the store in a worker thread, every few seconds)."""
    checked: dict[str, Any] = {"at": None, "waiting": False}

    async def going() -> bool:
        if server.is_running(uuid):
            return True
        now = time.monotonic()
        if checked["at"] is None or now - checked["at"] >= WAITING_RECHECK:
            build = await asyncio.to_thread(store.get_build, uuid)
            checked.update(at=now, waiting=build is not None and build.state == "waiting")
        return checked["waiting"]

    return going


def _finished(store: Store, uuid: str) -> Callable[[], Awaitable[dict]]:
    async def finished() -> dict:
        build = await asyncio.to_thread(store.get_build, uuid)
        if build is None:
            return {"uuid": uuid, "state": None, "result": None}
        return {"uuid": uuid, "state": build.state, "result": build.result}

    return finished


@router.get("/logs/{uuid}", include_in_schema=False)
def build_folder_redirect(uuid: str) -> RedirectResponse:
    return RedirectResponse(f"/logs/{ident('build', uuid)}/", status_code=307)


@router.get("/logs/{uuid}/{path:path}", summary="A file of a build's folder (logs, artifacts, index.html)")
def build_file(request: Request, uuid: str, path: str) -> object:
    blobs: BlobStore = request.app.state.blobs
    base = _build_dir(blobs, uuid)
    try:
        return _serve(blobs, base, uuid, path)
    except OSError:  # a name too long, a file gone meanwhile, a folder we may not read
        raise ApiError(404, "no such file") from None


def _serve(blobs: BlobStore, base: Path, uuid: str, path: str) -> object:
    if not base.is_dir():
        raise ApiError(404, f"no logs for build {uuid[:80]!r}")
    base = base.resolve()
    relative = path.strip("/")
    try:
        target = blobs.file(uuid, relative) if relative else base
        if target == base and (base / INDEX).is_file():
            target = blobs.file(uuid, INDEX)  # resolved: a symlink leading out is refused like any path
    except StoreError:
        raise ApiError(404, "no such file") from None
    if target.is_dir():
        if relative and not path.endswith("/"):  # so that relative links in the listing work
            return RedirectResponse(f"/logs/{uuid}/{quote(relative)}/", status_code=307)
        body = listing(target, f"{uuid}/{relative}")
        return HTMLResponse(
            body, headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": NO_SCRIPT}
        )
    if not target.is_file():
        raise ApiError(404, "no such file")
    media_type, headers = serving(target, base)
    return snapshot(target, media_type, headers)
