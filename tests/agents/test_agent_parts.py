"""The agent provider's parts that need no processes: reports, console lines, shared archives."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from osci.executor.console import Console
from osci.executor.request import BuildRequest
from osci.model import FrozenJob, Result
from osci.nodes.providers.agent import WorkspaceArchives, _attempt


def test_a_malformed_report_is_an_error_never_a_failure():
    assert _attempt(1, {"result": "PASSED!"}, 0.0).result is Result.ERROR
    assert _attempt(1, {}, 0.0).result is Result.ERROR
    good = _attempt(2, {"result": "FAILURE", "reason": "run step x exited with 1",
                        "phases": [{"phase": "run", "step": "x", "returncode": 1, "duration": 0.5}, "junk"]}, 0.0)  # fmt: skip
    assert good.result is Result.FAILURE and good.number == 2
    assert [(p.step, p.returncode) for p in good.phases] == [("x", 1)]


def test_streamed_lines_keep_their_stamp_and_are_escaped(tmp_path: Path):
    console = Console(tmp_path / "out.txt")
    console.stamped(["2026-11-23 10:00:00.000001 | from the agent", "no stamp \x1b[2J\x00 <script>"])
    console.close()
    first, second = (tmp_path / "out.txt").read_text().splitlines()
    assert first == "2026-11-23 10:00:00.000001 | from the agent"
    assert second.endswith("| no stamp \\x1b[2J\\x00 <script>")


def _repo(root: Path) -> tuple[Path, str]:
    repo = root / "repo"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README").write_text("hi\n")
    subprocess.run(["git", "add", "README"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "one"], cwd=repo, check=True, env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    return repo, sha.stdout.strip()


def test_the_jobs_of_one_commit_share_one_self_contained_archive(tmp_path: Path):
    repo, sha = _repo(tmp_path)
    archives = WorkspaceArchives()
    console = Console(tmp_path / "console.txt")
    paths = []
    for n in range(3):
        request = BuildRequest(job=FrozenJob(name=f"j{n}"), build_dir=tmp_path / f"b{n}", source=repo, ref=sha)
        paths.append(archives.acquire(request, tmp_path / "ws" / f"b{n}-1", console))
    assert paths[0] == paths[1] == paths[2]
    with tarfile.open(paths[0]) as tar:
        names = tar.getnames()
    assert "ws/README" in names
    assert "ws/.git/objects/info/alternates" not in names  # its objects are its own
    for path in paths:
        archives.release(path)
    assert paths[0].exists()  # kept for the next jobs of the same commit
    archives.KEEP = 0
    other = BuildRequest(job=FrozenJob(name="x"), build_dir=tmp_path / "bx", source=repo, ref=None)
    copy = archives.acquire(other, tmp_path / "ws" / "bx-1", console)
    assert copy != paths[0]
    archives.release(copy)
    assert not copy.exists()  # a copy of a working directory is never reused
    console.close()
