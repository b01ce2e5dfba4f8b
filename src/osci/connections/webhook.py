"""The webhook reporter: POSTs each report as signed JSON.

Connection keys: `url`, `secret` (signs the body; never logged), `timeout` (10 s). Reporter
options may override `url`. Headers: `X-Osci-Event` (the slot), `X-Osci-Delivery` (the same on every retry of
one report)
and, with a secret, `X-Osci-Signature-256: sha256=<HMAC-SHA256 of the exact body>`, like
GitHub's; receivers check it with `verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from osci.connections.base import (
    Connection,
    ConnectionConfigError,
    ConnectionContext,
    ReportError,
    check_keys,
)
from osci.model import Report

CONFIG_KEYS = ("url", "secret", "timeout")
OPTION_KEYS = ("url",)
SIGNATURE_HEADER = "X-Osci-Signature-256"


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True if `header` is the signature of exactly `body` with `secret` (constant-time)."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def check_url(url: Any, where: str) -> str:
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).hostname
    ):
        raise ConnectionConfigError(f"{where}: 'url' must be an http(s) URL, got {redact_url(str(url))!r}")
    return url


def redact_url(url: str) -> str:
    """`url` without any user:password part, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class WebhookConnection(Connection):
    driver = "webhook"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        where = f"connection {name} (webhook)"
        check_keys(where, config, CONFIG_KEYS)
        self.url = check_url(config.get("url"), where) if "url" in config else None
        secret = config.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ConnectionConfigError(f"{where}: 'secret' must be a non-empty string")  # never echo it
        self._secret = secret
        timeout = config.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConnectionConfigError(
                f"{where}: 'timeout' must be a positive number of seconds, got {timeout!r}"
            )
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"WebhookConnection({self.name!r}, url={redact_url(self.url or '')!r})"

    def check_options(self, options: dict[str, Any]) -> str:
        """The URL to post to, from the pipeline's reporter options and the connection."""
        where = f"webhook reporter {self.name}"
        if not isinstance(options, dict):
            raise ConnectionConfigError(f"{where}: options must be a mapping")
        for key in options:
            if key not in OPTION_KEYS:
                raise ConnectionConfigError(
                    f"{where}: unknown option '{key}'; expected one of {', '.join(OPTION_KEYS)}"
                )
        if "url" in options:
            return check_url(options["url"], where)
        if self.url is None:
            raise ConnectionConfigError(f"{where}: no 'url' in the reporter options or the connection")
        return self.url

    def body(self, report: Report) -> bytes:
        return json.dumps({**report.to_dict(), "event": "osci.report"}, sort_keys=True).encode()

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        url = self.check_options(options)
        body = self.body(report)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "osci-webhook",
            "X-Osci-Event": report.slot,
            "X-Osci-Delivery": report.delivery or str(uuid.uuid4()),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        shown = redact_url(url)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ReportError(
                f"webhook {shown}: {type(exc).__name__}: {str(exc).replace(url, shown)}"
            ) from None
        if not 200 <= response.status_code < 300:
            raise ReportError(f"webhook {shown}: HTTP {response.status_code} {response.reason_phrase}")


CONNECTION = WebhookConnection
