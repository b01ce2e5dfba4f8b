"""What the dashboard learns from a real loaded configuration: job definitions and why they
run, project settings, breaking pipelines and the summary; never a secret's value."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from osci.config import Config, load_config
from osci.server import config_info

CONFIG = r"""
- connection: {name: upstream, driver: gerrit, server: review.example.org}
- secret:
    name: pypi
    data: {token: pypi-s3cr3t-token}
- pipeline:
    name: check
    manager: independent
    trigger:
      upstream:
        - event: patchset-created
- pipeline:
    name: gate
    manager: dependent
    precedence: high
    trigger:
      upstream:
        - event: comment-added
- pipeline:
    name: post
    trigger:
      upstream:
        - event: ref-updated
- pipeline:
    name: periodic
    trigger:
      timer:
        - event: timer
- job:
    name: base
    abstract: true
    run: run.sh
- job:
    name: unit
    parent: base
    files: ['^src/']
    vars: {upload: pypi-s3cr3t-token, level: 3}
- job:
    name: unit
    branches: ['^stable/']
    timeout: 60
- job:
    name: lint
    parent: base
- project-template:
    name: python
    check:
      jobs: [lint]
- project:
    name: org/demo
    default-branch: develop
    merge-mode: squash-merge
    templates: [python]
    check:
      jobs:
        - unit
    gate:
      jobs:
        - unit: {irrelevant-files: ['^docs/']}
        - lint: {branches: ['^main$']}
- project:
    name: org/other
    templates: [python]
"""


def _line(text: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line of CONFIG that reads `text` (stripped)."""
    lines = [
        n
        for n, line in enumerate(textwrap.dedent(CONFIG).lstrip("\n").splitlines(), 1)
        if line.strip() == text
    ]
    return lines[occurrence - 1]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "run.sh").write_text("#!/bin/sh\ntrue\n")
    path = tmp_path / "osci.yaml"
    path.write_text(textwrap.dedent(CONFIG).lstrip("\n"))
    return load_config(path, project_dir=tmp_path)


def test_job_info_says_where_and_why_a_job_runs(config: Config) -> None:
    info = config_info.job_info(config, "unit")
    assert info is not None
    assert info["definition"]["name"] == "unit" and info["definition"]["files"] == ["^src/"]
    assert [(Path(v["location"].split(":")[0]).name, v["branches"]) for v in info["variants"]] == [
        ("osci.yaml", None),
        ("osci.yaml", ["^stable/"]),
    ]
    assert info["variants"][0]["location"].endswith(f"osci.yaml:{_line('- job:', 2)}")
    runs = {(run["project"], run["pipeline"]): run for run in info["runs_in"]}
    assert set(runs) == {("org/demo", "check"), ("org/demo", "gate")}
    check, gate = runs["org/demo", "check"], runs["org/demo", "gate"]
    assert (check["branches"], check["files"], check["irrelevant_files"]) == (None, ["^src/"], None)
    assert gate["irrelevant_files"] == ["^docs/"] and check["location"].endswith(
        f"osci.yaml:{_line('- unit')}"
    )
    assert info["why"][0].startswith("runs in check for project org/demo on every branch")
    assert "only when a changed file matches ^src/" in info["why"][0]
    assert (
        "dependent pipeline" in info["why"][1]
        and "not when every changed file matches ^docs/" in info["why"][1]
    )
    json.dumps(info)  # JSON-ready


def test_job_info_never_shows_a_secret_value(config: Config) -> None:
    info = config_info.job_info(config, "unit")
    text = json.dumps(info)
    assert "pypi-s3cr3t-token" not in text
    assert info["definition"]["vars"] == {"upload": "(secret pypi)", "level": 3}


def test_job_info_for_templates_abstract_and_unknown_jobs(config: Config) -> None:
    lint = config_info.job_info(config, "lint")
    assert {(run["project"], run["pipeline"], tuple(run["branches"] or ())) for run in lint["runs_in"]} == {
        ("org/demo", "check", ()),
        ("org/demo", "gate", ("^main$",)),
        ("org/other", "check", ()),
    }
    base = config_info.job_info(config, "base")
    assert base["runs_in"] == [] and "abstract" in base["why"][0]
    assert config_info.job_info(config, "nope") is None


def test_project_info(config: Config) -> None:
    demo = config_info.project_info(config, "org/demo")
    assert demo == {
        "default_branch": "develop",
        "merge_mode": "squash-merge",
        "queue": None,
        "pipelines": {"check": ["lint", "unit"], "gate": ["unit", "lint"]},
    }
    assert config_info.project_info(config, "org/other")["pipelines"] == {"check": ["lint"]}
    assert config_info.project_info(config, "org/none") is None
    assert config_info.project_info(config, "") is None


def test_breaking_pipelines_are_gates_and_post_merge(config: Config) -> None:
    assert config_info.breaking_pipelines(config) == ["gate", "post"]


def test_config_summary(config: Config) -> None:
    summary = config_info.config_summary(config)
    assert summary["pipelines"] == [
        {"name": "check", "manager": "independent", "precedence": "normal"},
        {"name": "gate", "manager": "dependent", "precedence": "high"},
        {"name": "periodic", "manager": "independent", "precedence": "normal"},
        {"name": "post", "manager": "independent", "precedence": "normal"},
    ]
    assert summary["projects"] == ["org/demo", "org/other"]
    assert summary["jobs"] == ["base", "lint", "unit"]
    assert config_info.config_summary(None) == {"pipelines": [], "projects": [], "jobs": []}


IN_REPO = """
- job:
    name: docs
    parent: base
    vars: {token: pypi-s3cr3t-token}
- project:
    check:
      jobs: [docs, unit]
"""


def test_in_repo_configurations_are_combined_with_the_central_one(config: Config, tmp_path: Path) -> None:
    """A project's in-repo jobs and pipelines (read through RepoConfigs, as the server does),
    shown with project-relative locations; secrets stay hidden; other projects keep theirs."""
    from osci.server.repo_configs import RepoConfigs

    registry = RepoConfigs(tmp_path / "scratch", lambda project: "main")
    registry.seen("org/other", "main", "a" * 40, {".osci.yaml": IN_REPO})
    registry.seen("org/other", "feature", "b" * 40, {".osci.yaml": "- job: {name: ignored}\n"})
    configs, places = registry.configs(config)
    assert len(configs) == 2 and registry.configs(config)[0] is configs  # cached
    docs = config_info.job_info(configs, "docs", places)
    assert docs is not None
    assert docs["variants"] == [{"location": "org/other:.osci.yaml:2", "branches": None}]
    assert [(r["project"], r["pipeline"]) for r in docs["runs_in"]] == [("org/other", "check")]
    assert "pypi-s3cr3t-token" not in json.dumps(docs)
    assert "scratch" not in json.dumps(docs)
    unit = config_info.job_info(configs, "unit", places)
    assert {(r["project"], r["pipeline"]) for r in unit["runs_in"]} == {
        ("org/demo", "check"),
        ("org/demo", "gate"),
        ("org/other", "check"),
    }
    assert config_info.project_info(configs, "org/other")["pipelines"] == {"check": ["lint", "docs", "unit"]}
    assert config_info.project_info(configs, "org/demo")["pipelines"]["gate"] == ["unit", "lint"]
    summary = config_info.config_summary(configs)
    assert "docs" in summary["jobs"] and "ignored" not in summary["jobs"]
