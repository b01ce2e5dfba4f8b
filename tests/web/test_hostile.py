"""Whatever a client sends, the answer is a 4xx JSON error, never a 500 or a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from osci.web.limits import MAX_BODY

from .apikit import Api


def _assert_json_4xx(response, what: object) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json", what
    assert response.json()["error"], what
    assert "Traceback" not in response.text


def test_huge_bodies_are_refused(api: Api) -> None:
    big = b'{"project": "' + b"x" * MAX_BODY + b'", "pipeline": "check"}'
    response = api.client.post(
        "/api/enqueue", content=big, headers={**api.auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    _assert_json_4xx(response, "declared")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"project": "'
        for _ in range(20):
            yield b"x" * (64 * 1024)
        yield b'", "pipeline": "check"}'

    response = api.client.post(
        "/api/connection/git/notify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    _assert_json_4xx(response, "chunked")
    assert api.server.notified == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        b'{"project": "a", "pipeline": "check", "project": {"nested": [1, 2]}}',
        b'{"project": 1e999, "pipeline": "check"}',
        b'{"project": "a\\u0000b", "pipeline": "check"}',
        b'{"project": true, "pipeline": false}',
        b'{"project": "a", "pipeline": "check", "change": true}',
        b'{"project": "a", "pipeline": "check", "change": 4.2}',
        b"[" * 10000 + b"]" * 10000,
    ],
)
def test_malformed_enqueue_bodies(api: Api, content: bytes) -> None:
    response = api.client.post(
        "/api/enqueue", content=content, headers={**api.auth(), "Content-Type": "application/json"}
    )
    _assert_json_4xx(response, content[:40])
    assert api.server.pipelines["check"] == []


def test_odd_requests(api: Api) -> None:
    uuid = "a" * 32
    for method, path, kwargs in (
        ("GET", "/api/enqueue", {}),
        ("DELETE", "/api/builds", {}),
        ("PUT", "/api/status", {}),
        ("GET", "/api/builds?limit=1e9", {}),
        ("GET", "/api/builds?limit=99999999999999999999999", {}),
        ("GET", "/api/builds?skip=-0.5", {}),
        ("GET", "/api/build/" + "%ff" * 40, {}),
        ("GET", f"/api/build/{uuid}/tests?status=%00", {}),
        ("GET", f"/api/build/{uuid}/log?follow=%00", {}),
        ("GET", "/api/events?limit=", {}),
        ("GET", "/logs/" + "x" * 5000 + "/a", {}),
        ("GET", f"/logs/{uuid}/" + "a/" * 2000, {}),
        ("POST", "/api/reload", {"headers": {"Authorization": "Bearer " + "x" * 10000}}),
        (
            "POST",
            "/api/reload",
            {"headers": {"Authorization": "Bearer \u00e9t\u00e9".encode()}},
        ),
        ("POST", "/api/connection/" + "%00" * 10 + "/notify", {"json": {}}),
        ("POST", "/api/connection/git/notify", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/api/dequeue", {"content": b'{"item": 5}', "headers": {"Content-Length": "abc"}}),
    ):
        response = api.client.request(method, path, **kwargs)
        _assert_json_4xx(response, (method, path[:60]))


def test_the_token_never_shows_in_answers(api: Api) -> None:
    response = api.client.post("/api/enqueue", json={"project": api.token}, headers=api.auth())
    assert response.status_code == 422 and api.token not in response.text
