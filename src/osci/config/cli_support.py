"""Loading configuration for a CLI command: errors printed as `file:line:col: error: ...`."""

from __future__ import annotations

from pathlib import Path

import click

from osci.config.config import Config, load_config
from osci.config.errors import ConfigErrors
from osci.config.loader import discover_config_files, is_in_repo_file


def print_errors(exc: ConfigErrors) -> None:
    for error in exc.errors:
        click.echo(f"{error.location}: error: {error.message}", err=True)
    count = len(exc.errors)
    click.echo(f"{count} error{'' if count == 1 else 's'} in configuration", err=True)


def default_project_dir(paths: list[Path]) -> Path | None:
    """Steps are checked relative to a folder given as PATH, or to an in-repo file's folder."""
    for path in paths:
        if path.is_dir():
            return path
        if is_in_repo_file(path):
            return path.parent.parent if path.parent.name == ".osci.d" else path.parent
    return None


def load_for_cli(config: Path | None, project_dir: Path | None) -> Config:
    """Discover (in `project_dir`, or the current folder, when `config` is None) and load;
    steps are checked relative to `project_dir` when given. On errors print them all and
    exit with status 1."""
    target = Path(config) if config is not None else Path(project_dir or ".")
    files = discover_config_files(target) if target.exists() else [target]
    if target.is_dir() and not files:
        click.echo(
            f"error: no configuration found in {target} (looked for osci.yaml, osci.d/*.yaml, "
            ".osci.yaml, .osci.d/*.yaml)",
            err=True,
        )
        raise click.exceptions.Exit(1)
    try:
        return load_config(files or [target], project_dir=Path(project_dir) if project_dir else None)
    except ConfigErrors as exc:
        print_errors(exc)
        raise click.exceptions.Exit(1) from None
