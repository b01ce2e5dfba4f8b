"""`osci test` end to end: the real command in a subprocess, real test files."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from droptests.helpers import by_name, osci_test, pid_alive, read_json, write_test

SUMMARY = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped(, \d+ deselected)?$")


def make_mixed_suite(suite: Path) -> None:
    write_test(suite, "a_pass.sh", "echo fine\nexit 0\n")
    write_test(suite, "b_fail.sh", "echo 'something broke' >&2\nexit 1\n")
    write_test(suite, "c_skip.sh", "echo 'needs a GPU'\nexit 77\n")
    write_test(suite, "d_needs_kvm.sh", "# osci: requires=kvm,root\nexit 0\n")
    write_test(suite, "README", "not a test\n", executable=False)


def test_plain_output_format_and_exit_status(suite: Path) -> None:
    make_mixed_suite(suite)
    done = osci_test(suite.name, cwd=suite.parent)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert re.match(r"^PASS  suite/a_pass\.sh  \d+\.\d{3}s$", lines[1])
    assert re.match(r"^FAIL  suite/b_fail\.sh  \d+\.\d{3}s  \(exit status 1\)$", lines[2])
    assert re.match(r"^SKIP  suite/c_skip\.sh  \d+\.\d{3}s  \(needs a GPU\)$", lines[3])
    assert lines[0] == "SKIP  suite/d_needs_kvm.sh  (missing requirement: kvm, root)"
    assert "---- FAIL suite/b_fail.sh (exit status 1) ----" in lines
    assert "something broke" in lines
    assert lines[-1] == "1 passed, 1 failed, 2 skipped"
    assert SUMMARY.match(lines[-1])


def test_all_passing_exits_zero(suite: Path) -> None:
    write_test(suite, "ok.sh", "exit 0\n")
    write_test(suite, "skipped.sh", "exit 77\n")
    done = osci_test(suite)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 skipped"


def test_provides_runs_tests_whose_requirements_are_met(suite: Path, tmp_path: Path) -> None:
    make_mixed_suite(suite)
    report = tmp_path / "r.json"
    done = osci_test(suite, "--provides", "kvm", "--provides", "root,net", "--json", report)
    assert done.stdout.splitlines()[-1] == "2 passed, 1 failed, 1 skipped"
    assert by_name(read_json(report))[f"{suite}/d_needs_kvm.sh"]["status"] == "passed"
    partly = osci_test(suite, "--provides", "kvm", "--json", report)
    test = by_name(read_json(report))[f"{suite}/d_needs_kvm.sh"]
    assert (test["status"], test["reason"], test["runs"]) == ("skipped", "missing requirement: root", 0)
    assert partly.returncode == 1


def test_tags_select_and_count_the_rest_as_deselected(suite: Path) -> None:
    write_test(suite, "fast.sh", "# osci: tags=fast,unit\nexit 0\n")
    write_test(suite, "net.c", "#!/bin/sh\n// osci: tags=net\nexit 1\n")
    write_test(suite, "slow.lua", "#!/bin/sh\n-- osci: tags=slow\nexit 1\n")
    write_test(suite, "untagged.sh", "exit 1\n")
    done = osci_test(suite, "--tags", "unit,net")
    assert done.stdout.splitlines()[-1] == "1 passed, 1 failed, 0 skipped, 2 deselected"
    assert "slow.lua" not in done.stdout and "untagged.sh" not in done.stdout
    only_fast = osci_test(suite, "--tags", "fast")
    assert only_fast.returncode == 0
    assert only_fast.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped, 3 deselected"


def test_header_timeout_kills_a_daemonizing_test(suite: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    write_test(
        suite,
        "hang.sh",
        "# osci: timeout=1\n"
        f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' </dev/null >/dev/null 2>&1 &\n"
        "sleep 60\n",
    )
    write_test(suite, "quick.sh", 'echo "timeout=$OSCI_TEST_TIMEOUT"\nexit 1\n')
    done = osci_test(suite, "--timeout", "45")
    assert done.returncode == 1
    assert re.search(r"^FAIL  .*/hang\.sh  \d+\.\d{3}s  \(timed out after 1s\)$", done.stdout, re.M)
    assert "timeout=45" in done.stdout  # the command line's timeout for tests without one
    assert not pid_alive(int(pidfile.read_text()))


def test_repeat_flags_a_flaky_test(suite: Path, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    write_test(
        suite,
        "flaky.sh",
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {counter}\n"
        'echo "run $n"\n[ $((n % 2)) -eq 0 ]\n',
    )
    write_test(suite, "steady.sh", "exit 0\n")
    report = tmp_path / "r.json"
    done = osci_test(suite, "--repeat", "4", "--json", report)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert sum(1 for line in lines if "flaky.sh" in line and line.endswith("/4]")) == 4
    assert f"FLAKY  {suite}/flaky.sh  passed 2 of 4 runs (counted as failed)" in lines
    assert "1 flaky (counted as failed: a flaky test is a bug)" in lines
    assert "pass rate: 6 of 8 runs (75.0%)" in lines
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"
    data = read_json(report)
    flaky = by_name(data)[f"{suite}/flaky.sh"]
    assert (flaky["status"], flaky["runs"], flaky["passes"], flaky["flaky"]) == ("failed", 4, 2, True)
    assert flaky["reason"] == "flaky: passed 2 of 4 runs; last failure: exit status 1"
    assert flaky["output_tail"] == "run 3\n"  # the last failing run
    steady = by_name(data)[f"{suite}/steady.sh"]
    assert (steady["status"], steady["runs"], steady["passes"], steady["flaky"]) == ("passed", 4, 4, False)
    assert data["summary"] == {"passed": 1, "failed": 1, "skipped": 0, "deselected": 0, "flaky": 1}


def test_variants_matrix_names_and_environment(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "foo.sh", 'echo "P=$PARAM O=$OTHER N=$OSCI_TEST_NAME"\n[ "$PARAM" = v1 ]\n')
    variants = tmp_path / "variants.yaml"
    variants.write_text("PARAM: [v1, v2]\nOTHER: [a, b]\n")
    report = tmp_path / "r.json"
    done = osci_test("suite", "--variants", variants, "--json", report, cwd=suite.parent)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "2 passed, 2 failed, 0 skipped"
    tests = by_name(read_json(report))
    assert list(tests) == [
        "suite/foo.sh[OTHER=a,PARAM=v1]",
        "suite/foo.sh[OTHER=a,PARAM=v2]",
        "suite/foo.sh[OTHER=b,PARAM=v1]",
        "suite/foo.sh[OTHER=b,PARAM=v2]",
    ]
    first = tests["suite/foo.sh[OTHER=a,PARAM=v1]"]
    assert first["variant"] == {"OTHER": "a", "PARAM": "v1"}
    assert first["path"] == "suite/foo.sh"
    assert first["output_tail"] == "P=v1 O=a N=suite/foo.sh[OTHER=a,PARAM=v1]\n"
    assert tests["suite/foo.sh[OTHER=b,PARAM=v2]"]["status"] == "failed"


def test_variants_list_form(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "db.sh", 'echo "$DB"\n')
    variants = tmp_path / "variants.yaml"
    variants.write_text("- {DB: sqlite}\n- {DB: postgres, VERSION: '16'}\n")
    done = osci_test(suite, "--variants", variants)
    assert done.returncode == 0
    assert f"{suite}/db.sh[DB=sqlite]" in done.stdout
    assert f"{suite}/db.sh[DB=postgres,VERSION=16]" in done.stdout


def test_bad_variants_file_is_a_usage_error_naming_file_and_line(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "t.sh", "exit 0\n")
    variants = tmp_path / "variants.yaml"
    variants.write_text("PARAM: [v1, v2]\nOTHER: []\n")
    done = osci_test(suite, "--variants", variants)
    assert done.returncode == 2
    assert f"{variants}:2: parameter OTHER has an empty list of values" in done.stderr
    assert "Traceback" not in done.stderr


def test_junit_and_json_reports_parse_back(suite: Path, tmp_path: Path) -> None:
    make_mixed_suite(suite)
    write_test(suite, "e_other_tag.sh", "# osci: tags=other\nexit 0\n")
    junit, report = tmp_path / "out" / "junit.xml", tmp_path / "out" / "report.json"
    done = osci_test("suite", "--junit", junit, "--json", report, cwd=suite.parent)
    assert done.returncode == 1
    suite_xml = ET.parse(junit).getroot().find("testsuite")
    assert suite_xml is not None
    assert (suite_xml.get("tests"), suite_xml.get("failures"), suite_xml.get("skipped")) == ("5", "1", "2")
    cases = {case.get("name"): case for case in suite_xml.iter("testcase")}
    assert set(cases) == {"a_pass.sh", "b_fail.sh", "c_skip.sh", "d_needs_kvm.sh", "e_other_tag.sh"}
    assert cases["b_fail.sh"].get("classname") == "suite"
    failure = cases["b_fail.sh"].find("failure")
    assert failure is not None and failure.get("message") == "exit status 1"
    assert "something broke" in (failure.text or "")
    skipped = cases["d_needs_kvm.sh"].find("skipped")
    assert skipped is not None and skipped.get("message") == "missing requirement: kvm, root"

    data = read_json(report)
    assert data["summary"] == {"passed": 2, "failed": 1, "skipped": 2, "deselected": 0, "flaky": 0}
    failed = by_name(data)["suite/b_fail.sh"]
    assert set(failed) >= {
        "name",
        "path",
        "variant",
        "status",
        "returncode",
        "duration",
        "reason",
        "output_tail",
        "runs",
        "passes",
        "flaky",
    }
    assert (failed["status"], failed["returncode"], failed["variant"]) == ("failed", 1, None)
    assert failed["output_tail"] == "something broke\n"


def test_json_lists_deselected_tests(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "tagged.sh", "# osci: tags=x\nexit 0\n")
    write_test(suite, "other.sh", "exit 0\n")
    report = tmp_path / "r.json"
    osci_test(suite, "--tags", "x", "--json", report)
    data = read_json(report)
    assert by_name(data)[f"{suite}/other.sh"]["status"] == "deselected"
    assert data["summary"]["deselected"] == 1


def test_twenty_megabytes_of_output_stay_bounded(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "loud.sh", "head -c 20000000 /dev/zero | tr '\\0' y\necho\necho LAST LINE\nexit 1\n")
    report = tmp_path / "r.json"
    done = osci_test(suite, "--json", report)
    assert done.returncode == 1
    test = read_json(report)["tests"][0]
    assert test["output_size"] == 20_000_011
    assert len(test["output_tail"]) == 64 * 1024
    assert test["output_tail"].endswith("yyy\nLAST LINE\n")
    assert f"---- FAIL {suite}/loud.sh (exit status 1) -- last 64.0 KiB of 19.1 MiB ----" in done.stdout
    assert len(done.stdout) < 70 * 1024


def test_bad_header_fails_the_test_without_running_it(suite: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write_test(suite, "bad.sh", f"# osci: timeout=soon\ntouch {marker}\n")
    done = osci_test(suite)
    assert done.returncode == 1
    assert (
        f"FAIL  {suite}/bad.sh  (bad osci header: line 2: timeout: expected a number of seconds"
        in done.stdout
    )
    assert not marker.exists()


def test_usage_errors_exit_two_without_traceback(suite: Path) -> None:
    plain = write_test(suite, "plain.sh", "exit 0\n", executable=False)
    cases = {
        "no such file or directory": [suite / "missing"],
        "chmod +x": [plain],
        "expected a number of seconds": [suite, "--timeout", "soon"],
        "--repeat": [suite, "--repeat", "0"],
        "Missing argument": [],
    }
    for message, args in cases.items():
        done = osci_test(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert message in done.stderr


def test_unwritable_report_is_a_clear_error(suite: Path, tmp_path: Path) -> None:
    write_test(suite, "t.sh", "exit 0\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = osci_test(suite, "--json", blocker / "r.json")
    assert done.returncode == 2
    assert "cannot write the report" in done.stderr
    assert "Traceback" not in done.stderr


def test_empty_folder(suite: Path) -> None:
    done = osci_test(suite)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "0 passed, 0 failed, 0 skipped"
    assert "no executable files" in done.stderr


def test_parallel_run_gives_the_same_results(suite: Path, tmp_path: Path) -> None:
    for index in range(20):
        write_test(suite, f"t{index:02d}.sh", f"exit {1 if index % 5 == 0 else 0}\n")
    serial, parallel = tmp_path / "j1.json", tmp_path / "j2.json"
    osci_test(suite, "-j1", "--json", serial)
    done = osci_test(suite, "-j2", "--json", parallel)
    assert done.stdout.splitlines()[-1] == "16 passed, 4 failed, 0 skipped"

    def statuses(path: Path) -> list[tuple[str, str]]:
        return [(test["name"], test["status"]) for test in read_json(path)["tests"]]

    assert statuses(serial) == statuses(parallel)


def test_terminal_output_uses_rich_and_ends_with_the_summary(suite: Path) -> None:
    make_mixed_suite(suite)
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120")
    process = subprocess.Popen(
        [sys.executable, "-m", "osci", "test", str(suite)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=30) == 1
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert "\x1b[" in text  # coloured
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")
    lines = [line for line in plain.splitlines() if line.strip()]
    assert lines[-1].strip() == "1 passed, 1 failed, 2 skipped"
    assert "FAIL" in plain and "b_fail.sh" in plain and "something broke" in plain


def test_sigterm_kills_running_tests_and_exits(suite: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    write_test(suite, "hang.sh", f"sleep 60 &\necho $! > {pidfile}\nwait\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "osci", "test", str(suite)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(1000):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        select.select([], [], [], 0.01)
    child = int(pidfile.read_text())
    assert pid_alive(child)
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143
    assert "interrupted; the running tests were killed" in err
    assert not pid_alive(child)


def test_a_closed_pipe_stops_the_output_not_the_run(suite: Path, tmp_path: Path) -> None:
    for index in range(30):
        write_test(suite, f"t{index:02d}.sh", "exit 0\n")
    write_test(suite, "zz_last.sh", f"touch {tmp_path}/last-ran\nexit 1\n")
    pipeline = f'{sys.executable} -m osci test {suite} | head -n 1; echo "status=${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.splitlines()[-1] == "status=1"
    assert (tmp_path / "last-ran").exists()
    assert "Traceback" not in done.stderr


def test_file_names_that_are_not_utf8(suite: Path, tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.sh")
    write_test(suite, name, "exit 1\n")
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    done = osci_test(suite, "--junit", junit, "--json", report)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert read_json(report)["tests"][0]["name"] == f"{suite}/caf\ufffd.sh"
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None and case.get("name") == "caf\ufffd.sh"


def test_the_executor_package_still_works_after_osci_test_is_imported() -> None:
    # `osci test` defers osci/executor/__init__.py; anything else in the process must not notice.
    code = (
        "import osci.cli.test_cmd, osci\n"
        "from osci.executor import run_build, BuildRequest\n"
        "assert osci.executor.run_build is run_build\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "ok\n", done.stderr
