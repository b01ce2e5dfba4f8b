"""The runner, with real processes: classification, environment, timeouts, daemons, output."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptests.helpers import pid_alive, write_test
from osci.executor.droptest_runner import Job, Outcome, Runner


def run(jobs: list[Job], parallel: int = 1, **runner_args) -> tuple[dict[str, Outcome], Runner]:
    outcomes: dict[str, Outcome] = {}
    runner = Runner(parallel, **runner_args)
    runner.run(jobs, lambda job, outcome: outcomes.__setitem__(job.name, outcome))
    return outcomes, runner


def job(path: Path, timeout: float = 10, **env: str) -> Job:
    return Job(path.name, str(path), timeout, dict(env))


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
def test_exit_codes_classify_runs(suite: Path, portable: bool) -> None:
    paths = [
        write_test(suite, "pass.sh", "exit 0\n"),
        write_test(suite, "fail.sh", "echo broken; exit 3\n"),
        write_test(suite, "skip.sh", "echo 'no kvm on this machine'\nexit 77\n"),
        write_test(suite, "quiet_skip.sh", "exit 77\n"),
        write_test(suite, "signal.sh", "kill -KILL $$\n"),
    ]
    outcomes, _ = run(
        [job(path) for path in paths], parallel=2, fast_spawn=not portable, use_pidfd=not portable
    )
    assert outcomes["pass.sh"].status == "passed"
    assert outcomes["fail.sh"].status == "failed"
    assert outcomes["fail.sh"].reason(10) == "exit status 3"
    assert outcomes["fail.sh"].output_tail == "broken\n"
    assert outcomes["skip.sh"].status == "skipped"
    assert outcomes["skip.sh"].reason(10) == "no kvm on this machine"
    assert outcomes["quiet_skip.sh"].reason(10) == "exit status 77"
    assert outcomes["signal.sh"].status == "failed"
    assert outcomes["signal.sh"].reason(10) == "killed by SIGKILL"


@pytest.mark.parametrize("fast_spawn", [True, False], ids=["posix_spawn", "popen"])
def test_environment_cwd_and_closed_stdin(suite: Path, fast_spawn: bool) -> None:
    path = write_test(
        suite,
        "sub/env.sh",
        'echo "name=$OSCI_TEST_NAME param=$PARAM tree=${OSCI_TREE:+set} cwd=$(pwd)"\n'
        'cat\necho "stdin done"\n',  # cat returns at once: stdin is /dev/null
    )
    jobs = [Job("sub/env.sh[PARAM=7]", str(path), 10, {"PARAM": "7", "OSCI_TEST_NAME": "n"})]
    outcomes, _ = run(jobs, fast_spawn=fast_spawn)
    outcome = outcomes["sub/env.sh[PARAM=7]"]
    assert outcome.status == "passed"
    assert outcome.output_tail == f"name=n param=7 tree=set cwd={suite / 'sub'}\nstdin done\n"


@pytest.mark.parametrize("fast_spawn", [True, False], ids=["posix_spawn", "popen"])
def test_file_without_shebang_runs_with_sh(suite: Path, fast_spawn: bool) -> None:
    path = suite / "plain"
    path.write_text("echo from sh\nexit 0\n")
    path.chmod(0o755)
    outcomes, _ = run([job(path)], fast_spawn=fast_spawn)
    assert outcomes["plain"].status == "passed"
    assert outcomes["plain"].output_tail == "from sh\n"


def test_missing_interpreter_fails_with_a_reason(suite: Path) -> None:
    path = write_test(suite, "bad.py", "#!/no/such/python\nprint(1)\n")
    outcomes, _ = run([job(path)])
    assert outcomes["bad.py"].status == "failed"
    assert outcomes["bad.py"].returncode is None
    assert "cannot start" in outcomes["bad.py"].reason(10)


@pytest.mark.parametrize("use_pidfd", [True, False], ids=["pidfd", "waitid"])
def test_timeout_kills_the_whole_tree_daemons_included(suite: Path, tmp_path: Path, use_pidfd: bool) -> None:
    pidfile = tmp_path / "daemon.pid"
    path = write_test(
        suite,
        "hang.sh",
        # a child that leaves the group and session, then the test hangs
        'setsid sh -c \'echo $$ > "$1"; exec sleep 60\' sh "$PIDFILE" </dev/null >/dev/null 2>&1 &\n'
        "sleep 60 &\nwait\n",
    )
    outcomes, _ = run([job(path, timeout=1, PIDFILE=str(pidfile))], kill_grace=1.0, use_pidfd=use_pidfd)
    outcome = outcomes["hang.sh"]
    assert outcome.timed_out
    assert outcome.status == "failed"
    assert outcome.reason(1) == "timed out after 1s"
    daemon = int(pidfile.read_text())
    assert not pid_alive(daemon)


def test_a_test_that_ignores_sigterm_is_killed_after_the_grace(suite: Path) -> None:
    path = write_test(suite, "stubborn.sh", "trap '' TERM\nwhile :; do sleep 0.05; done\n")
    outcomes, _ = run([job(path, timeout=0.5)], kill_grace=0.3)
    assert outcomes["stubborn.sh"].timed_out


def test_escaped_daemon_of_a_finished_test_is_swept_at_the_end(suite: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    path = write_test(
        suite,
        "leaky.sh",
        'setsid sh -c \'echo $$ > "$1"; exec sleep 60\' sh "$PIDFILE" </dev/null >/dev/null 2>&1 &\n'
        'while [ ! -s "$PIDFILE" ]; do sleep 0.01; done\nexit 0\n',
    )
    outcomes, runner = run([job(path, PIDFILE=str(pidfile))])
    assert outcomes["leaky.sh"].status == "passed"
    assert runner.stragglers == ["leaky.sh"]
    assert not pid_alive(int(pidfile.read_text()))


def test_output_is_bounded_and_measured(suite: Path) -> None:
    path = write_test(suite, "loud.sh", "head -c 20000000 /dev/zero | tr '\\0' x\necho END\nexit 1\n")
    outcomes, _ = run([job(path)])
    outcome = outcomes["loud.sh"]
    assert outcome.output_size == 20_000_004
    assert len(outcome.output_tail) == 64 * 1024
    assert outcome.output_tail.endswith("xxxEND\n")


def test_output_files_are_reused_without_leaking_output(suite: Path) -> None:
    paths = [write_test(suite, f"t{i}.sh", f"echo only-{i}\n") for i in range(6)]
    outcomes, _ = run([job(path) for path in paths], parallel=2)
    assert {name: o.output_tail for name, o in outcomes.items()} == {
        f"t{i}.sh": f"only-{i}\n" for i in range(6)
    }


def test_parallel_runs_overlap(suite: Path, tmp_path: Path) -> None:
    # Each test waits (up to its timeout) for the other to start: only works if both run at once.
    for me, other in (("a", "b"), ("b", "a")):
        write_test(
            suite,
            f"{me}.sh",
            f'touch "{tmp_path}/{me}"\nwhile [ ! -e "{tmp_path}/{other}" ]; do sleep 0.01; done\n',
        )
    outcomes, _ = run([job(suite / "a.sh", timeout=3), job(suite / "b.sh", timeout=3)], parallel=2)
    assert [o.status for o in outcomes.values()] == ["passed", "passed"]


@pytest.mark.parametrize("parallel", [1, 3])
def test_each_test_runs_in_its_own_folder_whatever_the_parallelism(suite: Path, parallel: int) -> None:
    jobs = []
    for folder in ("a", "b", "c"):
        for number in range(4):
            path = write_test(suite / folder, f"t{number}.sh", "pwd\n")
            jobs.append(Job(f"{folder}/{path.name}", str(path), 10, {}))
    outcomes, _ = run(jobs, parallel=parallel)
    assert len(outcomes) == 12
    for name, outcome in outcomes.items():
        assert outcome.status == "passed", name
        assert outcome.output_tail.strip() == str(suite / name.split("/")[0]), name


def test_parallel_timeout_kills_only_the_slow_test(suite: Path) -> None:
    slow = write_test(suite, "slow.sh", "sleep 30\n")
    quick = [write_test(suite, f"q{n}.sh", "exit 0\n") for n in range(6)]
    outcomes, _ = run([Job("slow.sh", str(slow), 0.5, {})] + [job(p) for p in quick], parallel=2)
    assert outcomes["slow.sh"].timed_out
    assert all(outcomes[p.name].status == "passed" for p in quick)
