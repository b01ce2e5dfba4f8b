"""Inheritance and variants with Zuul's semantics."""

from __future__ import annotations

import pytest

from osci.config import ConfigLookupError, ConfiguredJob
from osci.model import FrozenJob

CONFIG = """
- job:
    name: base
    abstract: true
    pre-run: base-pre.sh
    post-run: base-post.sh
    run: base-run.sh
    timeout: 100
    vars: {db: {user: root, port: 1}, shared: base}
    tags: [base]
    test-results: ['**/junit*.xml']
    nodeset: {nodes: [{name: ctl, label: ubuntu, requires: [gpu]}]}
- job:
    name: unit
    parent: base
    pre-run: [unit-pre.sh, {script: "echo setup"}]
    post-run: unit-post.sh
    run: unit-run.sh
    vars: {db: {port: 2}, unit: true}
    tags: [unit, base]
    test-results: ['out/*.xml']
    dependencies: [{name: lint, soft: true}, build]
- job:
    name: unit
    branches: ^stable/
    timeout: 300
    vars: {db: {port: 3}}
- job:
    name: unit
    branches: ^main$
    voting: false
- job: {name: lint}
- job: {name: build}
"""


@pytest.fixture
def config(files):
    files.write("osci.yaml", CONFIG)
    return files.load()


def test_frozen_job_is_a_model_frozen_job(config) -> None:
    job = config.freeze_job("unit", "main")
    assert isinstance(job, FrozenJob)
    assert isinstance(job, ConfiguredJob)


def test_pre_run_accumulates_parent_first_post_run_child_first(config) -> None:
    job = config.freeze_job("unit", "main")
    assert [s.label for s in job.pre_run] == ["base-pre.sh", "unit-pre.sh", "script: echo setup"]
    assert [s.label for s in job.post_run] == ["unit-post.sh", "base-post.sh"]
    assert [s.label for s in job.run] == ["unit-run.sh"]  # run replaces


def test_vars_deep_merge_child_wins(config) -> None:
    assert config.freeze_job("unit", "main").vars == {
        "db": {"user": "root", "port": 2},
        "shared": "base",
        "unit": True,
    }
    assert config.freeze_job("unit", "stable/1.0").vars["db"] == {"user": "root", "port": 3}


def test_unions_and_overrides(config) -> None:
    job = config.freeze_job("unit", "stable/1.0")
    assert job.tags == ["base", "unit"]
    assert job.test_results == ["**/junit*.xml", "out/*.xml"]
    assert job.timeout == 300
    assert job.voting is True
    assert job.dependencies == ["lint", "build"]
    assert job.soft_dependencies == ["lint"]
    assert job.nodeset.nodes[0].requires == ("gpu",)
    assert job.abstract is False  # abstract is not inherited
    assert job.parent == "base"


def test_variants_selected_by_branch_in_definition_order(config) -> None:
    main = config.freeze_job("unit", "main")
    assert main.voting is False
    assert main.timeout == 100
    assert [entry.split(" (")[0] for entry in main.inheritance] == ["base", "unit", "unit"]
    assert main.inheritance[-1].endswith(":27)")
    stable = config.freeze_job("unit", "stable/2")
    assert stable.inheritance[-1].endswith(":22)")


def test_inheritance_names_file_and_line(config, files) -> None:
    job = config.freeze_job("unit", "feature")
    path = files.root / "osci.yaml"
    assert job.inheritance == [f"base (job at {path}:1)", f"unit (job at {path}:12)"]
    assert str(job.provenance["timeout"]) == f"{path}:7:14"


def test_abstract_job_does_not_run(config) -> None:
    assert config.freeze_job("base").abstract is True
    match = config.match("base", "main", None)
    assert not match.runs
    assert "abstract" in match.reasons[0]


def test_later_variant_of_own_job_order(files) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: a, pre-run: one.sh, post-run: one-post.sh}
        - job: {name: a, pre-run: two.sh, post-run: two-post.sh}
        """,
    )
    job = files.load().freeze_job("a")
    assert [s.label for s in job.pre_run] == ["one.sh", "two.sh"]
    assert [s.label for s in job.post_run] == ["two-post.sh", "one-post.sh"]


def test_named_nodeset_is_resolved(files) -> None:
    files.write(
        "osci.yaml",
        "- nodeset: {name: pair, nodes: [{name: a, label: x}, {name: b, label: y}]}\n- job: {name: j, nodeset: pair}\n",
    )
    nodeset = files.load().freeze_job("j").nodeset
    assert nodeset.name == "pair"
    assert [n.name for n in nodeset.nodes] == ["a", "b"]


def test_defaults(files) -> None:
    files.write("osci.yaml", "- job: {name: j}\n")
    job = files.load().freeze_job("j")
    assert (job.attempts, job.voting, job.timeout, job.parent) == (3, True, None, None)


def test_unknown_job_lookup_suggests(config) -> None:
    with pytest.raises(ConfigLookupError, match="did you mean 'unit'"):
        config.freeze_job("uni")
