"""Shared fixtures: write YAML files into a temporary project and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from osci.config import Config, ConfigErrors, load_config


class ConfigFiles:
    """Writes configuration files (dedented, first line = line 1) under a project folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def script(self, name: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\ntrue\n")
        return path

    def load(self, *names: str, project_dir: Path | None = None, check_references: bool = True) -> Config:
        paths = [self.root / n for n in names] or [self.root]
        return load_config(paths, project_dir=project_dir, check_references=check_references)

    def errors(self, *names: str, project_dir: Path | None = None) -> list[tuple[str, int, str]]:
        """(file name, line, message) of every error; fails if the configuration loads."""
        with pytest.raises(ConfigErrors) as info:
            self.load(*names, project_dir=project_dir)
        return [(Path(e.location.file).name, e.location.line, e.message) for e in info.value.errors]


@pytest.fixture
def files(tmp_path: Path) -> ConfigFiles:
    return ConfigFiles(tmp_path)


def find(errors: list[tuple[str, int, str]], text: str) -> list[tuple[str, int]]:
    """Where errors mentioning `text` are."""
    return [(f, line) for f, line, message in errors if text in message]


@pytest.fixture
def where():
    return find
