"""The status stream (server-sent events) against a real uvicorn: the document at once, a new one
when the queues change, nothing while they do not, and `closing` when the server stops."""

from __future__ import annotations

import json
import threading

import httpx

from osci.web.app import stop_streams

from .apikit import LiveServer


def _events(response: httpx.Response):
    """(event, data) pairs from an SSE response, as they arrive."""
    event, data = None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and data:
            yield event, "\n".join(data)
            event, data = None, []


def test_the_stream_sends_the_status_now_and_on_every_change(live: LiveServer) -> None:
    server = live.api.server
    with (
        httpx.Client(base_url=live.url, timeout=20) as client,
        client.stream("GET", "/api/status/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        event, data = next(events)
        first = json.loads(data)
        assert event == "status" and isinstance(first["now"], float)
        assert [p["name"] for p in first["pipelines"]] == ["check", "gate"]
        assert all(not q["items"] for p in first["pipelines"] for q in p["queues"])

        # A change in the queues: the next message carries it.
        server.pipelines["check"].append({"id": "item-9", "project": "org/app", "jobs": []})
        event, data = next(events)
        second = json.loads(data)
        (item,) = second["pipelines"][0]["queues"][0]["items"]
        assert event == "status" and item["id"] == "item-9" and item["project"] == "org/app"

        # Stopping the server ends the stream with `closing` instead of holding the shutdown.
        threading.Timer(0.2, stop_streams, args=(live.api.app,)).start()
        event, data = next(events)
        assert event == "closing" and "shutting down" in json.loads(data)["reason"]


def test_an_unchanged_status_is_not_sent_again(live: LiveServer) -> None:
    """Only `now` differs between two reads of an idle server: no message, only keepalives."""
    from osci.web.status_stream import _without_clock, status_json

    idle = {"pipelines": []}
    assert _without_clock(status_json({**idle, "now": 1.0})) == _without_clock(
        status_json({**idle, "now": 2.0})
    )
    assert _without_clock(status_json({"pipelines": [1], "now": 1.0})) != _without_clock(
        status_json({**idle, "now": 1.0})
    )
