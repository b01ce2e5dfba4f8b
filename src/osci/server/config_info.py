"""What the running configuration says about a job or a project, for the dashboard:
definitions, variants, where a job runs and why, project settings, and which pipelines
mean "a merged change broke something" (for "who breaks builds").

Everything here is read from loaded :class:`osci.config.Config` objects: the central one,
or several (the central one and, per project, the central one with that project's in-repo
files on top; see :mod:`osci.server.repo_configs`), whose answers are combined. `places` maps
folders the in-repo files were read from to the label shown instead (``project:``). A job
definition never shows a secret's value: any string equal to one is replaced by its name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from osci.config import Config
from osci.config.freeze import apply_definition
from osci.config.projects import JobEntry
from osci.config.render import job_to_dict
from osci.model import FrozenJob, SourceLocation

GATING_MANAGERS = ("dependent", "serial")
POST_MERGE_EVENTS = ("ref-updated", "push")


Configs = Config | Sequence[Config]


def _as_list(configs: Configs) -> list[Config]:
    return [configs] if isinstance(configs, Config) else list(configs)


def _where(location: SourceLocation | None, places: dict[str, str] | None = None) -> str | None:
    if location is None:
        return None
    file = location.file
    for folder, label in (places or {}).items():
        if file.startswith(folder + "/"):
            file = label + file[len(folder) + 1 :]
            break
    return f"{file}:{location.line}"


def _secret_values(config: Config) -> dict[str, str]:
    """Every string inside the secrets' data -> the secret's name."""
    found: dict[str, str] = {}

    def walk(value: Any, name: str) -> None:
        if isinstance(value, str) and value:
            found.setdefault(value, name)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, name)
        elif isinstance(value, list):
            for item in value:
                walk(item, name)

    for name, secret in config.secrets.items():
        walk(secret.data, name)
    return found


def _redact(value: Any, secrets: dict[str, str], places: dict[str, str] | None = None) -> Any:
    """Secrets replaced by their names; in-repo folders in locations by their labels."""
    if isinstance(value, str):
        if value in secrets:
            return f"(secret {secrets[value]})"
        for folder, label in (places or {}).items():
            value = value.replace(folder + "/", label)
        return value
    if isinstance(value, dict):
        return {key: _redact(item, secrets, places) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, secrets, places) for item in value]
    return value


def _projects(config: Config) -> list[str]:
    return sorted(name for name in config.projects if name)


def _entries(config: Config, project: str, pipeline: str) -> list[JobEntry]:
    """The job list of a project's pipeline, its templates' entries first (as Config orders them)."""
    settings = config.project_settings(project)
    entries: list[JobEntry] = []
    for template, _ in settings.templates:
        stanza = config.templates.get(template)
        if stanza is not None and pipeline in stanza.pipelines:
            entries += stanza.pipelines[pipeline].jobs
    for stanza in config.projects.get(project, []):
        if pipeline in stanza.pipelines:
            entries += stanza.pipelines[pipeline].jobs
    return entries


def _job_branches(config: Config, name: str) -> list[str] | None:
    """The branches the job's own definitions allow (None: every branch)."""
    patterns: list[str] = []
    for definition in config.jobs.get(name, []):
        branches = definition.get("branches")
        if not branches:
            return None
        patterns += [p for p in branches if p not in patterns]
    return patterns or None


def _as_run(
    config: Config,
    name: str,
    project: str,
    pipeline: str,
    entries: list[JobEntry],
    places: dict[str, str] | None = None,
) -> dict[str, Any]:
    job: FrozenJob = config.freeze_job(name)
    nodesets = {n: d.nodeset for n, d in config.nodesets.items()}
    branches = _job_branches(config, name)
    for entry in entries:
        if entry.override is not None:
            apply_definition(job, entry.override, own=True, nodesets=nodesets)
            if entry.override.get("branches"):
                branches = list(entry.override.get("branches"))
    return {
        "project": project,
        "pipeline": pipeline,
        "branches": branches,
        "files": list(job.files) or None,
        "irrelevant_files": list(job.irrelevant_files) or None,
        "location": _where(entries[0].location, places) if entries else None,
    }


