"""Finding configuration files and turning each into object definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from osci.config.check import kind
from osci.config.errors import ErrorList, did_you_mean
from osci.config.jobs import JobDef, parse_job
from osci.config.nodesets import NodesetDef, parse_nodeset
from osci.config.objects import NamedObject, parse_driver_object, parse_secret
from osci.config.pipelines import Pipeline, parse_pipeline
from osci.config.projects import ProjectDef, parse_project
from osci.config.providers import parse_provider
from osci.config.yamlpos import PosDict, load_yaml_file
from osci.model import SourceLocation

OBJECT_TYPES = (
    "job",
    "nodeset",
    "project",
    "project-template",
    "pipeline",
    "secret",
    "connection",
    "provider",
)


@dataclass
class Definitions:
    """Every object of a set of files, in file and definition order, before cross-checks."""

    jobs: list[JobDef] = field(default_factory=list)
    nodesets: list[NodesetDef] = field(default_factory=list)
    projects: list[ProjectDef] = field(default_factory=list)
    templates: list[ProjectDef] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    secrets: list[NamedObject] = field(default_factory=list)
    connections: list[NamedObject] = field(default_factory=list)
    providers: list[NamedObject] = field(default_factory=list)

    def extend(self, other: Definitions) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


def discover_config_files(path: Path) -> list[Path]:
    """A file is itself; a folder gives osci.yaml, osci.d/*.yaml, .osci.yaml, .osci.d/*.yaml that exist."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for single, folder in (("osci.yaml", "osci.d"), (".osci.yaml", ".osci.d")):
        if (path / single).is_file():
            found.append(path / single)
        if (path / folder).is_dir():
            found.extend(sorted(p for p in (path / folder).glob("*.yaml") if p.is_file()))
    return found


def is_in_repo_file(path: Path) -> bool:
    """In-repo configuration lives in `.osci.yaml` or `.osci.d/`."""
    return path.name == ".osci.yaml" or path.parent.name == ".osci.d"


def parse_file(path: Path, errors: ErrorList, project_dir: Path | None) -> Definitions:
    """Parse one file's `- type: {...}` objects, recording every error."""
    defs = Definitions()
    data = load_yaml_file(path, errors)
    if data is None:
        return defs
    if not isinstance(data, list):
        loc = getattr(data, "loc", None)
        errors.add(
            loc or SourceLocation(str(path), 1, 1),
            f"expected a list of objects (- job: ...), got {kind(data)}",
        )
        return defs
    in_repo = is_in_repo_file(path)
    for item, loc in zip(data, data.item_locs, strict=True):
        if not isinstance(item, PosDict) or len(item) != 1:
            what = kind(item) if not isinstance(item, PosDict) else f"a mapping with {len(item)} keys"
            errors.add(loc, f"expected a one-key mapping such as '- job: {{...}}', got {what}")
            continue
        ((object_type, body),) = item.items()
        key_loc = item.key_locs[object_type]
        if object_type not in OBJECT_TYPES:
            hint = did_you_mean(str(object_type), OBJECT_TYPES)
            errors.add(key_loc, f"unknown object type '{object_type}'{hint}")
            continue
        if not isinstance(body, PosDict):
            errors.add(item.value_locs[object_type], f"{object_type}: expected a mapping, got {kind(body)}")
            continue
        _parse_object(defs, errors, str(object_type), body, key_loc, project_dir, in_repo)
    return defs


def _parse_object(
    defs: Definitions,
    errors: ErrorList,
    object_type: str,
    body: PosDict,
    loc: SourceLocation,
    project_dir: Path | None,
    in_repo: bool,
) -> None:
    if object_type == "job":
        job = parse_job(errors, body, loc, project_dir, in_repo)
        if job:
            defs.jobs.append(job)
    elif object_type == "nodeset":
        nodeset = parse_nodeset(errors, body, loc)
        if nodeset:
            defs.nodesets.append(nodeset)
    elif object_type in ("project", "project-template"):
        is_template = object_type == "project-template"
        project = parse_project(errors, body, loc, project_dir, in_repo, is_template)
        if project:
            (defs.templates if is_template else defs.projects).append(project)
    elif object_type == "pipeline":
        pipeline = parse_pipeline(errors, body, loc)
        if pipeline:
            defs.pipelines.append(pipeline)
    elif object_type == "secret":
        secret = parse_secret(errors, body, loc)
        if secret:
            secret.in_repo = in_repo
            defs.secrets.append(secret)
    else:
        obj = parse_driver_object(errors, body, loc, object_type)
        if obj and object_type == "provider" and not in_repo:  # in-repo ones are refused later
            obj.spec = parse_provider(errors, body, loc)
        if obj:
            obj.in_repo = in_repo
            (defs.connections if object_type == "connection" else defs.providers).append(obj)
