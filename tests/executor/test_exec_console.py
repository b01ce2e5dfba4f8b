"""The console log: line splitting, binary output, bounded memory with huge output."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from exec_helpers import console_text, script

from osci.executor.console import MAX_LINE, LineSplitter, clean_line
from osci.model import FrozenJob, Result


def test_splitter_joins_chunks_and_keeps_partial_line():
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o\r\nthree") == ["two"]
    assert splitter.flush() == ["three"]
    assert splitter.flush() == []


def test_splitter_cuts_long_lines_without_breaking_utf8():
    splitter = LineSplitter(max_line=10)
    lines = splitter.feed("é".encode() * 12 + b"\n")
    assert lines == ["ééééé", "ééééé", "éé"]
    lines = splitter.feed(b"x" * 25)
    assert lines == ["x" * 10, "x" * 10]
    assert splitter.flush() == ["x" * 5]


def test_clean_line_escapes_controls_and_invalid_utf8():
    assert clean_line(b"a\x00b\tc\x1b[31m\xff") == "a\\x00b\tc\\x1b[31m\\xff"


def test_binary_output_is_stored_and_readable(build, project):
    job = FrozenJob(
        name="bin", run=[script("head -c 200000 /dev/urandom; printf '\\0\\0after nul\\n'; echo done")]
    )
    record = build(job, project)
    assert record.result is Result.SUCCESS
    raw = (Path(record.build_dir) / "job-output.txt").read_bytes()
    text = raw.decode("utf-8")  # strictly valid UTF-8
    assert "\x00" not in text
    assert "\\x00\\x00after nul" in text and "| done" in text
    for line in text.splitlines():
        assert " | " in line[:40]
        assert len(line.encode()) < 5 * MAX_LINE  # escaping may grow a line, never unbounded


def test_long_line_is_split(build, project):
    job = FrozenJob(name="long", run=[script("head -c 100000 /dev/zero | tr '\\0' a; echo; echo end")])
    record = build(job, project)
    lines = [line.split(" | ", 1)[1] for line in console_text(record).splitlines()]
    pieces = [line for line in lines if set(line) == {"a"}]
    assert sum(len(p) for p in pieces) == 100000
    assert max(len(p) for p in pieces) == MAX_LINE


def test_fifty_megabytes_of_output_with_bounded_memory(tmp_path):
    # Run the build in its own interpreter so its peak memory measures only it. VmHWM, not
    # ru_maxrss: Linux carries the forking parent's (pytest's) peak into ru_maxrss across exec.
    program = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        def peak_kb():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        from osci.executor import BuildRequest, run_build
        from osci.model import FrozenJob, Step
        count = 0
        def on_output(line):
            global count
            count += 1
        before = peak_kb()
        line = "x" * 999
        job = FrozenJob(name="big", run=[Step(script=f"(yes {{line}} || true) | head -c 50000000; echo; printf 'end\\\\n'")])
        record = run_build(BuildRequest(job=job, build_dir=Path({str(tmp_path / "b")!r}), source=Path({str(tmp_path)!r}) / "src",
                           workspace_root=Path({str(tmp_path / "ws")!r})), on_output=on_output)
        after = peak_kb()
        print(json.dumps({{"result": str(record.result), "before_kb": before, "after_kb": after, "lines": count}}))
        """
    )
    (tmp_path / "src").mkdir()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["result"] == "SUCCESS"
    assert report["lines"] >= 50000
    assert report["after_kb"] < 150 * 1024, report
    assert report["after_kb"] - report["before_kb"] < 60 * 1024, report
    log = tmp_path / "b" / "job-output.txt"
    assert log.stat().st_size > 50_000_000
    with open(log, "rb") as handle:
        handle.seek(-4096, 2)
        assert b"| end\n" in handle.read()
