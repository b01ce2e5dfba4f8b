"""In-repo configuration on top of a central one."""

from __future__ import annotations

import pytest

from osci.config import ConfigErrors

CENTRAL = """
- pipeline: {name: check}
- connection: {name: upstream, driver: gerrit}
- job: {name: base, pre-run: setup.sh, timeout: 100}
- job: {name: locked, final: true}
- project:
    name: org/p
    check:
      jobs: [base]
"""


@pytest.fixture
def central(files):
    files.write("central/osci.yaml", CENTRAL)
    return files.load("central/osci.yaml")


def test_in_repo_adds_jobs_variants_and_project_pipelines(files, central) -> None:
    files.write(
        "repo/.osci.yaml",
        """
        - job: {name: base, timeout: 200}
        - job: {name: unit, parent: base, run: unit.sh}
        - project:
            check:
              jobs: [unit]
        """,
    )
    repo = files.load("repo/.osci.yaml")
    merged = central.merged_with(repo, project="org/p")
    assert merged.freeze_job("base").timeout == 200  # a new variant, applied after the central one
    jobs = merged.project_jobs("org/p", "check", "main")
    assert [j.name for j in jobs] == ["base", "unit"]
    assert [s.label for s in jobs[1].pre_run] == ["setup.sh"]
    assert central.freeze_job("base").timeout == 100  # the central configuration is unchanged
    assert "unit" not in central.jobs


def test_in_repo_may_not_define_pipelines_connections_secrets_providers(files, central, where) -> None:
    files.write(
        "repo/.osci.yaml",
        """
        - pipeline: {name: mine}
        - connection: {name: c, driver: git}
        - secret: {name: s, data: {k: v}}
        - provider: {name: p, driver: static}
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        central.merged_with(files.load("repo/.osci.yaml"))
    errors = [(e.location.line, e.message) for e in info.value.errors]
    assert [line for line, _ in errors] == [1, 2, 3, 4]
    assert all("cannot be defined in in-repo configuration" in message for _, message in errors)


def test_in_repo_errors_are_checked_against_the_central_configuration(files, central) -> None:
    files.write(
        "repo/.osci.yaml",
        """
        - job: {name: locked, voting: false}
        - job: {name: unit, parent: base}
        - project:
            chek:
              jobs: [unit]
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        central.merged_with(files.load("repo/.osci.yaml", check_references=False), project="org/p")
    found = {(e.location.file.split("/")[-1], e.location.line): e.message for e in info.value.errors}
    assert "is final" in found[(".osci.yaml", 1)]
    assert "unknown pipeline 'chek' (did you mean 'check'?)" in found[(".osci.yaml", 4)]


def test_in_repo_configuration_alone_can_skip_reference_checks(files, central) -> None:
    files.write("repo/.osci.yaml", "- job: {name: unit, parent: base}\n")
    with pytest.raises(ConfigErrors, match="parent job 'base' is not defined"):
        files.load("repo/.osci.yaml")
    repo = files.load("repo/.osci.yaml", check_references=False)
    assert central.merged_with(repo).freeze_job("unit").timeout == 100
