"""The dependent and serial managers on the real Scheduler, with in-memory ports and a simulated
clock (bench/gatesim.py): order, failures, the window, flaky builds, Depends-On, refused merges."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gatesim import Harness, Sim, make_pipeline  # noqa: E402
from osci.scheduler.gate import GateManager, GateQueue  # noqa: E402

CHANGES = [f"c{n}" for n in range(1, 9)]


def run(sim: Sim, slots: int = 4, changes: list[str] = CHANGES, **settings: object) -> Harness:
    harness = Harness(sim, make_pipeline(**settings), slots=slots)
    asyncio.run(harness.run(changes))
    return harness


def statuses(harness: Harness, changes: list[str], steps: int = 0) -> list[dict]:
    """The scheduler's status once the changes are enqueued, then after each of `steps` jumps
    of the clock to the next build end."""
    seen: list[dict] = []

    async def main() -> None:
        await harness.scheduler.start()
        for change in changes:
            await harness.submit(change)
        await harness.settle()
        seen.append(harness.scheduler.status())
        for _ in range(steps):
            harness.clock.advance()
            await harness.settle()
            harness.scheduler.wake()
            await harness.settle()
            seen.append(harness.scheduler.status())
        await harness.scheduler.stop()

    asyncio.run(main())
    return seen


@pytest.mark.parametrize("policy", ["zuul", "retry", "screen"])
def test_one_failing_change_the_others_merge_in_order(policy: str) -> None:
    sim = Sim(bad={"c3"})
    harness = run(sim, failure_policy=policy)
    assert sim.branch == [c for c in CHANGES if c != "c3"]
    assert harness.results()["c3"] == "FAILURE"
    assert all(result == "SUCCESS" for change, result in harness.results().items() if change != "c3")
    assert sim.untested_merges == 0  # every commit the branch got is one a passing build tested
    assert all(commit in sim.passed_commits for commit in sim.pushes)


@pytest.mark.parametrize("policy", ["zuul", "retry", "screen"])
def test_two_failures_and_a_failure_at_the_head(policy: str) -> None:
    sim = Sim(bad={"c1", "c5", "c6"})
    harness = run(sim, failure_policy=policy)
    assert sim.branch == ["c2", "c3", "c4", "c7", "c8"]
    assert {c for c, r in harness.results().items() if r == "FAILURE"} == {"c1", "c5", "c6"}
    assert sim.untested_merges == 0


def test_zuul_ejects_a_change_whose_build_flaked_osci_does_not() -> None:
    # c2's own build fails once for no reason of its own (the trees under c3.. pass)
    zuul = Sim(bad=set(), flaky={"base+c1+c2": 1})
    run(zuul, failure_policy="zuul")
    assert "c2" not in zuul.branch
    osci = Sim(bad=set(), flaky={"base+c1+c2": 1})
    harness = run(osci, failure_policy="retry")
    assert osci.branch == CHANGES  # c3's passing tree held c2: c2 merged with it
    assert harness.scheduler.gate.stats["retries"] == 0
    assert osci.untested_merges == 0


def test_osci_reruns_a_failure_once_before_ejecting() -> None:
    # a flake at the end of the queue: nothing behind it can prove it, so it is re-run
    sim = Sim(bad=set(), flaky={"base+c1+c2+c3+c4+c5+c6+c7+c8": 1})
    harness = run(sim, failure_policy="retry")
    assert sim.branch == CHANGES
    assert harness.scheduler.gate.stats["retries"] == 1
    # a real failure fails twice, then leaves
    sim = Sim(bad={"c8"})
    harness = run(sim, failure_policy="retry")
    assert sim.branch == CHANGES[:-1] and harness.results()["c8"] == "FAILURE"


def test_window_limits_what_runs_and_grows_and_shrinks() -> None:
    sim = Sim(bad=set())
    run(sim, slots=10, window=2, window_increase_factor=0, failure_policy="zuul")
    assert sim.peak_running == 2
    pipeline = make_pipeline(window=20)
    queue = GateQueue("gate", "q", 20)
    GateManager.shrink(queue, pipeline)  # exponential, factor 2
    assert queue.window == 10
    for _ in range(5):
        GateManager.shrink(queue, pipeline)
    assert queue.window == 3  # the floor
    GateManager.grow(queue, pipeline)  # linear, factor 1
    assert queue.window == 4
    capped = make_pipeline(window=20, window_ceiling=5, window_increase_type="exponential",
                           window_increase_factor=2)  # fmt: skip
    GateManager.grow(queue, capped)
    assert queue.window == 5
    linear = make_pipeline(window=20, window_decrease_type="linear", window_decrease_factor=1)
    GateManager.shrink(queue, linear)
    assert queue.window == 4


def test_window_shrinks_on_failure_in_the_real_queue() -> None:
    sim = Sim(bad={"c1"})
    harness = run(sim, window=8, failure_policy="zuul")
    assert 4 in harness.windows  # 8 halved when c1 failed, then grown by one per merge
    assert harness.windows[-1] == 4 + 7


def test_serial_tests_one_change_at_a_time() -> None:
    sim = Sim(bad={"c2"})
    harness = run(sim, slots=8, manager="serial", failure_policy="zuul")
    assert sim.peak_running == 1
    assert sim.branch == [c for c in CHANGES if c != "c2"]
    assert harness.clock.now == len(CHANGES) * sim.build_time
    assert sim.tested_commits >= {"base+c1", "base+c1+c3"}  # each on the branch as it then is


def test_depends_on_missing_dependency_keeps_the_change_out() -> None:
    sim = Sim(bad=set(), depends={"c2": ["c9"]})
    harness = run(sim, changes=["c1", "c2", "c3"])
    closed = {i.change: i for i in harness.closed}
    assert closed["c2"].result == "FAILURE"
    assert "neither merged nor in the gate queue" in closed["c2"].message
    assert sim.branch == ["c1", "c3"]


def test_depends_on_a_failing_change_leaves_with_it() -> None:
    sim = Sim(bad={"c1"}, depends={"c3": ["c1"]})
    harness = run(sim, changes=["c1", "c2", "c3", "c4"], failure_policy="zuul")
    closed = {i.change: i for i in harness.closed}
    assert closed["c3"].result == "FAILURE" and "depends on" in closed["c3"].message
    assert sim.branch == ["c2", "c4"]


def test_depends_on_a_change_ahead_is_tested_with_it() -> None:
    sim = Sim(bad=set(), depends={"c2": ["c1"]})
    run(sim, changes=["c1", "c2"])
    assert sim.branch == ["c1", "c2"]


def test_a_refused_merge_fails_the_change_and_the_rest_merge() -> None:
    sim = Sim(bad=set(), refuse={"c2"})
    harness = run(sim, changes=["c1", "c2", "c3"], failure_policy="zuul")
    closed = {i.change: i for i in harness.closed}
    assert closed["c2"].result == "FAILURE" and "could not merge" in closed["c2"].message
    assert sim.branch == ["c1", "c3"]
    assert sim.untested_merges == 0


def test_status_shows_place_ahead_and_window() -> None:
    sim = Sim(bad=set())
    harness = Harness(sim, make_pipeline(window=5, failure_policy="retry"), slots=2)
    seen = statuses(harness, ["c1", "c2", "c3"])
    (pipeline,) = seen[0]["pipelines"]
    (queue,) = pipeline["queues"]
    assert (queue["name"], queue["window"]) == ("p", 5)
    items = queue["items"]
    assert [i["place"] for i in items] == [1, 2, 3]
    assert items[0]["ahead"] is None
    assert items[2]["ahead"] == items[1]["id"]
    assert items[2]["ahead_changes"] == ["p change c1", "p change c2"]


def test_dequeue_of_a_gate_item_re_parents_the_items_behind() -> None:
    sim = Sim(bad=set())
    harness = Harness(sim, make_pipeline(failure_policy="zuul"), slots=4)

    async def dequeue_c2(h: Harness) -> None:
        live = {i.change: i for i in h.scheduler.items.values() if i.live}
        if "c2" in live and h.clock.now == 0:
            await h.scheduler.dequeue(item=live["c2"].uuid)

    asyncio.run(harness.run(["c1", "c2", "c3", "c4"], on_tick=dequeue_c2))
    assert sim.branch == ["c1", "c3", "c4"]
    assert sim.untested_merges == 0
    assert "base+c1+c3" in sim.passed_commits  # c3 was tested again without c2


def test_screen_probes_groups_and_merges_in_queue_order() -> None:
    changes = [f"c{n}" for n in range(1, 13)]
    sim = Sim(bad={"c3", "c10"})
    harness = run(sim, slots=4, changes=changes, failure_policy="screen")
    assert sim.branch == [c for c in changes if c not in ("c3", "c10")]  # in order, never a bad one
    assert {c for c, r in harness.results().items() if r != "SUCCESS"} == {"c3", "c10"}
    assert sim.untested_merges == 0 and all(commit in sim.passed_commits for commit in sim.pushes)
    assert "base+c1+c2+c3+c4" in sim.tested_commits  # the first probe: four changes on the tip
    assert "base+c3" in sim.tested_commits  # a failing group split down to the bad change alone
    assert "base+c1+c2+c4+c5+c6+c7+c8" not in sim.tested_commits  # c5..c8 passed their probe: covered


def test_screen_a_change_failing_alone_once_is_probed_again_not_ejected() -> None:
    sim = Sim(bad={"c2"}, flaky={"base+c1": 1})  # the group fails (c2), then c1 alone flakes once
    harness = run(sim, slots=4, changes=["c1", "c2"], failure_policy="screen")
    assert harness.results() == {"c2": "FAILURE", "c1": "SUCCESS"}
    assert sim.branch == ["c1"]
    closed = {i.change: i for i in harness.closed}
    assert "twice" in closed["c2"].message
    assert closed["c2"].builds  # its report lists the failing build of its probe


def test_screen_a_flaky_group_probe_costs_a_split_not_a_change() -> None:
    sim = Sim(bad=set(), flaky={"base+c1+c2+c3+c4": 1})
    harness = run(sim, slots=4, changes=["c1", "c2", "c3", "c4"], failure_policy="screen")
    assert sim.branch == ["c1", "c2", "c3", "c4"]
    assert all(r == "SUCCESS" for r in harness.results().values())
    assert {"base+c1+c2", "base+c3+c4"} <= sim.tested_commits


def test_screen_status_shows_probes_then_the_chain() -> None:
    sim = Sim(bad=set())
    harness = Harness(sim, make_pipeline(window=5), slots=4)  # screen: the default policy
    seen = statuses(harness, ["c1", "c2", "c3"], steps=1)  # the second after the probe passed
    (queue,) = seen[0]["pipelines"][0]["queues"]
    assert queue["failure_policy"] == "screen"
    assert [i["screen"] for i in queue["items"]] == ["screening"] * 3
    (probe,) = queue["probes"]
    assert probe["changes"] == ["p change c1", "p change c2", "p change c3"]
    assert probe["commits"] == {"p": "base+c1+c2+c3"}
    (queue,) = seen[1]["pipelines"][0]["queues"]
    items = queue["items"]
    assert [i["screen"] for i in items] == ["good"] * 3 and not queue["probes"]
    assert items[2]["ahead_changes"] == ["p change c1", "p change c2"]
    assert [j["state"] for j in items[2]["jobs"]] == ["running"]  # the deepest builds...
    assert [j["state"] for j in items[0]["jobs"]] == ["waiting"]  # ...and covers the items under it


def test_screen_group_size_follows_the_measured_failure_rate() -> None:
    queue = GateQueue("gate", "q", 20)
    assert GateManager.group_size(queue) == 4  # the 10% prior
    queue.screened, queue.bad = 200, 2
    assert GateManager.group_size(queue) >= 8
    queue.screened, queue.bad = 100, 45
    assert GateManager.group_size(queue) == 1  # failing that often: one at a time
