"""`osci check-config` and `osci show-job`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from osci.config import ConfigErrors, ConfigLookupError, load_config
from osci.config.cli_support import default_project_dir, load_for_cli, print_errors
from osci.config.loader import discover_config_files
from osci.config.render import job_to_dict, job_to_text

_path = click.Path(path_type=Path)


@click.command("check-config")
@click.argument("paths", nargs=-1, type=_path)
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Check that steps exist relative to this folder.",
)
def check_config_command(paths: tuple[Path, ...], project_dir: Path | None) -> None:
    """Load configuration files or folders and report every error as file:line:col."""
    targets = list(paths) or [Path(".")]
    files: list[Path] = []
    for target in targets:
        found = discover_config_files(target) if target.exists() else [target]
        if target.is_dir() and not found:
            click.echo(f"error: no configuration found in {target}", err=True)
            raise click.exceptions.Exit(1)
        files += found
    if project_dir is None:
        project_dir = default_project_dir(targets)
    try:
        config = load_config(files, project_dir=project_dir)
    except ConfigErrors as exc:
        print_errors(exc)
        raise click.exceptions.Exit(1) from None
    count = len(config.files)
    click.echo(f"configuration OK: {config.summary()} ({count} file{'' if count == 1 else 's'})")


@click.command("show-job")
@click.argument("name")
@click.option(
    "--config", "config_path", type=_path, help="A configuration file or folder (default: this folder)."
)
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Check steps relative to this folder.",
)
@click.option("--branch", help="The branch to select variants and matchers for.")
@click.option(
    "--file", "files", multiple=True, help="A changed file (repeat); without any, file matchers pass."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show_job_command(
    name: str,
    config_path: Path | None,
    project_dir: Path | None,
    branch: str | None,
    files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show a job after inheritance and variants, and whether it runs for a branch and files."""
    if project_dir is None:
        project_dir = default_project_dir([config_path]) if config_path else Path(".")
    config = load_for_cli(config_path, project_dir)
    changed = list(files) if files else None
    try:
        job = config.freeze_job(name, branch)
    except ConfigLookupError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    match = config.match(job, branch, changed)
    if as_json:
        data = job_to_dict(job)
        data.update(branch=branch, changed_files=changed, runs=match.runs, reasons=match.reasons)
        click.echo(json.dumps(data, indent=2))
        return
    for line in job_to_text(job):
        click.echo(line)
    click.echo(f"branch: {branch if branch is not None else '(any)'}")
    click.echo(f"changed files: {', '.join(changed) if changed else '(unknown)'}")
    click.echo(f"runs: {'yes' if match.runs else 'no'}")
    for reason in match.reasons:
        click.echo(f"  - {reason}")
