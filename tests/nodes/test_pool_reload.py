"""A reload reconfigures the running node pool (NodePool.reconfigure) with real providers: static
hosts added, removed and changed (no SSH needed: no build runs on them), a local provider removed
while a real build runs on it, agents whose provider or label a reload removes."""

from __future__ import annotations

import asyncio
import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from osci.config import load_config
from osci.config.providers import ProviderSpec
from osci.model import FrozenJob, NodeRequest, Nodeset, Result, Step
from osci.nodes import model as nm
from osci.nodes.pool import NodePool
from osci.nodes.providers.agent import AgentError, AgentProvider
from osci.scheduler.ports import BuildOrder
from osci.scheduler.state import ACTIVE, BuildState, ItemState

from .conftest import wait_for

HOST = socket.gethostname()


def specs(tmp_path: Path, text: str) -> list[ProviderSpec]:
    path = tmp_path / "osci.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return [p.spec for p in load_config(path).providers.values()]


def make_pool(tmp_path: Path, text: str, events: list[tuple[str, str, str]] | None = None) -> NodePool:
    async def record(node: dict[str, Any], event: str, detail: str) -> None:
        if events is not None:
            events.append((node["name"], event, detail))

    return NodePool.from_specs(
        specs(tmp_path, text), slots=1, build_dir=lambda u: tmp_path / "builds" / u,
        workspace_root=tmp_path / "ws", record=record,
    )  # fmt: skip


def lab(*hosts: str, **settings: object) -> str:
    lines = ["- provider:", "    name: lab", "    driver: static"]
    lines += [f"    {key.replace('_', '-')}: {value}" for key, value in settings.items()]
    lines.append("    hosts:")
    for host in hosts:
        name, _, label = host.partition("/")
        lines.append(f"      - {{name: {name}, host: 10.0.0.{name[1:]}, label: {label or 'lab'}}}")
    return "\n".join(lines) + "\n"


def item_for(job: FrozenJob, n: int = 0) -> ItemState:
    item = ItemState(uuid=f"i{n}", pipeline="check", project="p", branch="main", ref=None, newrev=None)
    item.state = ACTIVE
    item.builds = {job.name: BuildState(uuid=f"b{n}", job=job)}
    return item


def test_a_reload_adds_removes_and_changes_static_hosts_keeping_admin_states(tmp_path: Path):
    events: list[tuple[str, str, str]] = []
    pool = make_pool(tmp_path, lab("h0", "h1", "h2", halt_above=0.5), events)

    async def go() -> None:
        await pool.start()
        pool.admin("h0", "quarantine", "bad disk")
        pool.admin("h1", "maintenance", "new card")
        assert pool.halted == {}  # 1 of 3 out of service
        changes = await pool.reconfigure(
            specs(tmp_path, lab("h0", "h1/gpu", "h3", halt_above=0.5, reset="./clean.sh"))
        )
        assert changes == ["lab: reset, +h3, -h2, ~h1"]
        assert sorted(pool.nodes) == ["h0", "h1", "h3", f"local:{HOST}"]  # and the implicit local one
        assert (pool.nodes["h0"].state, pool.nodes["h1"].state) == (nm.QUARANTINED, nm.MAINTENANCE)  # kept
        assert pool.nodes["h1"].label == "gpu" and pool.providers["lab"].spec.reset == "./clean.sh"
        assert pool.halted == {}  # lab: h0 (quarantined) and h3: 1 of 2 is not more than half
        # the halt is judged again with the new threshold, then once the quarantined host is gone
        assert await pool.reconfigure(
            specs(tmp_path, lab("h0", "h1/gpu", "h3", halt_above=0.3, reset="./clean.sh"))
        ) == ["lab: halt-above 0.5 → 0.3"]
        assert "1 of 2" in pool.halted["lab"]
        assert await pool.reconfigure(
            specs(tmp_path, lab("h1/gpu", "h3", halt_above=0.3, reset="./clean.sh"))
        ) == ["lab: -h0"]
        assert pool.halted == {}
        # a host that comes back finds the state an admin left it in
        await pool.reconfigure(specs(tmp_path, lab("h0", "h1/gpu", "h3", halt_above=0.9, reset="./clean.sh")))
        assert pool.nodes["h0"].state == nm.QUARANTINED
        # the same configuration again (written elsewhere in the file): nothing changes
        moved = "# a comment\n" + lab("h0", "h1/gpu", "h3", halt_above=0.9, reset="./clean.sh")
        assert await pool.reconfigure(specs(tmp_path, moved)) == []
        await asyncio.sleep(0.05)  # the node events are recorded on the loop

    try:
        asyncio.run(go())
    finally:
        pool.close()
    assert ("h2", "deregistered", "removed from provider lab by a reload") in events
    assert any(e[:2] == ("h3", "registered") and "added to provider lab by a reload" in e[2] for e in events)
    assert ("h1", "updated", "provider lab changed by a reload") in events


