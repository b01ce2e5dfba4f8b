"""How a file from a build's folder is served. Logs and artifacts are hostile: nothing in them is
ever served as something a browser would run (HTML, SVG, JavaScript). Only the build's own
top-level index.html is HTML: the executor writes it and escapes everything it shows."""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import StreamingResponse

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
# Types a browser shows without running anything; every other binary type is a download.
SAFE_BINARY = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/gzip",
    "application/x-tar",
    "application/zip",
}
NO_SCRIPT = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
INDEX = "index.html"
SNIFF_BYTES = 8192


def looks_like_text(path: Path) -> bool:
    """No NUL byte in the first few KiB: good enough to show as text."""
    try:
        with path.open("rb") as handle:
            return b"\x00" not in handle.read(SNIFF_BYTES)
    except OSError:
        return False


def serving(path: Path, build_dir: Path) -> tuple[str, dict[str, str]]:
    """The media type and extra headers to serve `path` (a file inside `build_dir`) with."""
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": NO_SCRIPT}
    if path == build_dir / INDEX:
        return "text/html; charset=utf-8", headers
    guessed, encoding = mimetypes.guess_type(path.name)
    if encoding is None and guessed in SAFE_BINARY:
        return guessed, headers
    if looks_like_text(path):
        return TEXT, headers  # .html, .svg, .js included: shown as source, never run
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(path.name, safe='')}"
    return BINARY, headers


def listing(folder: Path, relative: str) -> str:
    """A folder's entries as a small HTML page written here, every name escaped."""
    title = html.escape(f"/{relative}")
    rows = ['<li><a href="../">../</a></li>']
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        name = entry.name + ("/" if entry.is_dir() else "")
        rows.append(f'<li><a href="{html.escape(quote(name))}">{html.escape(name)}</a></li>')
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><ul>{''.join(rows)}</ul></body></html>"
    )


def _chunks(path: Path, size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        left = size
        while left > 0:
            data = handle.read(min(chunk, left))
            if not data:
                return
            left -= len(data)
            yield data


def snapshot(path: Path, media_type: str, headers: dict[str, str]) -> StreamingResponse:
    """The file as it is now. A running build's log grows while it is sent, and a response longer
    than the Content-Length it declared breaks the connection: so exactly the bytes there at the
    start are sent (a file that shrinks meanwhile ends the body early)."""
    size = path.stat().st_size
    return StreamingResponse(
        _chunks(path, size), media_type=media_type, headers={**headers, "Content-Length": str(size)}
    )
