"""A frozen job as plain data (for JSON) and as readable text (for `osci show-job`)."""

from __future__ import annotations

import json
from typing import Any

from osci.model import FrozenJob, Nodeset, Step


def _step(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"path": step.path} if step.path is not None else {"script": step.script}
    if step.location is not None:
        data["location"] = str(step.location)
    return data


def _nodeset(nodeset: Nodeset) -> dict[str, Any]:
    return {
        "name": nodeset.name,
        "nodes": [{"name": n.name, "label": n.label, "requires": list(n.requires)} for n in nodeset.nodes],
    }


def job_to_dict(job: FrozenJob) -> dict[str, Any]:
    """Every attribute of the frozen job, JSON-ready."""
    data: dict[str, Any] = {
        "name": job.name,
        "description": job.description,
        "parent": job.parent,
        "abstract": getattr(job, "abstract", False),
        "final": getattr(job, "final", False),
        "nodeset": _nodeset(job.nodeset),
        "pre-run": [_step(s) for s in job.pre_run],
        "run": [_step(s) for s in job.run],
        "post-run": [_step(s) for s in job.post_run],
        "timeout": job.timeout,
        "post-timeout": job.post_timeout,
        "attempts": job.attempts,
        "voting": job.voting,
        "branches": list(job.branches),
        "files": list(job.files),
        "irrelevant-files": list(job.irrelevant_files),
        "dependencies": list(job.dependencies),
        "soft-dependencies": list(getattr(job, "soft_dependencies", [])),
        "vars": json.loads(json.dumps(job.vars, default=str)),
        "tags": list(job.tags),
        "required-projects": list(job.required_projects),
        "test-results": list(job.test_results),
        "metrics": list(job.metrics),
        "inheritance": list(job.inheritance),
        "location": str(job.location) if job.location else None,
    }
    provenance = getattr(job, "provenance", None)
    if provenance:
        data["provenance"] = {k: str(v) for k, v in provenance.items()}
    return data


def _steps_text(steps: list[Step]) -> list[str]:
    lines = []
    for step in steps:
        where = f"  ({step.location})" if step.location else ""
        lines.append(f"    - {step.label}{where}")
    return lines


def job_to_text(job: FrozenJob) -> list[str]:
    """Readable lines: attributes with where they were set, then the inheritance chain."""
    data = job_to_dict(job)
    provenance = data.get("provenance", {})

    def where(attribute: str) -> str:
        return f"  ({provenance[attribute]})" if attribute in provenance else ""

    lines = [f"job: {job.name}" + (f"  ({job.location})" if job.location else "")]
    for key in ("description", "parent", "abstract", "final"):
        if data[key] not in (None, "", False):
            value = json.dumps(data[key]) if isinstance(data[key], bool) else data[key]
            lines.append(f"  {key}: {value}{where(key)}")
    if job.nodeset.nodes or job.nodeset.name:
        lines.append(f"  nodeset: {job.nodeset.name or '(inline)'}{where('nodeset')}")
        for node in job.nodeset.nodes:
            requires = f" requires {', '.join(node.requires)}" if node.requires else ""
            lines.append(f"    - {node.name}: label {node.label}{requires}")
    for key, steps in (("pre-run", job.pre_run), ("run", job.run), ("post-run", job.post_run)):
        if steps:
            lines.append(f"  {key}:")
            lines += _steps_text(steps)
    for key in ("timeout", "post-timeout", "attempts", "voting"):
        if data[key] is not None:
            lines.append(f"  {key}: {json.dumps(data[key])}{where(key)}")
    for key in ("branches", "files", "irrelevant-files", "tags", "required-projects", "test-results", "metrics"):
        if data[key]:
            lines.append(f"  {key}: {', '.join(data[key])}{where(key)}")
    if job.dependencies:
        soft = set(data["soft-dependencies"])
        shown = [f"{d} (soft)" if d in soft else d for d in job.dependencies]
        lines.append(f"  dependencies: {', '.join(shown)}{where('dependencies')}")
    if job.vars:
        lines.append(f"  vars:{where('vars')}")
        lines += [f"    {line}" for line in json.dumps(data["vars"], indent=2, sort_keys=True).splitlines()]
    lines.append("inheritance (applied in this order):")
    lines += [f"  {n}. {entry}" for n, entry in enumerate(job.inheritance, 1)]
    return lines
