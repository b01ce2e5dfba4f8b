"""The dashboard: one HTML shell for every page path, and the packaged static assets.

The pages are a small JavaScript application (``static/js``) that reads the JSON API; nothing
from the store is ever put into HTML by the server, so escaping happens in one place (the
browser's text nodes). The Content-Security-Policy forbids inline and foreign scripts, so even a
mistake there could not run injected code."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(str(resources.files("osci.web") / "static"))
SHELL = STATIC / "index.html"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
# Every path the application routes itself; the server answers each with the same shell.
PAGES = (
    "/status",
    "/builds",
    "/buildsets",
    "/buildset/{uuid}",
    "/build/{uuid}",
    "/jobs",
    "/job/{name}",
    "/projects",
    "/project/{name:path}",
    "/tests",
    "/test",
    "/trends",
    "/nodes",
    "/node/{name:path}",
    "/events",
    "/config",
)

router = APIRouter(include_in_schema=False)


def _shell() -> FileResponse:
    return FileResponse(SHELL, media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/status", status_code=307)


for _path in PAGES:
    router.add_api_route(_path, _shell, methods=["GET"], include_in_schema=False)


def static_files() -> StaticFiles:
    """The assets under /static (JavaScript, CSS, the vendored Chart.js)."""
    return StaticFiles(directory=STATIC)
