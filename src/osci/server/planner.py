"""Freezing an item's job graph: the central configuration, the in-repo one at the tested
revision on top, the project's pipeline jobs, and the branch and file matchers."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osci.config import ConfigErrors, load_config
from osci.config.config import ConfigLookupError
from osci.executor.workspace import FULL_SHA
from osci.merger import repos
from osci.scheduler.ports import Plan
from osci.scheduler.state import ItemState


class ConfigPlanner:
    def __init__(
        self, config: Callable[[], Any], source_of: Callable[[str], str | None], scratch: Path
    ) -> None:
        self.config = config  # the current central configuration (it may be reloaded)
        self.source_of = source_of  # project -> repository path/URL
        self.scratch = scratch

    async def plan(self, item: ItemState) -> Plan:
        central = self.config()
        source = self.source_of(item.project)
        if source is None:
            return Plan(error=f"no connection serves project {item.project}")
        rev = item.newrev or (f"refs/heads/{item.branch}" if item.branch else "HEAD")
        try:
            # A full sha needs no resolving: reading the tree below fails if it is missing.
            commit = rev if FULL_SHA.fullmatch(rev) else await repos.resolve(source, rev)
        except repos.GitError as exc:
            return Plan(error=f"cannot find {rev} in {item.project}: {exc}")
        if not commit:
            return Plan(error=f"cannot find {rev} in {item.project}")
        config = central
        try:
            texts = await repos.in_repo_config(source, commit)
        except repos.GitError as exc:
            return Plan(error=f"cannot read {commit} in {item.project}: {exc}")
        if texts:
            # parsing YAML is CPU work: off the event loop
            loaded = await asyncio.to_thread(self._load_in_repo, central, texts, item.project, commit)
            if isinstance(loaded, str):
                return Plan(error=loaded)
            config = loaded
        try:
            jobs = config.project_jobs(item.project, item.pipeline, item.branch)
        except ConfigLookupError:
            jobs = []
        plan = Plan(source=Path(source), ref=commit)
        for job in jobs:
            match = config.match(job, item.branch, item.files)
            if match.runs:
                plan.jobs.append(job)
            else:
                plan.not_run.append((job.name, list(match.reasons)))
        return plan

    def _load_in_repo(self, central: Any, texts: dict[str, str], project: str, commit: str) -> Any:
        """The central configuration with the in-repo files on top, or the errors as a message."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="inrepo-", dir=self.scratch))
        try:
            files = []
            for name, text in texts.items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                files.append(path)
            try:
                return central.merged_with(load_config(files, check_references=False), project=project)
            except ConfigErrors as exc:
                errors = "\n".join(str(e).replace(str(folder) + "/", "") for e in exc.errors)
                return f"the in-repo configuration of {project} at {commit[:12]} does not load:\n{errors}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
