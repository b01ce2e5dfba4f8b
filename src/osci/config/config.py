"""The loaded configuration: lookups, freezing jobs, matchers and project job lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from osci.config.errors import ErrorList, did_you_mean
from osci.config.freeze import ConfiguredJob, apply_definition, deep_merge
from osci.config.jobs import JobDef
from osci.config.loader import Definitions, discover_config_files, parse_file
from osci.config.matchers import Match, branch_matches, files_match
from osci.config.nodesets import NodesetDef
from osci.config.objects import NamedObject
from osci.config.pipelines import Pipeline
from osci.config.projects import JobEntry, ProjectDef
from osci.config.validate import validate
from osci.model import FrozenJob, SourceLocation


class ConfigLookupError(LookupError):
    """An unknown job or pipeline was asked for; the message says what exists."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class Config:
    files: list[Path] = field(default_factory=list)
    project_dir: Path | None = None
    definitions: Definitions = field(default_factory=Definitions)
    jobs: dict[str, list[JobDef]] = field(default_factory=dict)  # name -> variants, reference first
    nodesets: dict[str, NodesetDef] = field(default_factory=dict)
    templates: dict[str, ProjectDef] = field(default_factory=dict)
    projects: dict[str | None, list[ProjectDef]] = field(default_factory=dict)  # None: "this project"
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    secrets: dict[str, NamedObject] = field(default_factory=dict)
    connections: dict[str, NamedObject] = field(default_factory=dict)
    providers: dict[str, NamedObject] = field(default_factory=dict)

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        definitions: Definitions,
        files: list[Path],
        project_dir: Path | None,
        errors: ErrorList,
        check_references: bool = True,
    ) -> Config:
        """Index definitions and run the cross-object checks, adding problems to `errors`."""
        config = cls(files=list(files), project_dir=project_dir, definitions=definitions)
        for job in definitions.jobs:
            config.jobs.setdefault(job.name, []).append(job)
        for kind, items, target in (
            ("nodeset", definitions.nodesets, config.nodesets),
            ("project-template", definitions.templates, config.templates),
            ("pipeline", definitions.pipelines, config.pipelines),
            ("secret", definitions.secrets, config.secrets),
            ("connection", definitions.connections, config.connections),
            ("provider", definitions.providers, config.providers),
        ):
            for item in items:
                name = item.nodeset.name if isinstance(item, NodesetDef) else item.name
                name_loc = item.name_location if hasattr(item, "name_location") else item.location
                if name in target:
                    errors.add(name_loc, f"{kind} '{name}' is already defined at {target[name].location}")
                else:
                    target[name] = item
        for project in definitions.projects:
            config.projects.setdefault(project.name, []).append(project)
        if check_references:
            validate(config, errors)
        return config

    def merged_with(self, other: Config, project: str | None = None) -> Config:
        """This (central) configuration with an in-repo one on top: its jobs become new variants
        and its project pipelines are added. `project` names the project that unnamed
        in-repo `project` stanzas belong to. Raises ConfigErrors."""
        errors = ErrorList()
        theirs = other.definitions
        for kind, items in (
            ("pipeline", theirs.pipelines),
            ("connection", theirs.connections),
            ("secret", theirs.secrets),
            ("provider", theirs.providers),
        ):
            for item in items:
                errors.add(
                    item.location,
                    f"a {kind} cannot be defined in in-repo configuration; define it in the central configuration",
                )
        combined = Definitions()
        combined.extend(self.definitions)
        added = dataclasses.replace(theirs, pipelines=[], connections=[], secrets=[], providers=[])
        if project is not None:
            added.projects = [p if p.name else dataclasses.replace(p, name=project) for p in added.projects]
        combined.extend(added)
        files = [*self.files, *(f for f in other.files if f not in self.files)]
        merged = Config.build(combined, files, other.project_dir or self.project_dir, errors)
        errors.raise_if_any()
        return merged

    # ---- lookups --------------------------------------------------------------------------

    def summary(self) -> str:
        def count(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        project_count = len(self.projects)
        return ", ".join(
            [
                count(len(self.jobs), "job"),
                count(project_count, "project"),
                count(len(self.pipelines), "pipeline"),
                count(len(self.nodesets), "nodeset"),
                count(len(self.templates), "project-template"),
            ]
        )

    def require_job(self, name: str) -> list[JobDef]:
        if name not in self.jobs:
            raise ConfigLookupError(f"unknown job '{name}'{did_you_mean(name, self.jobs)}")
        return self.jobs[name]

    def is_final(self, name: str) -> bool:
        return any(d.get("final") for d in self.jobs.get(name, []))

    def is_abstract(self, name: str) -> bool:
        """The last `abstract` written among the job's own definitions (default false)."""
        values = [d.attrs["abstract"] for d in self.jobs.get(name, []) if "abstract" in d.attrs]
        return bool(values and values[-1])

    def all_job_entries(self) -> Iterator[JobEntry]:
        for stanza in [*self.templates.values(), *(p for ps in self.projects.values() for p in ps)]:
            for pipeline in stanza.pipelines.values():
                yield from pipeline.jobs

    def parent_chain(self, name: str) -> list[str]:
        """The job and its ancestors, root first (cycles are cut; they are load errors)."""
        chain: list[str] = []
        current: str | None = name
        while current is not None and current in self.jobs and current not in chain:
            chain.append(current)
            current = self.jobs[current][0].get("parent")
        return chain[::-1]

    def variants(self, name: str, branch: str | None) -> list[JobDef]:
        """The definitions of `name` that apply on `branch`, in definition order.

        With no branch (unknown), definitions without a `branches` matcher apply."""
        defs = self.require_job(name)
        if branch is None:
            return [d for d in defs if "branches" not in d.attrs]
        return [d for d in defs if branch_matches(d.get("branches"), branch)]

    # ---- freezing -------------------------------------------------------------------------

    def freeze_job(self, name: str, branch: str | None = None) -> ConfiguredJob:
        """The job after its parents and the variants matching `branch` are applied.

        A job (or parent) none of whose variants applies is frozen from its first definition
        so that it can still be shown; `match` says it does not run."""
        reference = self.require_job(name)[0]
        job = ConfiguredJob(name=name, parent=reference.get("parent"), location=reference.location)
        nodesets = {n: d.nodeset for n, d in self.nodesets.items()}
        for level in self.parent_chain(name):
            applicable = self.variants(level, branch) or self.jobs[level][:1]
            for definition in applicable:
                apply_definition(job, definition, own=level == name, nodesets=nodesets)
        return job

    def match(self, job: FrozenJob | str, branch: str | None, files: list[str] | None) -> Match:
        """Whether the job runs on `branch` for the changed `files` (None: unknown), and why."""
        name = job if isinstance(job, str) else job.name
        frozen = self.freeze_job(name, branch) if isinstance(job, str) else job
        result = Match(True)
        if name in self.jobs:
            if self.is_abstract(name):
                result.runs = False
                result.reasons.append(f"abstract: job '{name}' is abstract and never runs itself")
            if branch is not None:
                self._match_branch(name, branch, result)
        elif branch is not None and frozen.branches and not branch_matches(frozen.branches, branch):
            result.runs = False
            result.reasons.append(f"branches: branch '{branch}' does not match {frozen.branches}")
        provenance = getattr(frozen, "provenance", {})
        file_result = files_match(
            frozen.files,
            frozen.irrelevant_files,
            files,
            provenance.get("files"),
            provenance.get("irrelevant-files"),
        )
        result.runs = result.runs and file_result.runs
        result.reasons.extend(file_result.reasons)
        return result

    def _match_branch(self, name: str, branch: str, result: Match) -> None:
        for level in self.parent_chain(name):
            defs = self.jobs[level]
            matching = self.variants(level, branch)
            if not matching:
                result.runs = False
                written = "; ".join(f"{d.label} branches {d.get('branches')}" for d in defs)
                role = "job" if level == name else "parent job"
                result.reasons.append(
                    f"branches: no definition of {role} '{level}' matches branch '{branch}' ({written})"
                )
            elif level == name and any("branches" in d.attrs for d in defs):
                chosen = ", ".join(d.label for d in matching)
                result.reasons.append(f"branches: branch '{branch}' selects {chosen}")

    def _runs_on_branch(self, name: str, branch: str | None) -> bool:
        if branch is None:
            return True
        return all(self.variants(level, branch) for level in self.parent_chain(name))

    # ---- projects -------------------------------------------------------------------------

    def project_settings(self, project: str | None) -> ProjectDef:
        """The project's stanzas merged: later scalars win, templates add up, vars deep-merge."""
        stanzas = self.projects.get(project, [])
        merged = ProjectDef(name=project, location=stanzas[0].location if stanzas else None)
        for stanza in stanzas:
            merged.templates += stanza.templates
            for attribute in ("default_branch", "merge_mode", "queue"):
                if getattr(stanza, attribute) is not None:
                    setattr(merged, attribute, getattr(stanza, attribute))
            merged.description = stanza.description or merged.description
            merged.vars = deep_merge(merged.vars, stanza.vars)
        return merged

    def project_pipelines(self, project: str | None) -> list[str]:
        """Names of the pipelines the project (with its templates) has jobs in."""
        names: dict[str, None] = {}
        settings = self.project_settings(project)
        for template, _ in settings.templates:
            if template in self.templates:
                names.update(dict.fromkeys(self.templates[template].pipelines))
        for stanza in self.projects.get(project, []):
            names.update(dict.fromkeys(stanza.pipelines))
        return list(names)

    def _pipeline_entries(self, project: str | None, pipeline: str) -> list[JobEntry]:
        settings = self.project_settings(project)
        entries: list[JobEntry] = []
        for template, _ in settings.templates:
            if template in self.templates and pipeline in self.templates[template].pipelines:
                entries += self.templates[template].pipelines[pipeline].jobs
        for stanza in self.projects.get(project, []):
            if pipeline in stanza.pipelines:
                entries += stanza.pipelines[pipeline].jobs
        return entries

    def project_jobs(self, project: str | None, pipeline: str, branch: str | None) -> list[FrozenJob]:
        """The frozen jobs of a project's pipeline on `branch`: templates first, then the project,
        in definition order, each project override applied as a last variant, project vars on top.

        Jobs that do not run on the branch are left out; file matchers are for `match`."""
        if self.pipelines and pipeline not in self.pipelines:
            raise ConfigLookupError(f"unknown pipeline '{pipeline}'{did_you_mean(pipeline, self.pipelines)}")
        by_name: dict[str, list[JobEntry]] = {}
        for entry in self._pipeline_entries(project, pipeline):
            by_name.setdefault(entry.name, []).append(entry)
        project_vars = self.project_settings(project).vars
        nodesets = {n: d.nodeset for n, d in self.nodesets.items()}
        jobs: list[FrozenJob] = []
        for name, entries in by_name.items():
            if name not in self.jobs or not self._runs_on_branch(name, branch):
                continue
            applicable = [e for e in entries if _entry_applies(e, branch)]
            if not applicable:
                continue
            job = self.freeze_job(name, branch)
            for entry in applicable:
                if entry.override is not None:
                    apply_definition(job, entry.override, own=True, nodesets=nodesets)
            if project_vars:
                job.vars = deep_merge(job.vars, project_vars)
            jobs.append(job)
        return jobs


def _entry_applies(entry: JobEntry, branch: str | None) -> bool:
    if entry.override is None or "branches" not in entry.override.attrs:
        return True
    return branch is not None and branch_matches(entry.override.attrs["branches"], branch)


def load_config(
    paths: Path | list[Path], project_dir: Path | None = None, *, check_references: bool = True
) -> Config:
    """Load and check configuration files (folders are discovered); raises ConfigErrors with
    every problem found.

    `check_references=False` skips the checks across objects (parents, dependencies, nodesets,
    templates, pipelines...): for in-repo configuration that uses jobs of a central one and
    is checked in full by `Config.merged_with`."""
    if isinstance(paths, (str, Path)):
        paths = [Path(paths)]
    errors = ErrorList()
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            errors.add(SourceLocation(str(path), 1, 1), "no such file or folder")
            continue
        files.extend(discover_config_files(path))
    definitions = Definitions()
    for file in files:
        definitions.extend(parse_file(file, errors, project_dir))
    config = Config.build(definitions, files, project_dir, errors, check_references)
    errors.raise_if_any()
    return config
