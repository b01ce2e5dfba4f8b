"""Real receivers for the server's reports: an SMTP server (aiosmtpd) and a webhook endpoint."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from osci.connections.webhook import verify_signature

from .conftest import free_port


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                outer.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class WebhookReceiver:
    """Counts signed deliveries; answers `status` (settable, to simulate an outage)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.deliveries: list[dict[str, Any]] = []
        self.delivery_ids: set[str | None] = set()
        self.rejected = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.status != 200:
                    self.send_response(outer.status)
                elif not verify_signature(outer.secret, body, self.headers.get("X-Osci-Signature-256")):
                    outer.rejected += 1
                    self.send_response(401)
                else:
                    delivery = self.headers.get("X-Osci-Delivery")
                    if delivery not in outer.delivery_ids:  # a retry of one already taken: drop it
                        outer.delivery_ids.add(delivery)
                        outer.deliveries.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def slots(self, item: str | None = None) -> list[str]:
        return [d["slot"] for d in self.deliveries if item is None or d["item_uuid"] == item]
