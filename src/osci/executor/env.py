"""The environment of every step. This list is documented API: jobs rely on it.

A step sees `os.environ` of the osci process, plus:

==================  =====================================================================
variable            value
==================  =====================================================================
``OSCI_JOB``        the job's name
``OSCI_BUILD``      the build's uuid
``OSCI_ATTEMPT``    the attempt number, from 1
``OSCI_WORKSPACE``  the fresh workspace (also the step's working directory)
``OSCI_LOG_DIR``    ``<build dir>/logs``: files put here are kept with the build
``OSCI_ARTIFACTS``  ``<build dir>/artifacts``: files put here are listed as artifacts
``OSCI_PROJECT``    the project name (may be empty)
``OSCI_BRANCH``     the branch (may be empty)
``OSCI_REF``        the git ref tested (empty when a working directory was copied)
``OSCI_CHANGE``     the change (patchset, pull request...; may be empty)
``OSCI_VARS``       path of a JSON file holding the job's vars (after ``--var`` overrides)
``<VAR>``           each top-level var whose name is a shell identifier: strings as they
                    are, other values as JSON (names starting with ``OSCI_`` are reserved;
                    values over 64 KiB are only in the ``OSCI_VARS`` file)
``OSCI_TREE``       an opaque marker used to find and kill the step's processes
==================  =====================================================================

Precedence, lowest first: ``os.environ``, job vars, the request's ``extra_env``
(e.g. deployment variables), the ``OSCI_*`` variables.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osci.executor.proctree import marker_env

MAX_VAR_BYTES = 64 * 1024  # Linux refuses to exec with one environment string over 128 KiB
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class StepContext:
    """What the environment is made of, for one attempt."""

    job: str
    build: str
    attempt: int
    workspace: Path
    log_dir: Path
    artifacts: Path
    vars_file: Path
    marker: str
    project: str = ""
    branch: str | None = None
    ref: str | None = None
    change: str | None = None


def var_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def vars_env(variables: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The vars exportable as environment variables, and the names that were left out (and why)."""
    env: dict[str, str] = {}
    skipped: list[str] = []
    for name, value in variables.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            skipped.append(f"{name!r} (not a shell identifier)")
        elif name.startswith("OSCI_"):
            skipped.append(f"{name} (OSCI_ names are reserved)")
        else:
            text = var_value(value)
            if "\0" in text:
                skipped.append(f"{name} (value contains a NUL character)")
            elif len(text.encode("utf-8")) > MAX_VAR_BYTES:
                skipped.append(f"{name} (value longer than {MAX_VAR_BYTES} bytes; read it from OSCI_VARS)")
            else:
                env[name] = text
    return env, skipped


def step_env(ctx: StepContext, variables: dict[str, Any], extra_env: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(vars_env(variables)[0])
    env.update({str(k): str(v) for k, v in extra_env.items()})
    env.update(
        {
            "OSCI_JOB": ctx.job,
            "OSCI_BUILD": ctx.build,
            "OSCI_ATTEMPT": str(ctx.attempt),
            "OSCI_WORKSPACE": str(ctx.workspace),
            "OSCI_LOG_DIR": str(ctx.log_dir),
            "OSCI_ARTIFACTS": str(ctx.artifacts),
            "OSCI_PROJECT": ctx.project,
            "OSCI_BRANCH": ctx.branch or "",
            "OSCI_REF": ctx.ref or "",
            "OSCI_CHANGE": ctx.change or "",
            "OSCI_VARS": str(ctx.vars_file),
        }
    )
    env.update(marker_env(ctx.marker))
    return env


def remote_step_env(request: Any, attempt: int, variables: dict[str, Any], marker: str, root: Path) -> dict[str, str]:
    """The environment of a step run on another machine (a lab host, a container): the job's
    vars, the request's extra variables and the OSCI_* variables pointing at `root` there
    (`root/ws`, `root/.osci/...`), without this machine's own environment."""
    ctx = StepContext(
        job=request.job.name,
        build=request.uuid,
        attempt=attempt,
        workspace=root / "ws",
        log_dir=root / ".osci" / "logs",
        artifacts=root / ".osci" / "artifacts",
        vars_file=root / ".osci" / "vars.json",
        marker=marker,
        project=request.project,
        branch=request.branch,
        ref=request.ref,
        change=request.change,
    )
    env = dict(vars_env(variables)[0])
    env.update({str(k): str(v) for k, v in request.extra_env.items()})
    env.update({k: v for k, v in step_env(ctx, {}, {}).items() if k.startswith("OSCI_")})
    env.update(marker_env(marker))
    return env


def write_vars_file(path: Path, variables: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(variables, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
