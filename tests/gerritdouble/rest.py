"""The double's REST API on a real HTTP server (127.0.0.1): the endpoints osci uses, each JSON
body behind Gerrit's `)]}'` line, HTTP basic auth under `/a/`, and a switch to answer 500."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

FILES = re.compile(r"^/a/changes/(?P<id>[^/]+)/revisions/(?P<rev>[^/]+)/files/?$")
REVIEW = re.compile(r"^/a/changes/(?P<id>[^/]+)/revisions/(?P<rev>[^/]+)/review$")
MESSAGES = re.compile(r"^/a/changes/(?P<id>[^/]+)/messages$")
SUBMIT = re.compile(r"^/a/changes/(?P<id>[^/]+)/revisions/(?P<rev>[^/]+)/submit$")
CHANGE = re.compile(r"^/a/changes/(?P<id>[^/]+)/?$")


class Refused(Exception):
    """Gerrit refuses the request (409 Conflict), with its message."""


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body: bytes


class GerritREST:
    """`files(id, rev)`, `messages(id)` and `review(id, rev, body)` answer; a ValueError is a 404."""

    def __init__(
        self,
        user: str,
        password: str,
        files: Callable[[str, str], dict[str, Any]],
        messages: Callable[[str], list[dict[str, Any]]],
        review: Callable[[str, str, dict[str, Any]], dict[str, Any]],
        submit: Callable[[str, str], dict[str, Any]] | None = None,
        change: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.credentials = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[Request] = []
        self.fail_reviews = 0  # answer this many review posts with 500 (not applied)
        self.fail_after_applying = 0  # apply this many, then answer 500 anyway
        handlers = {
            "files": files,
            "messages": messages,
            "review": review,
            "submit": submit,
            "change": change,
        }
        self.fail_submits = 0  # answer this many submits with 503 (not applied)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else (")]}'\n" + json.dumps(body, indent=2)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path = urlsplit(self.path).path
                request = Request(method, path, self.headers.get("Authorization"), self.rfile.read(length))
                outer.requests.append(request)
                if request.authorization != outer.credentials:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    if method == "GET" and (m := FILES.match(path)):
                        return self._answer(200, handlers["files"](unquote(m["id"]), m["rev"]))
                    if method == "GET" and (m := MESSAGES.match(path)):
                        return self._answer(200, handlers["messages"](unquote(m["id"])))
                    if method == "POST" and (m := SUBMIT.match(path)) and handlers["submit"]:
                        if outer.fail_submits > 0:
                            outer.fail_submits -= 1
                            return self._answer(503)
                        return self._answer(200, handlers["submit"](unquote(m["id"]), m["rev"]))
                    if method == "GET" and (m := CHANGE.match(path)) and handlers["change"]:
                        return self._answer(200, handlers["change"](unquote(m["id"])))
                    if method == "POST" and (m := REVIEW.match(path)):
                        body = json.loads(request.body)
                        if outer.fail_reviews > 0:
                            outer.fail_reviews -= 1
                            return self._answer(500)
                        result = handlers["review"](unquote(m["id"]), m["rev"], body)
                        if outer.fail_after_applying > 0:
                            outer.fail_after_applying -= 1
                            return self._answer(500)
                        return self._answer(200, result)
                except Refused as exc:
                    data = f"{exc}\n".encode()
                    self.send_response(409)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                except (ValueError, KeyError) as exc:
                    data = f"Not found: {exc}\n".encode()
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._answer(404)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="gerrit-double-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
