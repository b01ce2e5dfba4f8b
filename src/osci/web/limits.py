"""Refuse request bodies over a size limit before anything reads them into memory."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024  # 1 MiB: the API's bodies are a few short fields


class BodyLimit:
    """Pure ASGI middleware: a declared Content-Length over the limit gets 413 at once; a chunked
    body is counted as it arrives and cut off with 413 when it passes the limit."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _own_limit(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _refuse(send, 400, "invalid Content-Length header")
                return
            if size > self.limit:
                await _refuse(send, 413, f"request body too large: the limit is {self.limit} bytes")
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises HTTPException from body reading, so this becomes a JSON 413.
                    raise HTTPException(413, f"request body too large: the limit is {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def _own_limit(path: str) -> bool:
    """Uploads with their own, larger limit: an agent's results (the provider's `max-upload`)."""
    return path.startswith("/api/agent/work/") and path.endswith("/results")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
