import pytest

from osci.model import FrozenJob, Result
from osci.scheduler.jobgraph import JobGraph, JobGraphError


def job(name: str, *deps: str) -> FrozenJob:
    return FrozenJob(name=name, dependencies=list(deps))


def test_runnable_respects_dependencies_and_order():
    graph = JobGraph.build([job("lint"), job("unit"), job("deploy", "lint", "unit")])
    assert graph.runnable({}) == ["lint", "unit"]
    assert graph.runnable({}, started=["lint"]) == ["unit"]
    assert graph.runnable({"lint": Result.SUCCESS}, started=["unit"]) == []
    assert graph.runnable({"lint": Result.SUCCESS, "unit": Result.SUCCESS}) == ["deploy"]


def test_failed_dependency_skips_dependents_transitively():
    graph = JobGraph.build([job("a"), job("b", "a"), job("c", "b")])
    done = {"a": Result.FAILURE}
    assert graph.to_skip(done) == {"b": "dependency a ended FAILURE"}
    done["b"] = Result.SKIPPED
    assert graph.to_skip(done) == {"c": "dependency b ended SKIPPED"}


def test_dependencies_are_pulled_in_through_resolve():
    known = {"a": job("a"), "b": job("b", "a")}
    graph = JobGraph.build([job("c", "b")], resolve=known.__getitem__)
    assert set(graph.jobs) == {"a", "b", "c"}


def test_unknown_dependency_without_resolve_is_an_error():
    with pytest.raises(JobGraphError, match="depends on b"):
        JobGraph.build([job("a", "b")])


def test_cycle_is_an_error():
    with pytest.raises(JobGraphError, match="cyclic"):
        JobGraph.build([job("a", "b"), job("b", "a")])
