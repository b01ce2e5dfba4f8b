"""`osci functional DEPLOYMENT` and `osci stress DEPLOYMENT`: a branch's suites against a deployment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from osci.analysis.perfcompare import Comparison, compare
from osci.cli.localopts import common_options, default_build_root, parse_vars
from osci.cli.output import Output
from osci.cli.run import run_jobs
from osci.harness import deployment as deployments


def _load_deployment(name: str, config_dir: Path, build_root: Path) -> dict[str, str]:
    try:
        deployment = deployments.load(name, config_dir)
    except deployments.DeploymentError as exc:
        raise click.ClickException(str(exc)) from None
    resolved = deployment.write(build_root / f"deployment-{name}.json")
    return deployment.environment(resolved)


def deployment_options(func):
    func = click.option(
        "--deployment-config-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("deployments"),
        show_default=True,
        help="Folder holding DEPLOYMENT.json or DEPLOYMENT.yaml.",
    )(func)
    return click.argument("deployment")(func)


def _run_tagged(
    tag: str, deployment: str, deployment_config_dir: Path, options: dict, json_path: Path | None
) -> int:
    build_root = default_build_root(options.pop("build_root"))
    env = _load_deployment(deployment, deployment_config_dir, build_root)
    return run_jobs(
        names=[],
        pipeline=None,
        tag=tag,
        config_path=options["config_path"],
        project_dir=options["project_dir"],
        project=options["project_name"],
        ref=options["ref"],
        branch=options["branch"],
        var_overrides=parse_vars(options["var_pairs"]),
        parallel=options["parallel"],
        json_path=json_path,
        build_root=build_root,
        quiet=options["quiet"],
        extra_env=env,
    )


@click.command("functional")
@deployment_options
@common_options
def functional_command(
    deployment: str, deployment_config_dir: Path, json_path: Path | None, **options
) -> None:
    """Run the jobs tagged `functional` against DEPLOYMENT."""
    raise SystemExit(_run_tagged("functional", deployment, deployment_config_dir, options, json_path))


def _format_number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:g}"


def print_comparison(out: Output, rows: list[Comparison], threshold: float) -> None:
    out.line(f"Metrics against the baseline (threshold {threshold:.1%}):")
    header = ("JOB", "METRIC", "BASELINE", "CURRENT", "CHANGE", "VERDICT")
    table = [header]
    for row in rows:
        change = "-" if row.verdict in ("new", "missing") else f"{row.change:+.1%}"
        unit = f" {row.unit}" if row.unit else ""
        table.append(
            (
                row.job,
                row.metric,
                _format_number(row.baseline) + unit,
                _format_number(row.current) + unit,
                change,
                row.verdict.upper(),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    styles = {"REGRESSION": "bold red", "IMPROVEMENT": "bold green"}
    for r in table:
        out.line(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), style=styles.get(r[-1])
        )


@click.command("stress")
@deployment_options
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A --json output of an earlier run.",
)
@click.option(
    "--threshold",
    type=float,
    default=5.0,
    show_default=True,
    help="Percent change that counts as a regression.",
)
@common_options
def stress_command(
    deployment: str,
    deployment_config_dir: Path,
    baseline: Path | None,
    threshold: float,
    json_path: Path | None,
    **options,
) -> None:
    """Run the jobs tagged `stress` against DEPLOYMENT, collect their metrics, compare with a baseline.

    Exits non-zero when a build failed or a metric regressed beyond --threshold percent.
    """
    baseline_data = None
    if baseline is not None:
        try:
            baseline_data = json.loads(baseline.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise click.ClickException(f"{baseline}: not a JSON output of osci: {exc}") from None
    options["build_root"] = default_build_root(options["build_root"])
    out_json = json_path or options["build_root"] / "results.json"
    code = _run_tagged("stress", deployment, deployment_config_dir, options, out_json)
    if baseline_data is None:
        raise SystemExit(code)
    current = json.loads(out_json.read_text())
    rows = compare(baseline_data, current, threshold / 100.0)
    out = Output()
    print_comparison(out, rows, threshold / 100.0)
    regressions = [r for r in rows if r.verdict == "regression"]
    current["comparison"] = {
        "baseline": str(baseline),
        "threshold": threshold,
        "rows": [r.to_dict() for r in rows],
    }
    out_json.write_text(json.dumps(current, indent=2, default=str) + "\n")
    if regressions:
        out.line(f"osci: {len(regressions)} metric(s) regressed beyond {threshold:g}%", style="bold red")
        raise SystemExit(1)
    raise SystemExit(code)
