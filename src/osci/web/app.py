"""The HTTP API of ``osci server``: ``create_app(store, blobs, server)``.

Routes live in one module per concern (builds, logs, control); this module wires them with the
error handlers, the body size limit and /metrics. OpenAPI is at /api/openapi.json."""

from __future__ import annotations

import threading

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from osci import __version__
from osci.store import BlobStore, Store
from osci.web import (
    metrics,
    routes_agents,
    routes_builds,
    routes_control,
    routes_culprits,
    routes_dashboard,
    routes_logs,
    routes_nodes,
    routes_stats,
)
from osci.web.errors import install_error_handlers
from osci.web.limits import MAX_BODY, BodyLimit
from osci.web.ports import ServerPort

__all__ = ["ServerPort", "create_app", "stop_streams"]


def create_app(
    store: Store,
    blobs: BlobStore,
    server: ServerPort,
    *,
    log_poll_interval: float = 0.5,
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The API over `store` and `blobs`, calling `server` for anything live."""
    app = FastAPI(
        title="osci",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.blobs = blobs
    app.state.server = server
    app.state.poll = log_poll_interval
    app.state.closing = threading.Event()
    registry = metrics.registry_for(server)

    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max_body)
    app.include_router(routes_agents.router)  # first: routes are matched in order, and agents call most
    app.include_router(routes_control.router)
    app.include_router(routes_builds.router)
    app.include_router(routes_logs.router)
    app.include_router(routes_stats.router)
    app.include_router(routes_nodes.router)
    app.include_router(routes_dashboard.router)
    app.include_router(routes_culprits.router)
    app.mount("/static", routes_dashboard.static_files(), name="static")

    @app.get("/metrics", tags=["metrics"], summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:  # async: server.metrics() runs in the event loop
        return Response(metrics.render(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def stop_streams(app: FastAPI) -> None:
    """End every open log stream (``event: closing``): call before stopping uvicorn, which
    otherwise waits for streams that follow a build still waiting to run."""
    app.state.closing.set()
