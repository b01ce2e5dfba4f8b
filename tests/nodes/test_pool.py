"""The node pool without SSH: leasing by label and capabilities, all-or-nothing multi-node leases,
node failures retried on another node, quarantine, halting and resuming a label, admin actions,
autohold, and the scheduler's fair share."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

from osci.config.providers import HostSpec, ProviderSpec
from osci.model import Attempt, FrozenJob, NodeRequest, Nodeset, Result, SourceLocation, Step
from osci.nodes import model as nm
from osci.nodes.model import Node
from osci.nodes.pool import NodePool
from osci.nodes.providers import NodeFailure, Provider
from osci.scheduler.core import Scheduler
from osci.scheduler.ports import BuildOrder
from osci.scheduler.state import ACTIVE, BuildState, ItemState

HERE = SourceLocation("test", 1)


class FakeProvider(Provider):
    """Nodes given by (name, label, capabilities); `broken` nodes fail every attempt."""

    def __init__(self, hosts: list[tuple[str, str, tuple[str, ...]]], **settings: object) -> None:
        super().__init__(ProviderSpec(name="fake", driver="static", location=HERE, **settings))
        self.hosts = hosts
        self.broken: set[str] = set()
        self.ran: list[str] = []
        self.healthy = True

    def nodes(self) -> list[Node]:
        return [Node(name=n, label=lbl, provider=self.name, capabilities=caps) for n, lbl, caps in self.hosts]

    def run_attempt(self, lease, setup):  # type: ignore[no-untyped-def]
        node = lease.primary.name
        if node in self.broken:
            raise NodeFailure(node, "the reset failed")
        self.ran.append(node)
        return Attempt(setup.number, Result.SUCCESS, 0.0, 0.0)

    async def probe(self, node: Node) -> str | None:
        return None if self.healthy and node.name not in self.broken else "still down"


def job(name: str = "j", *nodes: tuple[str, str, tuple[str, ...]], attempts: int = 3) -> FrozenJob:
    nodeset = Nodeset(nodes=tuple(NodeRequest(name=n, label=lbl, requires=caps) for n, lbl, caps in nodes))
    return FrozenJob(name=name, nodeset=nodeset, run=[Step(script="true")], attempts=attempts)


def item(project: str, *jobs: FrozenJob, pipeline: str = "check", at: float = 0.0) -> ItemState:
    it = ItemState(
        uuid=f"{project}-{at}", pipeline=pipeline, project=project, branch="main", ref=None, newrev=None
    )
    it.enqueue_time = at
    it.state = ACTIVE
    it.builds = {j.name: BuildState(uuid=f"{project}-{at}-{j.name}", job=j) for j in jobs}
    return it


def make_pool(tmp_path: Path, provider: FakeProvider) -> NodePool:
    return NodePool(
        [provider], build_dir=lambda uuid: tmp_path / "builds" / uuid, workspace_root=tmp_path / "ws"
    )


def waiting(*items: ItemState) -> list[tuple[ItemState, str]]:
    return [(i, name) for i in items for name in i.builds]


def test_builds_get_nodes_by_label_and_capabilities(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ("kvm",)), ("c", "other", ())])
    pool = make_pool(tmp_path, provider)
    kvm = item("p", job("kvm", ("n", "lab", ("kvm",))))
    plain = item("q", job("plain", ("n", "lab", ())))
    gpu = item("r", job("gpu", ("n", "lab", ("gpu",))))
    chosen = pool.select(waiting(kvm, plain, gpu))
    assert [i.project for i, _ in chosen] == ["p", "q", "r"]  # r: no node ever provides gpu
    assert pool._leases["p-0.0-kvm"].primary.name == "b"
    assert pool._leases["q-0.0-plain"].primary.name == "a"  # the plain node is kept for plain jobs
    assert "gpu" in pool._unservable["r-0.0-gpu"]
    assert pool.select(waiting(item("s", job("x", ("n", "lab", ()))))) == []  # lab is full


def test_multi_node_jobs_get_all_their_nodes_or_none(tmp_path: Path):
    provider = FakeProvider([(f"n{i}", "lab", ()) for i in range(3)])
    pool = make_pool(tmp_path, provider)
    two = job("two", ("a", "lab", ()), ("b", "lab", ()))
    first, second = item("p", two, at=1), item("q", two, at=2)
    chosen = pool.select(waiting(first, second))
    assert [i.project for i, _ in chosen] == ["p"]  # q would need 2 of the 1 left: it holds nothing
    assert sum(n.used for n in pool.nodes.values()) == 2
    single = item("r", job("one", ("a", "lab", ())), at=3)
    assert pool.select(waiting(second, single)) == []  # r does not take the node q waits for
    assert [i.project for i, _ in pool.select(waiting(single))] == ["r"]


def test_a_node_failure_retries_the_build_on_another_node_and_takes_the_node_out(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ())], quarantine_after=2)
    provider.broken.add("a")
    pool = make_pool(tmp_path, provider)
    it = item("p", job("j", ("n", "lab", ())))
    (tmp_path / "src").mkdir()

    async def go():
        await pool.start()
        assert pool.select(waiting(it))
        assert pool._leases[it.builds["j"].uuid].primary.name == "a"
        return await pool.run(BuildOrder(item=it, build=it.builds["j"], source=tmp_path / "src", ref=None))

    record = asyncio.run(go())
    assert record.result is Result.SUCCESS
    assert [(a.result, a.node) for a in record.attempts] == [(Result.ERROR, "a"), (Result.SUCCESS, "b")]
    assert "node a: the reset failed" in record.attempts[0].reason
    assert pool.nodes["a"].state == nm.OFFLINE and pool.nodes["b"].state == nm.READY
    assert pool.nodes["b"].used == 0 and not pool._leases
    # one more failure on a: quarantined (2 consecutive infrastructure errors)
    pool.node_failed(NodeFailure("a", "again"))
    assert pool.nodes["a"].state == nm.QUARANTINED
    pool.close()


def test_a_label_halts_when_too_many_nodes_fail_and_resumes(tmp_path: Path):
    provider = FakeProvider([(f"n{i}", "lab", ()) for i in range(4)], halt_above=0.5)
    pool = make_pool(tmp_path, provider)
    pool.node_failed(NodeFailure("n0", "down"))
    pool.node_failed(NodeFailure("n1", "down"))
    assert pool.halted == {}  # 2 of 4 is not more than half
    pool.node_failed(NodeFailure("n2", "down"))
    assert "3 of 4" in pool.halted["lab"]
    assert pool.select(waiting(item("p", job("j", ("n", "lab", ()))))) == []  # n3 is free, but halted
    pool.admin("n2", "release")
    assert pool.halted == {}
    assert pool.select(waiting(item("p", job("j", ("n", "lab", ())))))
    # an admin may resume a halted label; it halts again only once it was healthy
    pool.node_failed(NodeFailure("n2", "down"))
    assert "lab" in pool.halted
    assert pool.resume("lab") and pool.halted == {}


def test_offline_nodes_come_back_when_the_probe_answers(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ())], probe_interval=0.05)
    pool = make_pool(tmp_path, provider)

    async def go():
        await pool.start()
        provider.healthy = False
        pool.node_failed(NodeFailure("a", "down"))
        pool.node_failed(NodeFailure("b", "down"))
        assert "lab" in pool.halted
        await asyncio.sleep(0.2)
        assert pool.nodes["a"].state == nm.OFFLINE
        provider.healthy = True
        for _ in range(100):
            if pool.nodes["a"].state == nm.READY and pool.nodes["b"].state == nm.READY:
                break
            await asyncio.sleep(0.05)
        assert pool.halted == {}

    asyncio.run(go())
    pool.close()


def test_admin_states_keep_nodes_out_and_autohold_keeps_a_failed_builds_node(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ())])
    pool = make_pool(tmp_path, provider)
    pool.admin("a", "maintenance", "new disk")
    it = item("p", job("j", ("n", "lab", ())))
    pool.select(waiting(it))
    assert pool._leases[it.builds["j"].uuid].primary.name == "b"
    assert pool.snapshot()["nodes"][0]["state"] == "maintenance"
    assert pool.snapshot()["nodes"][1]["state"] == "in-use"
    pool.add_autohold("p", "j", count=1)
    runner = SimpleNamespace(failed=True, held=[])
    pool._finish(it.builds["j"].uuid, "p", "j", runner)  # type: ignore[arg-type]
    assert pool.nodes["b"].state == nm.HELD and "autohold" in pool.nodes["b"].detail
    assert pool.autoholds == [] and runner.held


def test_a_retry_waits_for_a_full_set_without_holding_part_of_one(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ())])
    pool = make_pool(tmp_path, provider)
    other = item("q", job("one", ("n", "lab", ())))
    pool.select(waiting(other))  # q holds one node
    requests = [NodeRequest("x", "lab"), NodeRequest("y", "lab")]
    got: list = []
    cancel = threading.Event()
    thread = threading.Thread(target=lambda: got.append(pool.reacquire("p", requests, cancel)))
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and sum(n.used for n in pool.nodes.values()) == 1  # p holds nothing meanwhile
    assert pool.select(waiting(item("r", job("one", ("n", "lab", ()))))) == []  # the retry goes first
    with pool._lock:
        pool._give_back(other.builds["one"].uuid)
    thread.join(5)
    assert got and got[0] is not None and len(got[0].nodes) == 2


def test_fair_share_round_robins_projects_within_a_precedence():
    config = SimpleNamespace(
        pipelines={
            "check": SimpleNamespace(name="check", precedence="normal"),
            "gate": SimpleNamespace(name="gate", precedence="high"),
        }
    )
    scheduler = Scheduler.__new__(Scheduler)
    scheduler.config = config
    scheduler.items = {}
    scheduler._served = {"big": 1}  # big got the last node
    scheduler.gate = SimpleNamespace(dispatchable=lambda item: True)
    flood = [item("big", job(f"j{n}"), at=n) for n in range(5)]
    small = item("small", job("s"), at=10)
    gate = item("gated", job("g"), pipeline="gate", at=20)
    for it in (*flood, small, gate):
        it.graph = SimpleNamespace(runnable=lambda done, running, names=list(it.builds): names)
        scheduler.items[it.uuid] = it
    order = [i.project for i, _ in scheduler._waiting_builds()]
    assert order == ["gated", "small", "big", "big", "big", "big", "big"]
    scheduler._served = {"big": 1, "small": 2}  # now small was served last: big's turn
    assert [i.project for i, _ in scheduler._waiting_builds()][:3] == ["gated", "big", "small"]


def test_the_default_local_pool_and_what_runs_jobs_without_a_nodeset(tmp_path: Path):
    build_dir = {"build_dir": lambda uuid: tmp_path / uuid}
    # no provider: one local pool runs every job, whatever its nodeset asks for
    pool = NodePool.from_specs([], slots=2, **build_dir)
    (local,) = pool.nodes.values()
    assert local.slots == 2 and local.label is None and not local.log_leases
    assert pool.select(waiting(item("p", job("a", ("n", "devstack", ())), job("b"))))
    assert local.used == 2
    # a static provider: its label goes to its hosts; jobs without a nodeset to implicit local slots
    static = ProviderSpec(name="lab", driver="static", location=HERE)
    static.hosts = [HostSpec(name="h", host="h.example.org", label="lab")]
    pool = NodePool.from_specs([static], slots=1, **build_dir)
    plain, labelled, other = (
        item("p", job("a")),
        item("q", job("b", ("n", "lab", ()))),
        item("r", job("c", ("n", "x", ()))),
    )
    assert len(pool.select(waiting(plain, labelled, other))) == 3
    assert pool._leases["p-0.0-a"].primary.provider == "local"
    assert pool._leases["q-0.0-b"].primary.name == "h"
    assert "label 'x'" in pool._unservable["r-0.0-c"]
    # a configured local provider with a label runs that label and jobs without a nodeset
    here = ProviderSpec(name="here", driver="local", location=HERE, slots=1, label="small")
    pool = NodePool.from_specs([here], **build_dir)
    assert [n.label for n in pool.nodes.values()] == ["small"]
    assert pool.select(waiting(item("p", job("a", ("n", "small", ())))))
    assert pool.select(waiting(item("q", job("b")))) == []  # its one slot is taken


def test_a_waiting_multi_node_build_is_not_starved_by_single_node_builds(tmp_path: Path):
    provider = FakeProvider([("a", "lab", ()), ("b", "lab", ())])
    pool = make_pool(tmp_path, provider)
    first = item("p", job("one", ("n", "lab", ())), at=1)
    pool.select(waiting(first))  # a is busy
    pair = item("q", job("two", ("x", "lab", ()), ("y", "lab", ())), at=2)
    single = item("r", job("one", ("n", "lab", ())), at=3)
    assert pool.select(waiting(pair, single)) == []  # b waits for the pair, not for r
    with pool._lock:
        pool._give_back(first.builds["one"].uuid)
    assert [i.project for i, _ in pool.select(waiting(pair, single))] == ["q"]
    # a nodeset bigger than its label can ever give is an error at once, not a wait forever
    three = item("s", job("three", ("x", "lab", ()), ("y", "lab", ()), ("z", "lab", ())))
    assert pool.select(waiting(three)) and "needs 3 nodes" in pool._unservable["s-0.0-three"]
