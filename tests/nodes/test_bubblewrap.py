"""`sandbox: bubblewrap` on a local provider: each step in a real `bwrap` (skipped, saying why,
where bwrap is missing or cannot create namespaces)."""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
import uuid
from pathlib import Path

import pytest

from osci.config import ConfigErrors, load_config
from osci.model import BuildRecord, FrozenJob, Result, Step
from osci.nodes import model as nm
from osci.nodes import sandbox
from osci.nodes.pool import NodePool
from osci.scheduler.ports import BuildOrder
from osci.scheduler.state import ACTIVE, BuildState, ItemState

from .conftest import wait_for

CONFIG = """
- provider:
    name: here
    driver: local
    slots: 1
    probe-interval: 0.2
    sandbox: bubblewrap
"""


@pytest.fixture
def bwrap() -> None:
    problem = sandbox.bwrap_problem()
    if problem is not None:
        pytest.skip(f"no bubblewrap sandbox here: {problem}")


def make_pool(tmp_path: Path) -> NodePool:
    (tmp_path / "osci.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "osci.yaml")
    specs = [p.spec for p in config.providers.values()]
    return NodePool.from_specs(specs, build_dir=lambda u: tmp_path / "builds" / u, workspace_root=tmp_path / "ws")


def run_job(pool: NodePool, source: Path, job: FrozenJob) -> BuildRecord:
    item = ItemState(uuid="i0", pipeline="check", project="p", branch="main", ref=None, newrev=None)
    item.state = ACTIVE
    item.builds = {job.name: BuildState(uuid="b0", job=job)}

    async def go() -> BuildRecord:
        await pool.start()
        assert pool.select([(item, job.name)])
        return await pool.run(BuildOrder(item=item, build=item.builds[job.name], source=source, ref=None))

    try:
        return asyncio.run(go())
    finally:
        pool.close()


def output(tmp_path: Path) -> str:
    return (tmp_path / "builds" / "b0" / "job-output.txt").read_text()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "no-shebang.sh").write_text("echo no shebang, still runs\n")
    (folder / "no-shebang.sh").chmod(0o755)
    return folder


def test_steps_run_in_a_sandbox(bwrap, tmp_path: Path, source: Path):
    mark = f"osci-bwrap-{uuid.uuid4().hex}"
    outside = Path.home() / mark  # outside the workspace and build dir: read-only in the sandbox
    job = FrozenJob(
        name="j",
        run=[
            Step(
                script=f'echo "init: $(tr "\\0" " " < /proc/1/cmdline)"\n'
                "echo in-workspace > made-here.txt && echo log > $OSCI_LOG_DIR/l.txt\n"
                f"touch /tmp/{mark} && echo private-tmp-ok\n"
                f"if touch {outside} 2>/dev/null; then echo WROTE-OUTSIDE; else echo outside-is-read-only; fi\n"
                f"if [ -e /proc/{os.getpid()} ]; then echo SEES-THE-SERVER; fi\n"
            ),
            Step(path="no-shebang.sh"),
        ],
    )
    record = run_job(make_pool(tmp_path), source, job)
    text = output(tmp_path)
    assert record.result is Result.SUCCESS, text
    assert re.search(r"init: \S*bwrap --ro-bind / / ", text)  # its own PID namespace, bwrap as init
    assert "private-tmp-ok" in text and not Path(f"/tmp/{mark}").exists()
    assert "| outside-is-read-only\n" in text and not outside.exists()
    assert "| SEES-THE-SERVER\n" not in text
    assert "no shebang, still runs" in text
    assert (tmp_path / "builds" / "b0" / "logs" / "l.txt").read_text() == "log\n"


def test_a_timeout_kills_the_sandboxed_step_and_its_daemons(bwrap, tmp_path: Path, source: Path):
    tag = str(1000000 + uuid.uuid4().int % 1000000)  # a sleep no other process runs
    job = FrozenJob(name="j", run=[Step(script=f"sleep {tag} & echo started; sleep 300")], timeout=1)
    record = run_job(make_pool(tmp_path), source, job)
    assert record.result is Result.TIMED_OUT, output(tmp_path)
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"sleep\0{tag}".encode() in cmdline:
                left.append(entry.name)
    assert left == []


def test_a_sandbox_that_cannot_start_is_an_infrastructure_error(bwrap, tmp_path: Path, source: Path,
                                                                monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    """bwrap refusing to make a sandbox (as where namespaces are forbidden) would make every
    step exit 1: that must be ERROR and the node offline, not a test failure."""
    pool = make_pool(tmp_path)  # loaded with the real bwrap
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    job = FrozenJob(name="j", run=[Step(script="echo ran")], attempts=2)
    item = ItemState(uuid="i0", pipeline="check", project="p", branch="main", ref=None, newrev=None)
    item.state = ACTIVE
    item.builds = {"j": BuildState(uuid="b0", job=job)}
    [node] = pool.nodes.values()

    async def go() -> BuildRecord:
        await pool.start()
        assert pool.select([(item, "j")])
        running = asyncio.create_task(
            pool.run(BuildOrder(item=item, build=item.builds["j"], source=source, ref=None))
        )
        await asyncio.to_thread(wait_for, lambda: node.state == nm.OFFLINE, 30, what="the node offline")
        monkeypatch.setenv("PATH", os.environ["PATH"].split(":", 1)[1])  # bwrap works again
        return await running

    try:
        record = asyncio.run(go())
    finally:
        pool.close()
    assert [a.result for a in record.attempts] == [Result.ERROR, Result.SUCCESS], output(tmp_path)
    assert "No permissions to create new namespace" in record.attempts[0].reason
    assert node.state == nm.READY


def test_a_missing_bwrap_stops_the_configuration_from_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sandbox._bwrap_problem_cached.cache_clear()
    (tmp_path / "osci.yaml").write_text(textwrap.dedent(CONFIG).lstrip())
    try:
        with pytest.raises(ConfigErrors) as caught:
            load_config(tmp_path / "osci.yaml")
    finally:
        sandbox._bwrap_problem_cached.cache_clear()
    text = str(caught.value)
    assert "osci.yaml:6" in text and "'sandbox: bubblewrap': `bwrap` is not installed" in text


def test_an_unknown_sandbox_is_refused(tmp_path: Path):
    (tmp_path / "osci.yaml").write_text(CONFIG.replace("bubblewrap", "firejail").lstrip())
    with pytest.raises(ConfigErrors) as caught:
        load_config(tmp_path / "osci.yaml")
    assert "osci.yaml:6" in str(caught.value) and "bubblewrap" in str(caught.value)
