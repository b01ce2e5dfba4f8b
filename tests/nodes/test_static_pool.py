"""The static provider against real sshd hosts, through the node pool (no server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from osci.config import load_config
from osci.model import FrozenJob, NodeRequest, Nodeset, Result, Step
from osci.nodes import model as nm
from osci.nodes.pool import NodePool
from osci.scheduler.ports import BuildOrder
from osci.scheduler.state import ACTIVE, BuildState, ItemState

from .sshhosts import Lab


def pool_for(lab: Lab, tmp_path: Path, **settings: object) -> NodePool:
    (tmp_path / "osci.yaml").write_text(lab.provider_yaml(**settings))
    config = load_config(tmp_path / "osci.yaml")
    specs = [p.spec for p in config.providers.values()]
    return NodePool.from_specs(
        specs, slots=1, build_dir=lambda u: tmp_path / "builds" / u, workspace_root=tmp_path / "ws"
    )


def one_item(job: FrozenJob, n: int = 0) -> ItemState:
    item = ItemState(uuid=f"i{n}", pipeline="check", project="p", branch="main", ref=None, newrev=None)
    item.state = ACTIVE
    item.builds = {job.name: BuildState(uuid=f"b{n}", job=job)}
    return item


def test_a_build_runs_on_a_host_and_its_results_come_back(make_lab, tmp_path: Path):
    lab = make_lab(2)
    source = tmp_path / "src"
    source.mkdir()
    (source / "check.sh").write_text("#!/bin/bash\necho checking on $OSCI_TEST_HOST\n")
    (source / "check.sh").chmod(0o755)
    job = FrozenJob(
        name="j",
        nodeset=Nodeset(nodes=(NodeRequest("main", "lab"),)),
        run=[
            Step(path="check.sh"),
            Step(
                script='echo "<testsuite><testcase name=\\"t\\"/></testsuite>" > '
                "out/junit.xml; echo log > $OSCI_LOG_DIR/l.txt; "
                "echo a > $OSCI_ARTIFACTS/a.txt; echo node=$OSCI_NODE"
            ),
        ],
        pre_run=[Step(script="mkdir -p out")],
        test_results=["**/junit.xml"],
    )
    pool = pool_for(lab, tmp_path, reset="'echo resetting $OSCI_TEST_HOST'")
    item = one_item(job)

    async def go():
        await pool.start()
        assert pool.select([(item, "j")])
        return await pool.run(BuildOrder(item=item, build=item.builds["j"], source=source, ref=None))

    record = asyncio.run(go())
    pool.close()
    build_dir = tmp_path / "builds" / "b0"
    output = (build_dir / "job-output.txt").read_text()
    assert record.result is Result.SUCCESS, output
    assert "checking on h0" in output and "resetting h0" in output and "node=h0" in output
    assert [t.name for t in record.tests] == ["t"]
    assert (build_dir / "logs" / "l.txt").read_text() == "log\n"
    assert record.artifacts == ["a.txt"]
    assert not list((lab.root / "remote").iterdir())  # nothing left on the host


def test_a_failing_reset_takes_the_node_out_and_the_build_moves(make_lab, tmp_path: Path):
    lab = make_lab(2)
    source = tmp_path / "src"
    source.mkdir()
    broken = tmp_path / "broken-h0"
    broken.touch()
    job = FrozenJob(
        name="j",
        nodeset=Nodeset(nodes=(NodeRequest("main", "lab"),)),
        run=[Step(script="echo ran on $OSCI_NODE")],
    )
    pool = pool_for(lab, tmp_path, reset=f"'test ! -e {tmp_path}/broken-$OSCI_TEST_HOST'")
    item = one_item(job)

    async def go():
        await pool.start()
        assert pool.select([(item, "j")])
        return await pool.run(BuildOrder(item=item, build=item.builds["j"], source=source, ref=None))

    record = asyncio.run(go())
    pool.close()
    assert [(a.result, a.node) for a in record.attempts] == [(Result.ERROR, "h0"), (Result.SUCCESS, "h1")]
    assert record.result is Result.SUCCESS
    assert "reset failed" in record.attempts[0].reason
    assert pool.nodes["h0"].state == nm.OFFLINE