def _sentence(run: dict[str, Any], pipeline_manager: str | None) -> str:
    branches = run["branches"]
    where = "on every branch" if not branches else f"on branches matching {', '.join(branches)}"
    text = f"runs in {run['pipeline']} for project {run['project']} {where}"
    if pipeline_manager in GATING_MANAGERS:
        text += f" (a {pipeline_manager} pipeline: changes are tested in order before they merge)"
    if run["files"]:
        text += f"; only when a changed file matches {', '.join(run['files'])}"
    if run["irrelevant_files"]:
        text += f"; not when every changed file matches {', '.join(run['irrelevant_files'])}"
    if run["location"]:
        text += f" (listed at {run['location']})"
    return text


def job_info(configs: Configs, name: str, places: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``{"definition", "variants", "runs_in", "why"}`` for job `name`, None when unknown.
    With several configurations, the definition is the first one's that knows the job (the
    central one first) and the places it runs are gathered from all of them."""
    known = [config for config in _as_list(configs) if config.jobs.get(name)]
    if not known:
        return None
    first = known[0]
    definition = _redact(job_to_dict(first.freeze_job(name)), _secret_values(first), places)
    variants: list[dict[str, Any]] = []
    runs_in: list[dict[str, Any]] = []
    why: list[str] = []
    for config in known:
        for d in config.require_job(name):
            variant = {
                "location": _where(d.location, places),
                "branches": list(d.get("branches")) if d.get("branches") else None,
            }
            if variant not in variants:
                variants.append(variant)
        for project in _projects(config):
            for pipeline in config.project_pipelines(project):
                entries = [entry for entry in _entries(config, project, pipeline) if entry.name == name]
                if not entries or any(r["project"] == project and r["pipeline"] == pipeline for r in runs_in):
                    continue
                run = _as_run(config, name, project, pipeline, entries, places)
                runs_in.append(run)
                manager = config.pipelines[pipeline].manager if pipeline in config.pipelines else None
                why.append(_sentence(run, manager))
    if first.is_abstract(name):
        why.insert(0, f"job '{name}' is abstract: it never runs itself, jobs inherit from it")
    elif not runs_in:
        why.append("no project lists this job in any pipeline (it may still run as a dependency)")
    return {"definition": definition, "variants": variants, "runs_in": runs_in, "why": why}


def project_info(configs: Configs, name: str) -> dict[str, Any] | None:
    """``{"default_branch", "merge_mode", "queue", "pipelines": {pipeline: [job names]}}``; with
    several configurations, the last one that knows the project (its in-repo one) answers."""
    known = [config for config in _as_list(configs) if name and name in config.projects]
    if not known:
        return None
    config = known[-1]
    settings = config.project_settings(name)
    pipelines = {}
    for pipeline in config.project_pipelines(name):
        names = [entry.name for entry in _entries(config, name, pipeline)]
        pipelines[pipeline] = list(dict.fromkeys(names))
    return {
        "default_branch": settings.default_branch,
        "merge_mode": settings.merge_mode,
        "queue": settings.queue,
        "pipelines": pipelines,
    }


def breaking_pipelines(config: Config) -> list[str]:
    """Gate pipelines (dependent or serial managers) and post-merge ones (triggered by
    ref-updated or push events): a failure there means a merged or merging change broke it."""
    found = []
    for name, pipeline in sorted(config.pipelines.items()):
        post_merge = any(
            event in POST_MERGE_EVENTS
            for filters in pipeline.triggers.values()
            for trigger in filters
            for event in trigger.events
        )
        if pipeline.manager in GATING_MANAGERS or post_merge:
            found.append(name)
    return found


def config_summary(configs: Configs | None) -> dict[str, Any]:
    """Pipelines (name, manager, precedence), project names and job names, sorted by name."""
    if configs is None or not _as_list(configs):
        return {"pipelines": [], "projects": [], "jobs": []}
    every = _as_list(configs)
    config = every[0]
    return {
        "pipelines": [
            {"name": name, "manager": pipeline.manager, "precedence": pipeline.precedence}
            for name, pipeline in sorted(config.pipelines.items())
        ],
        "projects": sorted({project for each in every for project in _projects(each)}),
        "jobs": sorted({job for each in every for job in each.jobs}),
    }
