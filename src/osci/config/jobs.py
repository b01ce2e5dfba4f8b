"""Job definitions as written: one `JobDef` per `- job:` stanza (a variant) or project override."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.config.check import Section, as_section, item_locations, kind
from osci.config.errors import ErrorList
from osci.config.nodesets import parse_inline_nodeset
from osci.config.yamlpos import PosDict, plain
from osci.model import SourceLocation, Step

JOB_ATTRIBUTES = (
    "name",
    "parent",
    "abstract",
    "final",
    "description",
    "branches",
    "nodeset",
    "pre-run",
    "run",
    "post-run",
    "timeout",
    "post-timeout",
    "attempts",
    "voting",
    "files",
    "irrelevant-files",
    "dependencies",
    "vars",
    "tags",
    "test-results",
    "metrics",
    "required-projects",
)
# A project pipeline's `- job: {overrides}` may not redefine what the job is.
OVERRIDE_ATTRIBUTES = tuple(a for a in JOB_ATTRIBUTES if a not in ("name", "parent", "abstract", "final"))


@dataclass(frozen=True)
class Dependency:
    name: str
    soft: bool
    location: SourceLocation


@dataclass
class JobDef:
    """One definition (variant) of a job: only the attributes it wrote, with their locations."""

    name: str
    location: SourceLocation
    attrs: dict[str, Any] = field(default_factory=dict)
    locs: dict[str, SourceLocation] = field(default_factory=dict)  # attribute -> value location
    key_locs: dict[str, SourceLocation] = field(default_factory=dict)  # attribute -> key location
    in_repo: bool = False
    override: bool = False  # written in a project pipeline's job list

    @property
    def label(self) -> str:
        kind_ = "project override" if self.override else "job"
        return f"{self.name} ({kind_} at {self.location.file}:{self.location.line})"

    def get(self, attribute: str, default: Any = None) -> Any:
        return self.attrs.get(attribute, default)


def _steps(section: Section, key: str, project_dir: Path | None) -> list[Step] | None:
    value = section.data[key]
    expected = "a path, a {script: ...} mapping, or a list of them"
    if (isinstance(value, str) and value) or isinstance(value, PosDict):
        items, locs = [value], [section.value_loc(key)]
    elif isinstance(value, list):
        items, locs = list(value), item_locations(value, section.value_loc(key))
    else:
        section.error(key, f"{section.what}: '{key}': expected {expected}, got {kind(value)}")
        return None
    steps: list[Step] = []
    ok = True
    for item, loc in zip(items, locs, strict=True):
        if isinstance(item, str) and item:
            what = f"{section.what}: '{key}': "
            ok = _check_step_file(section.errors, item, loc, project_dir, what) and ok
            steps.append(Step(path=item, location=loc))
        elif isinstance(item, PosDict):
            inline = Section(section.errors, item, f"{section.what} '{key}' step")
            inline.check_keys(("script",), required=("script",))
            script = inline.str("script")
            ok = ok and script is not None and len(item) == 1
            steps.append(Step(script=script, location=loc))
        else:
            section.errors.add(
                loc, f"{section.what}: '{key}': expected {expected}, found {kind(item)} in the list"
            )
            ok = False
    return steps if ok else None


def _check_step_file(
    errors: ErrorList, path: str, loc: SourceLocation, project_dir: Path | None, what: str
) -> bool:
    if project_dir is None:
        return True
    target = project_dir / path
    if not target.exists():
        errors.add(loc, f"{what}step '{path}' does not exist in {project_dir.resolve()}")
        return False
    if not target.is_file():
        errors.add(loc, f"{what}step '{path}' is not a file (in {project_dir.resolve()})")
        return False
    return True


def _dependencies(section: Section, key: str) -> list[Dependency] | None:
    value = section.data[key]
    expected = "a job name, or a list of job names and {name, soft} mappings"
    if isinstance(value, str) and value:
        return [Dependency(value, False, section.value_loc(key))]
    if not isinstance(value, list):
        section.error(key, f"{section.what}: '{key}': expected {expected}, got {kind(value)}")
        return None
    deps: list[Dependency] = []
    ok = True
    for item, loc in zip(value, item_locations(value, section.value_loc(key)), strict=True):
        if isinstance(item, str) and item:
            deps.append(Dependency(item, False, loc))
            continue
        dep = as_section(section.errors, item, loc, f"{section.what} dependency")
        if dep is None:
            ok = False
            continue
        dep.check_keys(("name", "soft"), required=("name",))
        name, soft = dep.str("name"), dep.bool("soft")
        if name is None:
            ok = False
            continue
        deps.append(Dependency(name, bool(soft), dep.value_loc("name")))
    return deps if ok else None


def parse_job_attributes(
    section: Section, allowed: tuple[str, ...], project_dir: Path | None, forbidden_where: str = ""
) -> tuple[dict[str, Any], dict[str, SourceLocation]]:
    """Validate and convert every attribute written in `section` (unknown keys are reported).

    Job attributes not in `allowed` are reported as not settable `forbidden_where`."""
    forbidden = [k for k in JOB_ATTRIBUTES if k not in allowed]
    section.check_keys(allowed, extra=forbidden)
    for key in forbidden:
        if key in section.data:
            section.errors.add(
                section.key_loc(key), f"{section.what}: '{key}' cannot be set {forbidden_where}"
            )
    attrs: dict[str, Any] = {}
    for key in section.data:
        if key not in allowed or key == "name":  # the caller reads the name
            continue
        value: Any
        if key == "parent":
            value = section.str(key)
        elif key in ("abstract", "final", "voting"):
            value = section.bool(key)
        elif key == "description":
            value = section.text(key)
        elif key in ("branches", "files", "irrelevant-files"):
            value = section.regexes(key)
        elif key == "nodeset":
            value = parse_inline_nodeset(section, key)
        elif key in ("pre-run", "run", "post-run"):
            value = _steps(section, key, project_dir)
        elif key in ("timeout", "post-timeout"):
            value = section.number(key, minimum=0)
        elif key == "attempts":
            value = section.int(key, minimum=1)
        elif key == "dependencies":
            value = _dependencies(section, key)
        elif key == "vars":
            mapping = section.mapping(key)
            value = None if mapping is None else plain(mapping)
        elif key == "tags":
            value = section.str_list(key, "a list of tags")
        elif key == "test-results":
            value = section.str_list(key, "a glob or a list of globs")
        elif key == "required-projects":
            value = section.str_list(key, "a project name or a list of project names")
        else:  # metrics
            value = section.str_list(key, "a path or a list of paths")
        if value is not None:
            attrs[key] = value
    locs = {k: section.value_loc(k) for k in attrs}
    return attrs, locs


def parse_job(
    errors: ErrorList, body: PosDict, location: SourceLocation, project_dir: Path | None, in_repo: bool
) -> JobDef | None:
    """A top-level `- job:` object; None if it has no usable name."""
    section = Section(errors, body, "job")
    if "name" not in body:
        errors.add(location, "job: missing required key 'name'")
    name = section.str("name")
    if name is not None:
        section.what = f"job '{name}'"
    attrs, locs = parse_job_attributes(section, JOB_ATTRIBUTES, project_dir)
    if name is None:
        return None
    key_locs = {k: section.key_loc(k) for k in attrs}
    return JobDef(name, location, attrs, locs, key_locs, in_repo=in_repo)
