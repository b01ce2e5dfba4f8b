"""run_build end to end: results, phases, environment, workspaces from git or a directory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from exec_helpers import console_text, git, script, write

from osci.model import FrozenJob, Result, Step


def test_success_writes_the_build_directory(build, project):
    write(project / "run.sh", "echo hello from run\n")
    job = FrozenJob(name="ok", run=[Step(path="run.sh")])
    lines: list[str] = []
    record = build(job, project, on_output=lines.append)
    assert record.result is Result.SUCCESS
    assert len(record.attempts) == 1 and record.attempts[0].result is Result.SUCCESS
    out = Path(record.build_dir)
    for name in ("job-output.txt", "build.json", "junit.xml", "index.html", "artifacts", "logs"):
        assert (out / name).exists(), name
    text = console_text(record)
    assert "hello from run" in text
    assert text.splitlines()[0][:4].isdigit() and " | " in text.splitlines()[0]
    assert any("hello from run" in line for line in lines)
    data = json.loads((out / "build.json").read_text())
    assert data["result"] == "SUCCESS" and data["frozen_job"]["name"] == "ok"


def test_run_failure_is_failure_not_retried(build, project):
    job = FrozenJob(name="f", run=[script("echo boom; exit 3"), script("echo never")], attempts=3)
    record = build(job, project)
    assert record.result is Result.FAILURE
    assert len(record.attempts) == 1
    assert "exited with 3" in record.reason
    assert "never" not in console_text(record).replace("echo never", "")


def test_script_runs_with_errexit_and_pipefail(build, project):
    job = FrozenJob(name="f", run=[script("false | cat\necho after")])
    record = build(job, project)
    assert record.result is Result.FAILURE
    assert "\nafter" not in console_text(record).replace(" | after", "")


def test_missing_run_step_is_failure_with_message(build, project):
    record = build(FrozenJob(name="m", run=[Step(path="nope.sh")]), project)
    assert record.result is Result.FAILURE
    assert record.reason == "run step nope.sh not found in the workspace"


def test_missing_pre_run_step_is_error(build, project):
    job = FrozenJob(name="m", pre_run=[Step(path="setup.sh")], run=[script("true")], attempts=2)
    record = build(job, project)
    assert record.result is Result.RETRY_LIMIT
    assert [a.result for a in record.attempts] == [Result.ERROR, Result.ERROR]
    assert "pre-run step setup.sh not found" in record.attempts[0].reason


def test_executable_and_plain_step_files(build, project):
    write(project / "exe.py", "#!/usr/bin/env python3\nprint('from python')\n", executable=True)
    write(project / "plain.sh", "echo from bash $BASH_VERSION\n")
    write(project / "noshebang", "echo no shebang\n", executable=True)
    job = FrozenJob(name="x", run=[Step(path="exe.py"), Step(path="plain.sh"), Step(path="noshebang")])
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    text = console_text(record)
    assert "from python" in text and "from bash 5" in text and "no shebang" in text


def test_environment_and_vars(build, project, tmp_path):
    dump = tmp_path / "env.json"
    code = (
        "import json, os, sys; keys = [k for k in os.environ if k.startswith('OSCI_')] + ['FOO', 'NUM', 'LIST', 'DEPLOY'];"
        f"json.dump({{k: os.environ.get(k) for k in keys}}, open({str(dump)!r}, 'w'));"
        "json.dump(json.load(open(os.environ['OSCI_VARS'])), open(os.environ['OSCI_VARS'] + '.seen', 'w'))"
    )
    job = FrozenJob(
        name="envjob",
        run=[script(f'python3 -c "{code}"; pwd; cat </dev/null')],
        vars={"FOO": "job", "NUM": 3, "LIST": [1, "a"], "not-an-id": 1, "OSCI_JOB": "x", "nested": {"a": 1}},
    )
    record = build(
        job,
        project,
        project="org/proj",
        branch="main",
        change="42,1",
        uuid="u123",
        extra_env={"DEPLOY": "lab"},
        var_overrides={"FOO": "cli"},
    )
    assert record.result is Result.SUCCESS, console_text(record)
    env = json.loads(dump.read_text())
    out = Path(record.build_dir)
    assert env["OSCI_JOB"] == "envjob"
    assert env["OSCI_BUILD"] == "u123"
    assert env["OSCI_ATTEMPT"] == "1"
    assert env["OSCI_PROJECT"] == "org/proj" and env["OSCI_BRANCH"] == "main" and env["OSCI_CHANGE"] == "42,1"
    assert env["OSCI_REF"] == ""
    assert env["OSCI_LOG_DIR"] == str(out / "logs") and env["OSCI_ARTIFACTS"] == str(out / "artifacts")
    assert env["OSCI_WORKSPACE"] in console_text(record)  # pwd printed the workspace
    assert env["OSCI_TREE"]
    assert env["FOO"] == "cli" and env["NUM"] == "3" and json.loads(env["LIST"]) == [1, "a"]
    assert env["DEPLOY"] == "lab"
    seen = json.loads(Path(env["OSCI_VARS"] + ".seen").read_text())
    assert seen["FOO"] == "cli" and seen["nested"] == {"a": 1} and seen["not-an-id"] == 1
    assert "not a shell identifier" in console_text(record)


def test_working_directory_copy_includes_uncommitted_changes(build, project):
    git(project, "init", "-q", "-b", "main")
    write(project / "check.sh", "cat state.txt\ntest ! -e .osci-builds\ntest -d .git\n")
    write(project / "state.txt", "committed\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "one")
    write(project / "state.txt", "uncommitted\n")
    write(project / ".osci-builds" / "old" / "job-output.txt", "old build\n")
    record = build(FrozenJob(name="c", run=[Step(path="check.sh")]), project)
    assert record.result is Result.SUCCESS, console_text(record)
    assert "uncommitted" in console_text(record)


def test_git_clone_at_ref(build, project):
    git(project, "init", "-q", "-b", "main")
    write(project / "check.sh", "cat state.txt; echo ref=$OSCI_REF; git rev-parse HEAD\n")
    write(project / "state.txt", "first\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "one")
    first = git(project, "rev-parse", "HEAD")
    git(project, "tag", "v1")
    write(project / "state.txt", "second\n")
    git(project, "commit", "-q", "-am", "two")
    git(project, "checkout", "-q", "-b", "feature")
    write(project / "state.txt", "feature\n")
    git(project, "commit", "-q", "-am", "three")
    git(project, "checkout", "-q", "main")
    write(project / "state.txt", "dirty\n")  # not committed: a clone must not see it
    job = FrozenJob(name="g", run=[Step(path="check.sh")])
    for ref, expected in ((first, "first"), ("v1", "first"), ("main", "second"), ("feature", "feature")):
        record = build(job, project, ref=ref)
        assert record.result is Result.SUCCESS, console_text(record)
        text = console_text(record)
        assert f"| {expected}\n" in text and "dirty" not in text
    assert first in console_text(build(job, project, ref="v1"))


def test_bad_ref_is_error_then_retry_limit(build, project):
    git(project, "init", "-q", "-b", "main")
    write(project / "a.txt", "a\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "one")
    record = build(FrozenJob(name="g", run=[script("true")], attempts=2), project, ref="no-such-ref")
    assert record.result is Result.RETRY_LIMIT
    assert all(a.result is Result.ERROR for a in record.attempts) and len(record.attempts) == 2
    assert "ref 'no-such-ref' not found" in record.reason


def test_missing_source_is_error(build, tmp_path):
    record = build(FrozenJob(name="g", run=[script("true")], attempts=1), tmp_path / "missing")
    assert record.result is Result.RETRY_LIMIT
    assert "does not exist" in record.reason


def test_workspace_removed_unless_kept(build, project, tmp_path):
    job = FrozenJob(name="w", run=[script("touch made-here")])
    build(job, project, workspace_root=tmp_path / "ws1")
    assert list((tmp_path / "ws1").iterdir()) == []
    record = build(job, project, workspace_root=tmp_path / "ws2", keep_workspace=True)
    assert (Path(record.extra["workspace"]) / "made-here").exists()


def test_stdin_is_closed_and_huge_vars_stay_in_the_file(build, project):
    job = FrozenJob(
        name="stdin",
        run=[
            script(
                'if read -r line; then echo "got input"; else echo "stdin at eof"; fi; echo "big=${BIG:-unset}"'
            )
        ],
        vars={"BIG": "x" * 200_000},
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS, console_text(record)
    text = console_text(record)
    assert "| stdin at eof" in text and "| big=unset" in text
    assert "read it from OSCI_VARS" in text


def test_builds_in_parallel_threads_stay_apart(build, project):
    jobs = {
        "ok": FrozenJob(name="ok", run=[script("for i in 1 2 3; do echo ok-$i; sleep 0.1; done")]),
        "fail": FrozenJob(name="fail", run=[script("echo fail-1; exit 1")]),
        "slow": FrozenJob(name="slow", run=[script("echo slow-1; sleep 30")], timeout=1),
    }
    records = {}

    def run(name: str) -> None:
        records[name] = build(jobs[name], project, build_dir=project.parent / f"par-{name}")

    threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {n: r.result for n, r in records.items()} == {
        "ok": Result.SUCCESS,
        "fail": Result.FAILURE,
        "slow": Result.TIMED_OUT,
    }
    for name, record in records.items():
        text = console_text(record)
        others = [other for other in jobs if other != name]
        assert f"| {name}-1" in text and not any(f"| {other}-1" in text for other in others)


def test_git_ref_only_reachable_by_fetch(build, project):
    git(project, "init", "-q", "-b", "main")
    write(project / "state.txt", "base\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    write(project / "state.txt", "proposed change\n")
    git(project, "commit", "-q", "-am", "change")
    git(project, "update-ref", "refs/changes/01/1/1", "HEAD")
    git(project, "reset", "-q", "--hard", "HEAD~1")
    record = build(FrozenJob(name="g", run=[script("cat state.txt")]), project, ref="refs/changes/01/1/1")
    assert record.result is Result.SUCCESS, console_text(record)
    assert "| proposed change" in console_text(record)
