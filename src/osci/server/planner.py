"""Freezing an item's job graph: the central configuration, the in-repo one at the tested
revision on top, the project's pipeline jobs, and the branch and file matchers."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from osci.config import ConfigErrors, load_config
from osci.config.config import ConfigLookupError
from osci.executor.workspace import FULL_SHA
from osci.merger import repos
from osci.merger.speculate import DEFAULT_MODE, ChangeToTest, Merger, MergerError
from osci.scheduler.ports import Plan
from osci.scheduler.state import ItemState

# Where an item's project is fetched from, and the environment git needs for it (credentials).
FetchSource = Callable[[ItemState], Awaitable[tuple[str, dict[str, str]] | None]]
# Told the in-repo configuration files read at a branch (not a proposed change):
# (project, branch, commit, {path: text}).
BranchConfigSeen = Callable[[str, str | None, str, dict[str, str]], None]


class ConfigPlanner:
    def __init__(
        self,
        config: Callable[[], Any],
        source_of: Callable[[str], str | None],
        scratch: Path,
        *,
        merger: Merger | None = None,
        fetch_source: FetchSource | None = None,
        on_branch_config: BranchConfigSeen | None = None,
    ) -> None:
        self.config = config  # the current central configuration (it may be reloaded)
        self.source_of = source_of  # project -> repository path/URL
        self.scratch = scratch
        self.merger = merger  # proposed changes and remote repositories go through it
        self.fetch_source = fetch_source
        self.on_branch_config = on_branch_config  # what the dashboard shows as the projects' jobs

    async def plan(self, item: ItemState) -> Plan:
        central = self.config()
        files = None
        base = None
        if self.merger is not None and self.fetch_source is not None and needs_merger(item, self.source_of):
            prepared = await self._speculate(central, item)
            if isinstance(prepared, Plan):
                return prepared
            source, commit, files, base = prepared
        else:
            found = await self._local(item)
            if isinstance(found, Plan):
                return found
            source, commit = found
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
        if self.on_branch_config is not None and not is_change(item):
            self.on_branch_config(item.project, item.branch, commit, texts)
        try:
            jobs = config.project_jobs(item.project, item.pipeline, item.branch)
        except ConfigLookupError:
            jobs = []
        plan = Plan(source=Path(source), ref=commit, files=files, commits={item.project: commit})
        if base is not None:
            plan.bases = {item.project: base}
        if files is not None and item.files is None:
            item.files = files
        for job in jobs:
            if item.only_jobs is not None and job.name not in item.only_jobs:
                continue  # a culprit search's build runs the job under investigation only
            match = config.match(job, item.branch, item.files)
            if match.runs:
                plan.jobs.append(job)
            else:
                plan.not_run.append((job.name, list(match.reasons)))
        wanted = sorted({p for job in plan.jobs for p in job.required_projects if p != item.project})
        if wanted:
            required = await self._required(central, item, wanted)
            if isinstance(required, Plan):
                return required
            plan.projects = required
        return plan

    async def _required(
        self, central: Any, item: ItemState, names: list[str]
    ) -> dict[str, tuple[str, str]] | Plan:
        """Where each required project is cloned from and at which commit: the state a gate
        built for it under this item (the changes ahead of it), else its tip of the item's
        branch (or its default branch, when it has no such branch)."""
        found: dict[str, tuple[str, str]] = {}
        for index, name in enumerate(names):
            speculative = item.onto.get(name)
            if speculative is not None and self.merger is not None:
                found[name] = (str(self.merger.repo_path(name)), speculative)
                continue
            tip = ItemState(
                uuid=f"{item.uuid}-required-{index}",
                pipeline=item.pipeline,
                project=name,
                branch=item.branch,
                ref=f"refs/heads/{item.branch}" if item.branch else None,
                newrev=None,
            )
            if self.merger is not None and self.fetch_source is not None and needs_merger(tip, self.source_of):
                prepared = await self._speculate(central, tip)
                if isinstance(prepared, Plan):
                    return Plan(error=f"required project {name}: {prepared.error}", result=prepared.result)
                found[name] = (prepared[0], prepared[1])
                continue
            local = await self._local(tip)
            if isinstance(local, Plan) and tip.branch:  # no such branch there: its default branch
                tip.branch = tip.ref = None
                local = await self._local(tip)
            if isinstance(local, Plan):
                return Plan(error=f"required project {name}: {local.error}")
            found[name] = local
        return found

    async def _local(self, item: ItemState) -> tuple[str, str] | Plan:
        """The repository (a local folder) and the commit of an item tested as it is."""
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
        return source, commit

    async def _speculate(
        self, central: Any, item: ItemState
    ) -> tuple[str, str, list[str] | None, str | None] | Plan:
        """A proposed change fetched and merged onto its branch tip (or a remote branch fetched)
        in the merger's repository: (that repository, the commit to test, the changed files if
        the item came without them)."""
        assert self.merger is not None and self.fetch_source is not None
        try:
            found = await self.fetch_source(item)
        except Exception as exc:  # a connection that cannot say where: an infrastructure problem
            return Plan(error=f"cannot find where to fetch {item.project}: {exc}", result="ERROR")
        if found is None:
            return Plan(error=f"no connection serves project {item.project}")
        url, env = found
        mode = central.project_settings(item.project).merge_mode or DEFAULT_MODE
        change = ChangeToTest(
            project=item.project,
            url=url,
            branch=item.branch or "",
            ref=item.ref if is_change(item) else None,
            revision=item.newrev,
            mode=mode,
            env=env,
        )
        try:
            # in a gate, on the state of the items ahead of it in this project (when there are any)
            spec = await self.merger.prepare([change], item.uuid, onto=item.onto.get(item.project))
        except MergerError as exc:
            return Plan(error=f"could not prepare the change: {exc}", result="ERROR")
        if spec.conflict or spec.commit is None:
            return Plan(error=f"merge conflict: {spec.conflict}", result="MERGE_CONFLICT", source=spec.repo)
        files = None
        if is_change(item) and item.files is None and spec.change_commits:
            try:  # the review system did not say: what the change's own commit touches
                files = await self.merger.changed_files(item.project, spec.change_commits[-1])
            except MergerError:
                files = None
        return str(spec.repo), spec.commit, files, spec.base

    def _load_in_repo(self, central: Any, texts: dict[str, str], project: str, commit: str) -> Any:
        return load_in_repo(central, texts, project, commit, self.scratch)[0]


def load_in_repo(
    central: Any, texts: dict[str, str], project: str, commit: str, scratch: Path
) -> tuple[Any, str]:
    """The central configuration with the in-repo files on top (or the errors as a message),
    and the folder the files were read from: the objects' locations start with it."""
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="inrepo-", dir=scratch))
    try:
        files = []
        for name, text in texts.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            files.append(path)
        try:
            return central.merged_with(load_config(files, check_references=False), project=project), str(folder)
        except ConfigErrors as exc:
            errors = "\n".join(str(e).replace(str(folder) + "/", "") for e in exc.errors)
            return f"the in-repo configuration of {project} at {commit[:12]} does not load:\n{errors}", str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_change(item: ItemState) -> bool:
    """A proposed change (a Gerrit patchset, a pull or merge request): it has a change number
    and a ref of its own outside refs/heads and refs/tags, and a branch to go onto."""
    ref = item.ref or ""
    return bool(item.change and item.branch and ref and not ref.startswith(("refs/heads/", "refs/tags/")))


def needs_merger(item: ItemState, source_of: Callable[[str], str | None]) -> bool:
    """Changes are merged onto their branch; branches of remote repositories are fetched.
    Branches of local repositories are read where they are."""
    if is_change(item):
        return True
    if not item.branch:
        return False
    source = source_of(item.project)
    return source is not None and not Path(source).is_dir()
