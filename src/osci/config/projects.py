"""Projects and project templates: which jobs run in which pipeline, with per-project overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.config.check import Section, as_section, item_locations, kind
from osci.config.errors import ErrorList, did_you_mean
from osci.config.jobs import OVERRIDE_ATTRIBUTES, JobDef, parse_job_attributes
from osci.config.yamlpos import PosDict, plain
from osci.model import SourceLocation

PROJECT_ATTRIBUTES = ("name", "description", "templates", "default-branch", "merge-mode", "queue", "vars")
TEMPLATE_ATTRIBUTES = ("name", "description")
MERGE_MODES = ("merge", "merge-resolve", "squash-merge", "cherry-pick", "rebase")


@dataclass
class JobEntry:
    """One item of a project pipeline's `jobs` list."""

    name: str
    location: SourceLocation
    override: JobDef | None = None  # attributes applied on top of the frozen job, as a last variant


@dataclass
class ProjectPipeline:
    name: str
    location: SourceLocation  # of the pipeline key
    jobs: list[JobEntry] = field(default_factory=list)


@dataclass
class ProjectDef:
    """A `project` or `project-template` stanza."""

    name: str | None
    location: SourceLocation | None  # None only for an empty merged view (Config.project_settings)
    is_template: bool = False
    description: str = ""
    templates: list[tuple[str, SourceLocation]] = field(default_factory=list)
    default_branch: str | None = None
    merge_mode: str | None = None
    queue: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    pipelines: dict[str, ProjectPipeline] = field(default_factory=dict)
    in_repo: bool = False


def _job_entries(
    section: Section, key: str, jobs_value: Any, loc: SourceLocation, project_dir: Path | None, in_repo: bool
) -> list[JobEntry]:
    what = f"{section.what} pipeline '{key}'"
    if jobs_value is None:
        return []
    if not isinstance(jobs_value, list):
        section.errors.add(loc, f"{what}: 'jobs': expected a list of job names, got {kind(jobs_value)}")
        return []
    entries: list[JobEntry] = []
    for item, item_loc in zip(jobs_value, item_locations(jobs_value, loc), strict=True):
        if isinstance(item, str) and item:
            entries.append(JobEntry(item, item_loc))
            continue
        if not isinstance(item, PosDict) or len(item) != 1:
            section.errors.add(
                item_loc,
                f"{what}: expected a job name or a one-key mapping {{job-name: {{...}}}}, got {kind(item)}",
            )
            continue
        ((name, body),) = item.items()
        if not isinstance(name, str):
            section.errors.add(item_loc, f"{what}: a job name must be a string, got {kind(name)}")
            continue
        name_loc = item.key_locs[name]
        if body is None:
            entries.append(JobEntry(name, name_loc))
            continue
        override = as_section(section.errors, body, item.value_locs[name], f"{what} job '{name}'")
        if override is None:
            continue
        attrs, locs = parse_job_attributes(
            override, OVERRIDE_ATTRIBUTES, project_dir, "in a project pipeline"
        )
        key_locs = {k: override.key_loc(k) for k in attrs}
        job = JobDef(name, name_loc, attrs, locs, key_locs, in_repo=in_repo, override=True)
        entries.append(JobEntry(name, name_loc, job))
    return entries


def parse_project(
    errors: ErrorList,
    body: PosDict,
    location: SourceLocation,
    project_dir: Path | None,
    in_repo: bool,
    is_template: bool,
) -> ProjectDef | None:
    """A `- project:` or `- project-template:` object; None when unusable."""
    object_type = "project-template" if is_template else "project"
    section = Section(errors, body, object_type)
    allowed = TEMPLATE_ATTRIBUTES if is_template else PROJECT_ATTRIBUTES
    name_required = is_template or not in_repo
    if name_required and "name" not in body:
        hint = "" if is_template else " (only an in-repo .osci.yaml may leave it out)"
        errors.add(location, f"{object_type}: missing required key 'name'{hint}")
    name = section.str("name")
    if name is not None:
        section.what = f"{object_type} '{name}'"
    project = ProjectDef(name=name, location=location, is_template=is_template, in_repo=in_repo)
    project.description = section.text("description") or ""
    if not is_template:
        names, locs = section.str_list_with_locs("templates", "a list of template names")
        project.templates = list(zip(names or [], locs, strict=True))
        project.default_branch = section.str("default-branch")
        project.merge_mode = section.choice("merge-mode", MERGE_MODES)
        project.queue = section.str("queue")
        mapping = section.mapping("vars")
        project.vars = plain(mapping) if mapping is not None else {}
    for key, value in body.items():
        if key in allowed:
            continue
        if not isinstance(key, str):
            errors.add(section.key_loc(key), f"{section.what}: unexpected key {key!r}")
            continue
        pipeline = _pipeline_section(section, key, value, allowed)
        if pipeline is None:
            continue
        pipeline.check_keys(("jobs",))
        jobs = _job_entries(
            section, key, pipeline.data.get("jobs"), pipeline.value_loc("jobs"), project_dir, in_repo
        )
        project.pipelines[key] = ProjectPipeline(key, section.key_loc(key), jobs)
    if name_required and name is None:
        return None
    return project


def _pipeline_section(section: Section, key: str, value: Any, allowed: tuple[str, ...]) -> Section | None:
    if isinstance(value, PosDict):
        return Section(section.errors, value, f"{section.what} pipeline '{key}'")
    hint = did_you_mean(key, allowed)
    section.error(
        key,
        f"{section.what}: '{key}': expected a pipeline mapping with 'jobs', got {kind(value)}{hint}",
    )
    return None
