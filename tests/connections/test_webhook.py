"""The webhook reporter against a real HTTP server that checks signatures."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from osci.connections.base import ConnectionConfigError, ConnectionContext, ReportError, load_driver
from osci.connections.webhook import WebhookConnection, sign, verify_signature
from osci.model import Report

from .httpserver import RecordingServer, Request
from .reports import sample_report

SECRET = "hook-s3cret"


def receiver(request: Request) -> int:
    if request.path == "/fail":
        return 500
    ok = verify_signature(SECRET, request.body, request.headers.get("x-osci-signature-256"))
    return 204 if ok else 401


def make(tmp_path: Path, **config) -> WebhookConnection:
    context = ConnectionContext(data_dir=tmp_path, base_url="http://127.0.0.1:8080")
    return WebhookConnection("hook", config, context)


def test_posts_signed_report(tmp_path: Path) -> None:
    with RecordingServer(receiver) as server:
        conn = make(tmp_path, url=f"{server.url}/osci", secret=SECRET)
        report = sample_report()
        asyncio.run(conn.report(report, {}))
    [request] = server.requests
    assert request.path == "/osci"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-osci-event"] == "failure"
    assert len(request.headers["x-osci-delivery"]) == 36
    data = json.loads(request.body)
    assert data.pop("event") == "osci.report"
    assert Report.from_dict(data) == report


def test_option_url_overrides_and_errors_are_report_errors(tmp_path: Path) -> None:
    with RecordingServer(receiver) as server:
        conn = make(tmp_path, url=f"{server.url}/osci", secret="not-the-secret")
        with pytest.raises(ReportError, match="HTTP 401"):
            asyncio.run(conn.report(sample_report(), {}))
        with pytest.raises(ReportError, match="HTTP 500") as info:
            asyncio.run(conn.report(sample_report(), {"url": f"{server.url}/fail"}))
    assert "not-the-secret" not in str(info.value)
    assert [r.path for r in server.requests] == ["/osci", "/fail"]


def test_server_down_is_a_report_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = make(tmp_path, url=f"http://user:pw-in-url@127.0.0.1:{port}/x", timeout=5)
    with pytest.raises(ReportError) as info:
        asyncio.run(conn.report(sample_report(), {}))
    assert "ConnectError" in str(info.value)
    assert "pw-in-url" not in str(info.value) and "pw-in-url" not in repr(conn)


def test_verify_signature() -> None:
    body = b'{"a": 1}'
    header = sign("k", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("k", body, header)
    assert not verify_signature("k", body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("k", body, None)
    assert not verify_signature("k", body, "sha256=zz")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "http://127.0.0.1/x", "secrets": "x"}, "unknown key 'secrets'"),
        ({"url": "ftp://127.0.0.1/x"}, "must be an http"),
        ({"url": "http://127.0.0.1/x", "timeout": 0}, "'timeout' must be a positive"),
        ({"url": "http://127.0.0.1/x", "secret": 5}, "'secret' must be a non-empty string"),
    ],
)
def test_config_errors(tmp_path: Path, config: dict, message: str) -> None:
    assert load_driver("webhook") is WebhookConnection
    with pytest.raises(ConnectionConfigError, match=message):
        make(tmp_path, **config)


def test_option_errors(tmp_path: Path) -> None:
    conn = make(tmp_path)
    with pytest.raises(ConnectionConfigError, match="no 'url'"):
        conn.check_options({})
    with pytest.raises(ConnectionConfigError, match="unknown option 'secret'"):
        conn.check_options({"secret": "x"})
