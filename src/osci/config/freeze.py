"""Applying job definitions on top of each other: Zuul's inheritance and variant rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from osci.config.jobs import JobDef
from osci.model import FrozenJob, Nodeset, SourceLocation

# attribute in YAML -> FrozenJob field, for those that simply override
_OVERRIDES = {
    "description": "description",
    "timeout": "timeout",
    "post-timeout": "post_timeout",
    "attempts": "attempts",
    "voting": "voting",
    "files": "files",
    "irrelevant-files": "irrelevant_files",
    "metrics": "metrics",
}


@dataclass
class ConfiguredJob(FrozenJob):
    """A FrozenJob plus what the configuration knows about it.

    `provenance` maps each attribute to where its current value was written, so that
    matchers and `show-job` can say where something came from."""

    abstract: bool = False
    final: bool = False
    soft_dependencies: list[str] = field(default_factory=list)  # subset of `dependencies`
    provenance: dict[str, SourceLocation] = field(default_factory=dict)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge mappings recursively; values in `top` win, nested mappings are merged."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def apply_definition(
    job: ConfiguredJob, definition: JobDef, own: bool, nodesets: Mapping[str, Nodeset]
) -> None:
    """Apply one definition (a parent's, a variant's or a project override) on top of `job`.

    `own` is true for definitions of the job itself: only those set abstract, final, branches."""
    for attribute, value in definition.attrs.items():
        location = definition.locs[attribute]
        if attribute in ("name", "parent"):
            continue
        if attribute in ("abstract", "final", "branches"):
            if not own:
                continue
            setattr(job, attribute, value)
        elif attribute in _OVERRIDES:
            setattr(job, _OVERRIDES[attribute], list(value) if isinstance(value, list) else value)
        elif attribute == "nodeset":
            job.nodeset = value if isinstance(value, Nodeset) else nodesets.get(value, Nodeset(name=value))
        elif attribute == "pre-run":
            job.pre_run = [*job.pre_run, *value]  # parent's setup first
        elif attribute == "post-run":
            job.post_run = [*value, *job.post_run]  # child's clean-up first, parent's last (nested)
        elif attribute == "run":
            job.run = list(value)
        elif attribute == "vars":
            job.vars = deep_merge(job.vars, value)
        elif attribute == "tags":
            job.tags = _union(job.tags, value)
        elif attribute == "test-results":
            job.test_results = _union(job.test_results, value)
        elif attribute == "required-projects":
            job.required_projects = _union(job.required_projects, value)
        elif attribute == "dependencies":
            job.dependencies = [d.name for d in value]
            job.soft_dependencies = [d.name for d in value if d.soft]
        job.provenance[attribute] = location
    job.inheritance.append(definition.label)
