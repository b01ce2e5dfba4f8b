"""The frozen job: what the executor needs after inheritance and variants are applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceLocation:
    """Where a configuration object was written: for errors and for `show-job`."""

    file: str
    line: int  # 1-based
    column: int = 1  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Step:
    """One executable of a phase: a path relative to the project, or an inline shell script."""

    path: str | None = None
    script: str | None = None
    location: SourceLocation | None = None

    @property
    def label(self) -> str:
        if self.path is not None:
            return self.path
        first = (self.script or "").strip().splitlines()[:1]
        return "script: " + (first[0][:60] if first else "")


@dataclass(frozen=True)
class NodeRequest:
    name: str
    label: str
    requires: tuple[str, ...] = ()  # capabilities the node must provide (osci addition)


@dataclass(frozen=True)
class Nodeset:
    name: str | None = None
    nodes: tuple[NodeRequest, ...] = ()


@dataclass
class FrozenJob:
    """A job after inheritance and variants: exactly what runs."""

    name: str
    description: str = ""
    parent: str | None = None
    nodeset: Nodeset = field(default_factory=Nodeset)
    pre_run: list[Step] = field(default_factory=list)
    run: list[Step] = field(default_factory=list)
    post_run: list[Step] = field(default_factory=list)
    timeout: float | None = None  # seconds, for the whole build attempt's pre-run + run
    post_timeout: float | None = None  # seconds for post-run
    attempts: int = 3
    voting: bool = True
    files: list[str] = field(default_factory=list)
    irrelevant_files: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    test_results: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # paths of JSON metrics files, relative to the workspace
    # other projects checked out beside the workspace (at the gate's speculative state, if any)
    required_projects: list[str] = field(default_factory=list)
    inheritance: list[str] = field(default_factory=list)  # "job (file:line)" entries applied, in order
    location: SourceLocation | None = None


def job_to_dict(job: FrozenJob) -> dict:
    """A frozen job as plain data (for the store's job graph and for build.json)."""
    from dataclasses import asdict

    return asdict(job)


def job_from_dict(data: dict) -> FrozenJob:
    """The inverse of `job_to_dict`; unknown keys (from newer versions) are ignored."""
    known = set(FrozenJob.__dataclass_fields__)
    fields = {k: v for k, v in data.items() if k in known}

    def location(value: dict | None) -> SourceLocation | None:
        return SourceLocation(**value) if value else None

    def steps(values: list) -> list[Step]:
        return [
            Step(path=s.get("path"), script=s.get("script"), location=location(s.get("location")))
            for s in values
        ]

    for phase in ("pre_run", "run", "post_run"):
        fields[phase] = steps(fields.get(phase) or [])
    nodeset = fields.get("nodeset") or {}
    fields["nodeset"] = Nodeset(
        name=nodeset.get("name"),
        nodes=tuple(
            NodeRequest(name=n["name"], label=n["label"], requires=tuple(n.get("requires", ())))
            for n in nodeset.get("nodes", ())
        ),
    )
    fields["location"] = location(fields.get("location"))
    return FrozenJob(**fields)
