"""Freezing an item's job graph: the central configuration, the in-repo one at the tested
revision on top, the project's pipeline jobs, and the branch and file matchers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osci.config import ConfigErrors, load_config
from osci.config.config import ConfigLookupError
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
            commit = await repos.resolve(source, rev)
        except repos.GitError as exc:
            return Plan(error=f"cannot find {rev} in {item.project}: {exc}")
        if not commit:
            return Plan(error=f"cannot find {rev} in {item.project}")
        config = central
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="inrepo-", dir=self.scratch))
        try:
            files = await repos.in_repo_config(source, commit, folder)
            if files:
                try:
                    in_repo = load_config(files, check_references=False)
                    config = central.merged_with(in_repo, project=item.project)
                except ConfigErrors as exc:
                    where = f"{item.project} at {commit[:12]}"
                    errors = "\n".join(str(e).replace(str(folder) + "/", "") for e in exc.errors)
                    return Plan(error=f"the in-repo configuration of {where} does not load:\n{errors}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
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