def test_a_removed_provider_lets_its_running_build_finish_then_its_node_leaves(tmp_path: Path):
    events: list[tuple[str, str, str]] = []
    small = "- provider: {name: small, driver: local, slots: 1, label: small}\n"
    other = "- provider: {name: other, driver: local, slots: 1, label: other}\n"
    pool = make_pool(tmp_path, small, events)
    (tmp_path / "src").mkdir()
    script = f"touch {tmp_path}/started; while [ ! -f {tmp_path}/go ]; do sleep 0.05; done; exit 3"
    job = FrozenJob(
        name="j", nodeset=Nodeset(nodes=(NodeRequest("main", "small"),)), run=[Step(script=script)]
    )
    node = f"small:{HOST}"

    async def go() -> None:
        await pool.start()
        first = item_for(job)
        assert pool.select([(first, "j")])
        order = BuildOrder(item=first, build=first.builds["j"], source=tmp_path / "src", ref=None)
        running = asyncio.create_task(pool.run(order))
        await asyncio.to_thread(wait_for, (tmp_path / "started").exists, 30, what="the build to start")
        changes = await pool.reconfigure(specs(tmp_path, other))
        assert changes == [f"providers: +other, -small ({node} draining)"]
        assert pool.nodes[node].draining and pool.nodes[node].used == 1
        second = item_for(job, 1)
        assert pool.select([(second, "j")]) == []  # the draining node takes no new build
        (tmp_path / "go").touch()
        record = await running
        assert record.result is Result.FAILURE  # its real result, on the node it started on
        assert [(a.result, a.node) for a in record.attempts] == [(Result.FAILURE, node)]
        assert node not in pool.nodes and pool._retired == []
        assert pool.select([(second, "j")])  # no node will ever serve `small` now: it ends as ERROR
        assert "no provider has a node for label 'small'" in pool._unservable["b1"]
        await asyncio.sleep(0.05)

    try:
        asyncio.run(go())
    finally:
        pool.close()
    mine = [(event, detail) for name, event, detail in events if name == node]
    assert ("draining", "provider small removed by a reload: leaves once its builds are done") in mine
    assert mine[-1] == ("deregistered", "provider small removed by a reload")


def test_a_reload_changes_local_slots_and_label(tmp_path: Path):
    pool = make_pool(tmp_path, "- provider: {name: here, driver: local, slots: 1, label: small}\n")

    async def go() -> None:
        await pool.start()
        changes = await pool.reconfigure(
            specs(tmp_path, "- provider: {name: here, driver: local, slots: 3, label: big}\n")
        )
        assert changes == [f"here: slots 1 → 3, label, ~here:{HOST}"]
        node = pool.nodes[f"here:{HOST}"]
        assert (node.slots, node.label, node.state) == (3, "big", nm.READY)

    try:
        asyncio.run(go())
    finally:
        pool.close()


def test_agents_whose_provider_or_label_a_reload_removes_are_refused(tmp_path: Path):
    two = """
    - provider:
        name: agents
        driver: agent
        heartbeat-timeout: 30
        labels: [{name: lab}, {name: gpu}]
    """
    pool = make_pool(tmp_path, two)

    async def go() -> None:
        await pool.start()
        provider = pool.providers["agents"]
        assert isinstance(provider, AgentProvider)
        a1 = provider.register("a1", "lab", [], 1, "here", "test")
        b1 = provider.register("b1", "gpu", [], 1, "here", "test")
        assert {"a1", "b1"} <= set(pool.nodes)
        changes = await pool.reconfigure(
            specs(tmp_path, two.replace("{name: lab}, ", "").replace("30", "60"))
        )
        assert changes == ["agents: labels, heartbeat-timeout 30.0 → 60.0, -a1"]
        assert "a1" not in pool.nodes and "b1" in pool.nodes and provider.timeout == 60
        with pytest.raises(AgentError) as refused:
            await provider.poll("a1", a1["session"], [], False, 0)
        assert refused.value.status == 409  # register again ...
        with pytest.raises(AgentError) as refused:
            provider.register("a1", "lab", [], 1, "here", "test")
        assert refused.value.status == 403  # ... and this provider no longer takes `lab`
        assert (await provider.poll("b1", b1["session"], [], False, 0))["work"] == []
        # the provider removed: its idle agent leaves, and no agent may register with it
        changes = await pool.reconfigure([])
        assert changes == ["providers: -agents", f"local: ~local:{HOST}"]  # local now runs every job
        assert "b1" not in pool.nodes
        with pytest.raises(AgentError) as refused:
            await provider.poll("b1", b1["session"], [], False, 0)
        assert refused.value.status == 409
        with pytest.raises(AgentError) as refused:
            provider.register("b1", "gpu", [], 1, "here", "test")
        assert refused.value.status == 403 and "removed from the configuration" in str(refused.value)

    try:
        asyncio.run(go())
    finally:
        pool.close()
