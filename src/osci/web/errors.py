"""Every error the API returns is JSON ``{"error": "...", ...}``; clients never see a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from osci.store import NotFound, StoreError

log = logging.getLogger("osci.web")


class ApiError(StarletteHTTPException):
    """An error with a status and a message meant for the client."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(status, message, headers)
        self.extra = extra


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    extra = getattr(exc, "extra", {})
    return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None), **extra)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only where and what: echoing the input back could repeat something hostile or huge.
    details = [{"field": _location(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(422, f"invalid request: {summary}", details=details)


async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
    if isinstance(exc, NotFound):
        return error_response(404, str(exc))
    if isinstance(exc.__cause__, SQLAlchemyError):
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "the database is not available")
    return error_response(400, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(Exception, _unexpected)
