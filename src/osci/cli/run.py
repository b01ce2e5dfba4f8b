"""`osci run`: run jobs on this machine exactly as the CI system would."""

from __future__ import annotations

from pathlib import Path

import click

from osci.cli.localopts import (
    common_options,
    default_build_root,
    execute,
    exit_code,
    parse_vars,
    write_json,
)
from osci.cli.output import Output
from osci.config import load_for_cli
from osci.harness.localrun import LocalRun
from osci.harness.selection import SelectionError, git_branch, project_name, select


@click.command("run")
@click.argument("job_names", nargs=-1, metavar="[JOB]...")
@click.option("--pipeline", help="Run every job the project runs in this pipeline.")
@common_options
def run_command(
    job_names: tuple[str, ...],
    pipeline: str | None,
    config_path: Path | None,
    project_dir: Path,
    project_name: str | None,
    ref: str | None,
    branch: str | None,
    var_pairs: tuple[str, ...],
    parallel: int,
    json_path: Path | None,
    build_root: Path | None,
    quiet: bool,
) -> None:
    """Run JOBs (or a project's pipeline) locally, in dependency order, independent jobs in parallel.

    Exits 0 if and only if every voting build succeeded.
    """
    code = run_jobs(
        names=list(job_names),
        pipeline=pipeline,
        tag=None,
        config_path=config_path,
        project_dir=project_dir,
        project=project_name,
        ref=ref,
        branch=branch,
        var_overrides=parse_vars(var_pairs),
        parallel=parallel,
        json_path=json_path,
        build_root=build_root,
        quiet=quiet,
    )
    raise SystemExit(code)


def run_jobs(
    *,
    names: list[str],
    pipeline: str | None,
    tag: str | None,
    config_path: Path | None,
    project_dir: Path,
    project: str | None,
    ref: str | None,
    branch: str | None,
    var_overrides: dict,
    parallel: int,
    json_path: Path | None,
    build_root: Path | None,
    quiet: bool,
    extra_env: dict[str, str] | None = None,
    out: Output | None = None,
) -> int:
    out = out or Output()
    project_dir = project_dir.resolve()
    if not project_dir.is_dir():
        raise click.ClickException(f"project directory {project_dir} does not exist")
    config = load_for_cli(config_path, project_dir)
    branch = branch or git_branch(project_dir)
    name = project_name(config, project_dir, project)
    try:
        selection = select(config, names=names, pipeline=pipeline, project=name, branch=branch, tag=tag)
    except SelectionError as exc:
        raise click.ClickException(str(exc)) from None
    run = LocalRun(
        project_dir=project_dir,
        build_root=default_build_root(build_root),
        project=name,
        ref=ref,
        branch=branch,
        parallel=parallel,
        var_overrides=var_overrides,
        extra_env=extra_env or {},
    )
    records = execute(selection, run, out, lambda job: config.freeze_job(job, branch), quiet)
    out.failed_tests(records)
    out.builds_table(records)
    if json_path:
        write_json(json_path, records)
    return exit_code(records)
