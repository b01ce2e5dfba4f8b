"""Timeouts, cancellation and daemons: nothing a step started survives its build."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

from exec_helpers import console_text, script

from osci.executor.proctree import survivors
from osci.model import FrozenJob, Result

# setsid + double fork: the grandchild leaves the step's session and process group.
DAEMONIZE = """
python3 - <<'PY'
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        pid = os.getpid()
        open(os.environ["PIDFILE"], "w").write(str(pid))
        os.execvp("sleep", ["sleep", "300"])
    os._exit(0)
os.wait()
PY
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_timeout_kills_the_tree_and_runs_post_run(build, project, tmp_path):
    post = tmp_path / "post-ran"
    job = FrozenJob(
        name="slow",
        run=[script("echo started; sleep 60 & sleep 60; echo never")],
        post_run=[script(f"touch {post}")],
        timeout=1,
    )
    record = build(job, project)
    assert record.result is Result.TIMED_OUT
    assert post.exists()
    assert "hit the job timeout" in record.reason
    run = record.attempts[0].phases[0]
    assert run.timed_out and run.returncode is not None
    text = console_text(record)
    assert "started" in text and "timed out" in text and "| never" not in text


def test_timeout_in_pre_run_is_timed_out_not_retried(build, project):
    job = FrozenJob(
        name="slow-setup", pre_run=[script("sleep 30")], run=[script("true")], timeout=1, attempts=3
    )
    record = build(job, project)
    assert record.result is Result.TIMED_OUT
    assert len(record.attempts) == 1


def test_post_timeout_limits_post_run(build, project):
    job = FrozenJob(name="p", run=[script("true")], post_run=[script("sleep 30")], post_timeout=1)
    record = build(job, project)
    assert record.result is Result.SUCCESS
    assert "post-run timeout" in record.reason


def test_cancel_aborts_and_runs_post_run(build, project, tmp_path):
    post = tmp_path / "post-ran"
    started = threading.Event()
    cancel = threading.Event()

    def on_output(line: str) -> None:
        if line.endswith("| working"):
            started.set()
            cancel.set()

    job = FrozenJob(
        name="c",
        run=[script("echo working; sleep 60"), script("echo next")],
        post_run=[script(f"touch {post}")],
    )
    record = build(job, project, cancel=cancel, on_output=on_output)
    assert started.is_set()
    assert record.result is Result.ABORTED
    assert post.exists()
    assert record.attempts[0].phases[0].aborted
    assert "| next" not in console_text(record)


def test_cancel_before_start_is_aborted(build, project):
    cancel = threading.Event()
    cancel.set()
    record = build(FrozenJob(name="c", run=[script("true")]), project, cancel=cancel)
    assert record.result is Result.ABORTED
    assert (Path(record.build_dir) / "build.json").exists()


def test_daemonized_child_does_not_survive_the_build(build, project, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    markers: list[str] = []

    job = FrozenJob(
        name="daemon",
        run=[script(DAEMONIZE + 'echo "tree=$OSCI_TREE"; echo step done')],
        post_run=[script("echo post")],
    )

    def on_output(line: str) -> None:
        if "| tree=" in line:
            markers.append(line.rsplit("tree=", 1)[1])

    record = build(job, project, extra_env={"PIDFILE": str(pidfile)}, on_output=on_output)
    assert record.result is Result.SUCCESS, console_text(record)
    pid = int(pidfile.read_text())
    assert markers and survivors(markers[0]) == []
    assert not _alive(pid)
    assert "left behind" in console_text(record)


def test_daemon_holding_the_pipe_does_not_hang_and_its_output_is_kept(build, project, tmp_path):
    # The background job keeps stdout open and keeps printing after the step's main process exits.
    job = FrozenJob(
        name="pipe",
        run=[script("(setsid bash -c 'while true; do echo tick; sleep 0.1; done' &) ; echo main done")],
        post_run=[script("sleep 0.5")],
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS
    text = console_text(record)
    assert "main done" in text and "| tick" in text
    assert os.path.exists(record.build_dir)


def test_writer_that_escaped_the_marker_does_not_hang_the_build(build, project, tmp_path):
    pidfile = tmp_path / "escaped.pid"
    spam = f"echo $$ > {pidfile}; while true; do echo spam; done"
    job = FrozenJob(
        name="escape", run=[script(f"(env -u OSCI_TREE setsid bash -c '{spam}' &); echo main done")]
    )
    try:
        record = build(job, project)
        assert record.result is Result.SUCCESS
        assert "| spam" in console_text(record)
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_cancel_during_pre_run_is_aborted_not_retried(build, project):
    cancel = threading.Event()

    def on_output(line: str) -> None:
        if line.endswith("| setting up"):
            cancel.set()

    job = FrozenJob(name="c", pre_run=[script("echo setting up; sleep 60")], run=[script("true")], attempts=3)
    record = build(job, project, cancel=cancel, on_output=on_output)
    assert record.result is Result.ABORTED
    assert len(record.attempts) == 1
