"""Attempts: pre-run errors are retried in a fresh workspace, post-run always runs."""

from __future__ import annotations

from exec_helpers import console_text, script

from osci.model import FrozenJob, Result


def test_pre_run_failure_retried_then_retry_limit(build, project):
    job = FrozenJob(
        name="setup-broken",
        pre_run=[script("echo setting up; exit 1")],
        run=[script("echo should not run")],
        post_run=[script("echo post $OSCI_ATTEMPT")],
        attempts=3,
    )
    record = build(job, project)
    assert record.result is Result.RETRY_LIMIT
    assert [a.number for a in record.attempts] == [1, 2, 3]
    assert all(a.result is Result.ERROR for a in record.attempts)
    assert record.attempts[0].reason == "pre-run step script: echo setting up; exit 1 exited with 1"
    text = console_text(record)
    assert "| post 1" in text and "| post 3" in text
    assert "| should not run" not in text
    assert not record.result.counts_against_change


def test_pre_run_failing_once_then_success(build, project, tmp_path):
    counter = tmp_path / "counter"  # outside the workspace: survives the fresh workspace
    pre = f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; test -e marker-from-ws && exit 9; touch marker-from-ws; [ $n -ge 1 ]"
    job = FrozenJob(name="flaky-setup", pre_run=[script(pre)], run=[script("echo ran")], attempts=3)
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    assert [a.result for a in record.attempts] == [Result.ERROR, Result.SUCCESS]
    assert counter.read_text().strip() == "2"


def test_post_run_after_failure_and_its_failure_is_recorded(build, project, tmp_path):
    flag = tmp_path / "post-ran"
    job = FrozenJob(
        name="f",
        run=[script("exit 1")],
        post_run=[script(f"touch {flag}; exit 4"), script("echo second post step")],
    )
    record = build(job, project)
    assert record.result is Result.FAILURE
    assert flag.exists()
    assert "post-run step" in record.reason and "exited with 4" in record.reason
    phases = [(p.phase, p.returncode) for p in record.attempts[0].phases]
    assert phases == [("run", 1), ("post-run", 4), ("post-run", 0)]
    assert "second post step" in console_text(record)


def test_post_run_failure_does_not_change_success(build, project):
    job = FrozenJob(name="s", run=[script("true")], post_run=[script("exit 2")])
    record = build(job, project)
    assert record.result is Result.SUCCESS
    assert "post-run step script: exit 2 exited with 2" in record.reason


def test_logs_of_retried_attempts_are_kept_aside(build, project, tmp_path):
    counter = tmp_path / "n"
    pre = f'echo attempt > "$OSCI_LOG_DIR/setup.log"; n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ $n -ge 1 ]'
    record = build(FrozenJob(name="l", pre_run=[script(pre)], run=[script("true")]), project)
    assert record.result is Result.SUCCESS
    from pathlib import Path

    out = Path(record.build_dir)
    assert (out / "attempt-1" / "logs" / "setup.log").exists()
    assert (out / "logs" / "setup.log").exists()
