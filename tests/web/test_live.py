"""A real uvicorn server on 127.0.0.1, driven by the client verbs as subprocesses and by raw sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from osci.cli.main import VERBS
from osci.model import Attempt, BuildRecord, Result
from osci.web.app import stop_streams

from .apikit import LiveServer
from .builders import E0, finished_build

# `python -m osci VERB` once osci's verb table has the client verbs; the client group until then.
CLIENT = [sys.executable, "-m", "osci" if "status" in VERBS else "osci.cli.client"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no token from the developer's own home or shell."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OSCI_")}
    return {**clean, "HOME": str(home), "NO_COLOR": "1"}


def osci(live: LiveServer, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLIENT, *args[:1], "--server", live.url, *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_client_verbs_against_a_real_server(live: LiveServer, env: dict[str, str]) -> None:
    api = live.api
    build = finished_build(
        api.store, api.blobs, "unit <b>x</b>", Result.FAILURE, console="one\n\x1b]0;evil\x07two\n"
    )

    no_token = osci(live, env, "enqueue", "--project", "org/app", "--pipeline", "check")
    assert no_token.returncode == 1 and "authentication required" in no_token.stderr
    assert "Traceback" not in no_token.stderr

    env_token = {**env, "OSCI_TOKEN": api.token}
    done = osci(live, env_token, "enqueue", "--project", "org/app", "--pipeline", "check", "--change", "42")
    assert done.returncode == 0, done.stderr
    assert "enqueued (event event-1): enqueued into check" in done.stdout
    assert api.token not in done.stdout + done.stderr

    status = osci(live, env, "status")
    assert status.returncode == 0
    assert "check (independent): 1 item(s)" in status.stdout and "item-1  org/app change 42" in status.stdout
    assert json.loads(osci(live, env, "status", "--json").stdout)["zone"] == "lab"

    builds = osci(live, env, "builds", "--result", "FAILURE")
    assert builds.returncode == 0 and build.uuid in builds.stdout and "unit <b>x</b>" in builds.stdout
    assert osci(live, env, "builds", "--project", "nobody").stdout.strip() == "no builds"
    bad = osci(live, env, "builds", "--result", "GREEN")
    assert bad.returncode == 1 and "invalid result" in bad.stderr

    shown = osci(live, env, "build", build.uuid)
    assert shown.returncode == 0 and "result: FAILURE" in shown.stdout
    assert f"{live.url}/logs/{build.uuid}/" in shown.stdout
    missing = osci(live, env, "build", "0" * 32)
    assert missing.returncode == 1 and "no build" in missing.stderr

    logs = osci(live, env, "logs", build.uuid)
    assert logs.returncode == 0 and logs.stdout == "one\ntwo\n"  # the terminal escape is removed

    (Path(env["HOME"]) / ".config" / "osci").mkdir(parents=True)
    (Path(env["HOME"]) / ".config" / "osci" / "token").write_text(api.token + "\n")
    gone = osci(live, env, "dequeue", "--item", "item-1")
    assert gone.returncode == 0 and gone.stdout.strip() == "dequeued item-1"
    again = osci(live, env, "dequeue", "--item", "item-1")
    assert again.returncode == 1 and "no live item matches" in again.stderr
    usage = osci(live, env, "dequeue", "--pipeline", "check")
    assert usage.returncode == 2 and "say what to dequeue" in usage.stderr


def test_a_server_that_is_down_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    result = subprocess.run(
        [*CLIENT, "builds", "--server", f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot reach the osci server" in result.stderr


def _running_build(live: LiveServer, console: str):
    api = live.api
    build = api.store.create_build("unit", project="org/app", pipeline="check")
    api.store.start_build(build.uuid, "local-1")
    folder = api.blobs.build_dir(build.uuid, create=True)
    (folder / "job-output.txt").write_text(console)
    api.server.running.add(build.uuid)
    return build, folder / "job-output.txt"


def _finish(live: LiveServer, uuid: str) -> None:
    record = BuildRecord(uuid=uuid, job="unit", result=Result.SUCCESS, start_time=E0, end_time=E0 + 5,
                         attempts=[Attempt(1, Result.SUCCESS, E0, E0 + 5)])  # fmt: skip
    live.api.store.finish_build(uuid, record)
    live.api.server.running.discard(uuid)


def test_follow_streams_lines_then_ends(live: LiveServer) -> None:
    build, log = _running_build(live, "first\n")
    url = f"{live.url}/api/build/{build.uuid}/log"
    with httpx.stream("GET", url, params={"follow": 1}, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "data: first"
        assert next(lines) == ""
        with log.open("a") as handle:
            handle.write("second\r\nthi")
            handle.flush()
        assert next(lines) == "data: second"
        assert next(lines) == ""
        with log.open("a") as handle:
            handle.write("rd")  # no newline at the end: still sent once the build ends
        _finish(live, build.uuid)
        rest = list(lines)
    assert rest[:2] == ["data: third", ""]
    assert rest[2] == "event: end"
    assert json.loads(rest[3].removeprefix("data: ")) == {
        "uuid": build.uuid,
        "state": "completed",
        "result": "SUCCESS",
    }


def test_osci_logs_follow_as_a_subprocess(live: LiveServer, env: dict[str, str]) -> None:
    build, log = _running_build(live, "alpha\n")
    process = subprocess.Popen(
        [*CLIENT, "logs", "-f", build.uuid, "--server", live.url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "alpha\n"
        with log.open("a") as handle:
            handle.write("beta\n")
        assert process.stdout.readline() == "beta\n"
        _finish(live, build.uuid)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out == "" and "-- build SUCCESS" in err


def test_raw_traversal_paths_never_leave_the_build_folder(live: LiveServer, tmp_path: Path) -> None:
    api = live.api
    build = finished_build(api.store, api.blobs)
    (tmp_path / "secret.txt").write_text("top secret")
    folder = api.blobs.build_dir(build.uuid)
    up = "/".join([".."] * len(folder.relative_to(tmp_path).parts))
    host, port = live.url.removeprefix("http://").split(":")
    for path in (
        f"/logs/{build.uuid}/{up}/secret.txt",
        f"/logs/{build.uuid}/artifacts/../{up}/secret.txt",
        f"/logs/{build.uuid}/./../{up}/secret.txt",
        f"/logs/../../{up}/secret.txt",
        f"/logs/{build.uuid}/{tmp_path}/secret.txt",
    ):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        assert status in (400, 404), (path, answer[:200])
        assert b"top secret" not in answer


def test_a_waiting_build_is_followed_until_the_server_stops_streams(live: LiveServer) -> None:
    api = live.api
    build = api.store.create_build("unit", project="org/app", pipeline="check")  # waiting, not running
    url = f"{live.url}/api/build/{build.uuid}/log"
    with httpx.stream("GET", url, params={"follow": 1}, timeout=30) as response:
        lines = response.iter_lines()
        folder = api.blobs.build_dir(build.uuid, create=True)
        (folder / "job-output.txt").write_text("started at last\n")
        assert next(lines) == "data: started at last"  # still open: the build had not started yet
        assert next(lines) == ""
        stop_streams(api.app)
        rest = list(lines)
    assert rest[0] == "event: closing" and "shutting down" in rest[1]
