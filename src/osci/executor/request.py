"""What to build: one job, one source, one build directory."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.model import FrozenJob


@dataclass
class BuildRequest:
    job: FrozenJob
    build_dir: Path  # created; holds job-output.txt, build.json, junit.xml, index.html, artifacts/, logs/
    source: Path  # a git repository (cloned at `ref`) or a plain/working directory (copied)
    ref: str | None = None  # None: copy the working directory as it is (uncommitted changes included)
    project: str = ""
    branch: str | None = None
    change: str | None = None
    uuid: str = field(default_factory=lambda: uuid_module.uuid4().hex)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. deployment variables
    var_overrides: dict[str, Any] = field(default_factory=dict)  # --var K=V, applied over job.vars
    workspace_root: Path | None = None  # where fresh workspaces are made (default: a temp dir)
    keep_workspace: bool = False
    prepared: bool = False  # the workspace is already there (an agent unpacked what the server sent)
    # the job's required projects: name -> (repository, commit), cloned under .osci/projects/<name>
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Callers may hand in strings; an empty ref means "no ref".
        self.build_dir = Path(self.build_dir)
        self.source = Path(self.source)
        if self.workspace_root is not None:
            self.workspace_root = Path(self.workspace_root)
        if not self.ref:
            self.ref = None

    def variables(self) -> dict[str, Any]:
        merged = dict(self.job.vars)
        merged.update(self.var_overrides)
        return merged
