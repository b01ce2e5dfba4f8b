"""Projects and templates: job lists, overrides, order, project vars, pipeline names."""

from __future__ import annotations

import pytest

from osci.config import ConfigLookupError

CONFIG = """
- pipeline: {name: check}
- pipeline: {name: gate}
- job: {name: lint}
- job: {name: unit, vars: {a: 1, b: {c: 1}}}
- job: {name: docs, files: '^doc/'}
- job: {name: stable-job, branches: ^stable/}
- project-template:
    name: python
    check:
      jobs: [lint, unit]
- project:
    name: org/p
    templates: [python]
    merge-mode: squash-merge
    default-branch: main
    vars: {b: {d: 2}}
    check:
      jobs:
        - docs
        - unit: {voting: false, timeout: 60}
        - stable-job
        - lint:
            branches: ^main$
            attempts: 1
    gate:
      jobs: [unit]
"""


@pytest.fixture
def config(files):
    files.write("osci.yaml", CONFIG)
    return files.load()


def test_templates_then_project_in_definition_order(config) -> None:
    names = [j.name for j in config.project_jobs("org/p", "check", "main")]
    assert names == ["lint", "unit", "docs"]  # stable-job has no variant for main


def test_overrides_are_applied_as_a_last_variant(config) -> None:
    jobs = {j.name: j for j in config.project_jobs("org/p", "check", "main")}
    unit = jobs["unit"]
    assert (unit.voting, unit.timeout) == (False, 60)
    assert unit.inheritance[-1].startswith("unit (project override at ")
    assert jobs["lint"].attempts == 1  # the override's branches match main


def test_override_with_branches_applies_only_on_matching_branches(config) -> None:
    jobs = {j.name: j for j in config.project_jobs("org/p", "check", "stable/1")}
    assert jobs["lint"].attempts == 3
    assert list(jobs) == ["lint", "unit", "docs", "stable-job"]


def test_project_vars_win_over_job_vars(config) -> None:
    unit = config.project_jobs("org/p", "gate", "main")[0]
    assert unit.vars == {"a": 1, "b": {"c": 1, "d": 2}}
    assert unit.voting is True  # the check override does not leak into gate


def test_project_settings(config) -> None:
    settings = config.project_settings("org/p")
    assert (settings.merge_mode, settings.default_branch) == ("squash-merge", "main")
    assert config.project_pipelines("org/p") == ["check", "gate"]


def test_unknown_project_has_no_jobs_and_unknown_pipeline_is_an_error(config) -> None:
    assert config.project_jobs("other/project", "check", "main") == []
    with pytest.raises(ConfigLookupError, match="did you mean 'gate'"):
        config.project_jobs("org/p", "gat", "main")


def test_without_pipeline_objects_any_pipeline_key_is_accepted(files) -> None:
    files.write(".osci.yaml", "- job: {name: unit}\n- project:\n    nightly:\n      jobs: [unit]\n")
    config = files.load()
    assert [j.name for j in config.project_jobs(None, "nightly", None)] == ["unit"]


def test_merge_mode_is_checked(files, where) -> None:
    files.write("osci.yaml", "- project:\n    name: p\n    merge-mode: squash\n")
    assert where(files.errors(), "'squash' is not one of merge, merge-resolve") == [("osci.yaml", 3)]


def test_project_key_typo_is_suggested(files, where) -> None:
    files.write("osci.yaml", "- project:\n    name: p\n    template: [x]\n")
    assert where(files.errors(), "(did you mean 'templates'?)") == [("osci.yaml", 3)]


def test_several_stanzas_of_one_project_add_up(files) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: a}
        - job: {name: b}
        - project: {name: p, check: {jobs: [a]}}
        - project: {name: p, check: {jobs: [b]}}
        """,
    )
    assert [j.name for j in files.load().project_jobs("p", "check", "main")] == ["a", "b"]
