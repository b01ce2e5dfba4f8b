"""The in-repo configuration of each project at its default branch, for the dashboard.

Jobs are usually defined in the project's own `.osci.yaml`, so what a job is and where it
runs cannot be read from the central configuration alone. The planner tells this registry
what it read at a branch (never at a proposed change: a change's edits are not the
project's configuration until they merge); at start, projects in local repositories are read
at their default branch tip. Merged configurations are built lazily, once per central
configuration and tip, and their locations are shown as ``project:path:line``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from osci.config import Config
from osci.merger import repos
from osci.server.planner import load_in_repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Seen:
    commit: str
    texts: dict[str, str]


class RepoConfigs:
    def __init__(self, scratch: Path, default_branch: Callable[[str], str | None]) -> None:
        self.scratch = scratch
        self.default_branch = default_branch  # project -> its default branch (None: unknown)
        self._seen: dict[str, _Seen] = {}
        self._cache: tuple[Config, tuple[tuple[str, str], ...], list[Config], dict[str, str]] | None = None

    def seen(self, project: str, branch: str | None, commit: str, texts: dict[str, str]) -> None:
        """The planner read `texts` at `commit` of `project`'s `branch`."""
        default = self.default_branch(project)
        if branch and default and branch != default:
            return
        self._seen[project] = _Seen(commit, dict(texts))

    async def read_tip(self, project: str, source: str, branch: str | None) -> None:
        """Read a local repository's in-repo configuration at its default branch tip."""
        if not Path(source).is_dir():
            return  # remote repositories are learnt from the items the planner prepares
        rev = f"refs/heads/{branch}" if branch else "HEAD"
        try:
            commit = await repos.resolve(source, rev)
            if commit:
                self.seen(project, branch, commit, await repos.in_repo_config(source, commit))
        except repos.GitError as exc:
            log.info("cannot read the in-repo configuration of %s at %s: %s", project, rev, exc)

    def configs(self, central: Config) -> tuple[list[Config], dict[str, str]]:
        """The central configuration and, per project with in-repo files that load, the central
        one with them on top; and where their files were read (folder -> ``project:``)."""
        key = tuple(sorted((project, seen.commit) for project, seen in self._seen.items()))
        cached = self._cache
        if cached is not None and cached[0] is central and cached[1] == key:
            return cached[2], cached[3]
        configs: list[Config] = [central]
        places: dict[str, str] = {}
        for project, seen in sorted(self._seen.items()):
            if not seen.texts:
                continue
            loaded, folder = load_in_repo(central, seen.texts, project, seen.commit, self.scratch)
            if isinstance(loaded, str):
                log.info("%s", loaded)  # the planner reports it on the items; here it is only not shown
                continue
            configs.append(loaded)
            places[folder] = f"{project}:"
        self._cache = (central, key, configs, places)
        return configs, places
