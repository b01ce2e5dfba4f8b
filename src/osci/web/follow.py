"""Server-sent events of a build's console log: the lines so far, new lines as they are written,
and ``event: end`` once the build is no longer running (or ``event: closing`` when the server
stops first: an open stream must not hold up the server's shutdown)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

CHUNK = 64 * 1024
KEEPALIVE = 15.0  # seconds of silence before a comment line keeps proxies from closing the stream


def sse_data(line: str, event: str | None = None) -> str:
    """One SSE message; a CR would end the data line early, so it is dropped."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {line.replace(chr(13), '')}\n\n"


async def follow_log(
    path: Path,
    still_going: Callable[[], Awaitable[bool]],
    finished: Callable[[], Awaitable[dict]],
    poll: float = 0.5,
    closing: threading.Event | None = None,
) -> AsyncIterator[str]:
    """Yield SSE messages for each line of `path` until `still_going()` is false and all is read.

    `still_going` is awaited before reading, so every line written before the build ended is sent."""
    offset, partial = 0, b""
    quiet_since = time.monotonic()
    while True:
        going = await still_going()
        chunk = await asyncio.to_thread(_read, path, offset)
        if chunk:
            offset += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                yield sse_data(line.decode("utf-8", errors="replace"))
            quiet_since = time.monotonic()
            continue
        if not going:
            if partial:
                yield sse_data(partial.decode("utf-8", errors="replace"))
            yield sse_data(json.dumps(await finished()), event="end")
            return
        if closing is not None and closing.is_set():
            yield sse_data(json.dumps({"reason": "the server is shutting down"}), event="closing")
            return
        if time.monotonic() - quiet_since > KEEPALIVE:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll)


def _read(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(CHUNK)
    except FileNotFoundError:
        return b""
