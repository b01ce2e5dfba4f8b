"""The timer connection with seconds-level schedules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from osci.connections.base import ConnectionConfigError, ConnectionContext, load_driver
from osci.connections.timer import TimerConnection

from .conftest import Recorder


def make_context(tmp_path: Path, **extra) -> ConnectionContext:
    return ConnectionContext(
        data_dir=tmp_path,
        base_url="http://127.0.0.1:9",
        projects=lambda: [("acme/widget", "main"), ("acme/gadget", None)],
        extra=extra,
    )


def test_fires_every_second_with_resolved_tips(tmp_path: Path) -> None:
    async def resolve_tip(project: str, branch: str) -> str | None:
        return f"{project}@{branch}" if project == "acme/widget" else None

    async def scenario() -> list:
        timer = TimerConnection("timer", {}, make_context(tmp_path, resolve_tip=resolve_tip))
        timer.set_schedules([("periodic", "* * * * * */1")])
        emit = Recorder()
        await timer.start(emit)
        events = await emit.wait_for(4)  # two fires, two projects each
        await timer.stop()
        return events

    events = asyncio.run(scenario())
    first = events[:2]
    assert [(e.type, e.connection, e.pipeline) for e in first] == [("timer", "timer", "periodic")] * 2
    assert [(e.project, e.branch, e.newrev) for e in first] == [
        ("acme/widget", "main", "acme/widget@main"),
        ("acme/gadget", None, None),
    ]
    assert events[2].received_at > events[0].received_at


def test_without_resolver_newrev_is_none(tmp_path: Path) -> None:
    async def scenario() -> list:
        timer = TimerConnection("nightly", {}, make_context(tmp_path))
        emit = Recorder()
        await timer.start(emit)
        timer.set_schedules([("periodic", "* * * * * *")])  # schedules set after start apply too
        events = await emit.wait_for(1)
        await timer.stop()
        return events

    [event, *_] = asyncio.run(scenario())
    assert (event.connection, event.newrev, event.ref) == ("nightly", None, "refs/heads/main")


def test_failing_resolver_is_logged_not_fatal(tmp_path: Path, caplog) -> None:
    async def resolve_tip(project: str, branch: str) -> str | None:
        raise RuntimeError("merger down")

    async def scenario() -> list:
        timer = TimerConnection("timer", {}, make_context(tmp_path, resolve_tip=resolve_tip))
        timer.set_schedules([("periodic", "* * * * * */1")])
        emit = Recorder()
        await timer.start(emit)
        events = await emit.wait_for(1)
        await timer.stop()
        return events

    assert asyncio.run(scenario())[0].newrev is None
    assert "merger down" in caplog.text


@pytest.mark.parametrize("spec", ["61 * * * *", "every day", "* * *", "", None])
def test_bad_spec(tmp_path: Path, spec) -> None:
    timer = TimerConnection("timer", {}, make_context(tmp_path))
    with pytest.raises(ConnectionConfigError) as info:
        timer.set_schedules([("ok", "0 3 * * *"), ("nightly", spec)])
    assert "pipeline 'nightly'" in str(info.value)
    assert repr(spec) in str(info.value)
    assert timer.schedules == []  # nothing applied


def test_unknown_key_and_driver(tmp_path: Path) -> None:
    assert load_driver("timer") is TimerConnection
    with pytest.raises(ConnectionConfigError, match="unknown key 'interval'"):
        TimerConnection("timer", {"interval": 5}, make_context(tmp_path))
