"""Server-sent events of the scheduler's status: the whole document whenever it changes.

The status is small enough (hundreds of items) that sending it whole beats keeping diffs in
step with the page; the page redraws only the items whose JSON changed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from osci.web.follow import KEEPALIVE, sse_data

TICK = 1.0  # the elapsed times move every second, so a running build's status changes that often


def status_json(status: dict[str, Any]) -> str:
    return json.dumps(status, default=str, separators=(",", ":"))


async def follow_status(
    status: Callable[[], dict[str, Any]],
    poll: float = 0.5,
    closing: threading.Event | None = None,
    disconnected: Callable[[], Any] | None = None,
) -> AsyncIterator[str]:
    """Yield ``event: status`` with the status document now, then whenever it changes (checked
    every `poll` seconds, at most one message per second while builds run)."""
    last = ""
    sent_at = 0.0
    while True:
        if closing is not None and closing.is_set():
            yield sse_data(json.dumps({"reason": "the server is shutting down"}), event="closing")
            return
        if disconnected is not None and await disconnected():
            return
        now = time.monotonic()
        if now - sent_at >= TICK or not last:
            document = status_json(_stamped(status()))
            if _without_clock(document) != _without_clock(last):
                last = document
                sent_at = now
                yield sse_data(document, event="status")
            elif now - sent_at > KEEPALIVE:
                sent_at = now
                yield ": keepalive\n\n"
        await asyncio.sleep(poll)


def _stamped(status: dict[str, Any]) -> dict[str, Any]:
    """The document with the server's clock, so the page can count elapsed time between messages."""
    return {**status, "now": time.time()}


def _without_clock(document: str) -> str:
    # Equal documents apart from "now" need no message; "now" is the last key, so cut it off.
    cut = document.rfind(',"now":')
    return document[:cut] if cut >= 0 else document
