"""The client verbs in-process (click's runner) against a live server: messages and exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from osci.cli.client import client_group

from .apikit import LiveServer
from .builders import finished_build


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(
        client_group, list(args), env={"OSCI_TOKEN": "", "HOME": "/nonexistent", **(env or {})}
    )


def test_bad_server_urls_are_one_line() -> None:
    result = run("status", "--server", "localhost:8411")
    assert result.exit_code == 1 and "invalid server URL" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_json_output_is_the_servers_json(live: LiveServer) -> None:
    build = finished_build(live.api.store, live.api.blobs)
    listed = run("builds", "--server", live.url, "--json", "--limit", "5")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["uuid"] == build.uuid
    shown = run("build", build.uuid, "--server", live.url, "--json")
    assert json.loads(shown.stdout)["attempts"][0]["result"] == "SUCCESS"
    enqueued = run(
        "enqueue", "--project", "p", "--pipeline", "gate", "--server", live.url, "--json",
        env={"OSCI_SERVER": live.url, "OSCI_TOKEN": live.api.token},
    )  # fmt: skip
    assert enqueued.exit_code == 0 and json.loads(enqueued.stdout)["event"] == "event-1"
    assert run("status", env={"OSCI_SERVER": live.url}).stdout.startswith("check (independent): 0 item(s)")


def test_logs_of_a_build_without_a_log(live: LiveServer) -> None:
    waiting = live.api.store.create_build("unit", project="org/app")
    result = run("logs", waiting.uuid, "--server", live.url)
    assert result.exit_code == 1 and "no console log yet (HTTP 404)" in result.stderr
    limit = run("builds", "--limit", "0", "--server", live.url)
    assert limit.exit_code == 2  # refused by the command line before asking the server
