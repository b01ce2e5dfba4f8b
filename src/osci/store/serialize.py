"""Turning osci.model objects into JSON-ready data for the store's JSON columns."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from osci.model import FrozenJob


def json_ready(value: Any) -> Any:
    """A JSON-serialisable copy of `value`: anything exotic becomes its str()."""
    return json.loads(json.dumps(value, default=str))


def job_graph(jobs: list[FrozenJob]) -> dict[str, Any]:
    """The frozen job graph of a buildset: every job, and what each depends on."""
    return json_ready(
        {
            "jobs": [asdict(job) for job in jobs],
            "dependencies": {job.name: list(job.dependencies) for job in jobs},
        }
    )
