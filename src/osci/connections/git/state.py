"""The last refs seen per project, persisted so a restart neither misses nor repeats pushes."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class RefState:
    """{project: {ref: commit}} in one JSON file, replaced atomically on every save."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._projects: dict[str, dict[str, str]] = self._load()

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # A corrupt file must not stop the connection; every project is then seen afresh.
            log.warning("ignoring unreadable ref state %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(project): {str(r): str(s) for r, s in refs.items()}
            for project, refs in data.items()
            if isinstance(refs, dict)
        }

    def get(self, project: str) -> dict[str, str] | None:
        """The refs last recorded for `project`, or None if it was never seen."""
        refs = self._projects.get(project)
        return dict(refs) if refs is not None else None

    def set_ref(self, project: str, ref: str, commit: str | None) -> None:
        """Record one ref (None deletes it) and save."""
        refs = self._projects.setdefault(project, {})
        if commit is None:
            refs.pop(ref, None)
        else:
            refs[ref] = commit
        self.save()

    def set_project(self, project: str, refs: dict[str, str]) -> None:
        self._projects[project] = dict(refs)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self._projects, separators=(",", ":")))  # written on every ref update: compact
        os.replace(tmp, self.path)
