"""Which jobs a local run runs: named jobs, a project's pipeline, or jobs with a tag."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.model import FrozenJob


class SelectionError(ValueError):
    """The jobs asked for cannot be found; the message says what exists."""


@dataclass
class Selection:
    jobs: list[FrozenJob]
    how: str  # a sentence for the user: what was selected and why
    not_run: list[tuple[str, list[str]]] = field(default_factory=list)  # (job, reasons)


def git_branch(project_dir: Path) -> str | None:
    """The checked-out branch of a git working tree, or None."""
    try:
        out = subprocess.run(
            ["git", "-C", str(project_dir), "symbolic-ref", "--short", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    branch = out.stdout.strip()
    return branch or None


def project_name(config: Any, project_dir: Path, given: str | None) -> str:
    if given:
        return given
    named = [name for name in config.projects if name]
    if len(named) == 1 and None not in config.projects:
        return named[0]
    return project_dir.resolve().name


def project_key(config: Any, project: str) -> str | None:
    """The key the configuration knows the project by (None: an in-repo, unnamed project)."""
    if project in config.projects:
        return project
    if None in config.projects:
        return None
    return project


def _project_pipelines(config: Any, key: str | None) -> list[str]:
    return list(config.project_pipelines(key)) if key in config.projects else []


def _runnable_job_names(config: Any) -> list[str]:
    return [name for name in config.jobs if not config.is_abstract(name)]


def select(
    config: Any,
    *,
    names: list[str],
    pipeline: str | None,
    project: str,
    branch: str | None,
    tag: str | None = None,
    files: list[str] | None = None,
) -> Selection:
    if names:
        unknown = [n for n in names if n not in config.jobs]
        if unknown:
            raise SelectionError(
                f"unknown job(s): {', '.join(unknown)}; known jobs: {', '.join(sorted(config.jobs)) or 'none'}"
            )
        return Selection([config.freeze_job(n, branch) for n in names], f"jobs named: {', '.join(names)}")
    key = project_key(config, project)
    if tag:
        candidates = [config.freeze_job(n, branch) for n in _runnable_job_names(config)]
        jobs = [job for job in candidates if tag in job.tags]
        if not jobs:
            raise SelectionError(f"no job is tagged {tag!r}")
        return _filter(config, jobs, branch, files, f"jobs tagged {tag!r}")
    if pipeline is None:
        pipelines = _project_pipelines(config, key)
        if pipelines:
            pipeline = "check" if "check" in pipelines else pipelines[0]
    if pipeline is not None:
        if pipeline not in _project_pipelines(config, key):
            known = ", ".join(_project_pipelines(config, key)) or "none"
            raise SelectionError(
                f"project {project} runs no jobs in pipeline {pipeline!r} (its pipelines: {known})"
            )
        jobs = config.project_jobs(key, pipeline, branch)
        return _filter(config, jobs, branch, files, f"project {project}, pipeline {pipeline}")
    jobs = [config.freeze_job(n, branch) for n in _runnable_job_names(config)]
    if not jobs:
        raise SelectionError("the configuration defines no job to run")
    return _filter(config, jobs, branch, files, "every job in the configuration")


def _filter(
    config: Any, jobs: list[FrozenJob], branch: str | None, files: list[str] | None, how: str
) -> Selection:
    selection = Selection([], how)
    for job in jobs:
        match = config.match(job, branch, files)
        if match.runs:
            selection.jobs.append(job)
        else:
            selection.not_run.append((job.name, list(match.reasons)))
    return selection
