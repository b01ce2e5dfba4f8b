"""`osci functional` and `osci stress` against a deployment, end to end."""

import json
import shutil
from pathlib import Path

from .conftest import osci, write

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deployments"  # a copy of shared/fixtures


def make_project(root: Path, latency: str = "100") -> None:
    write(
        root / ".osci.yaml",
        f"""
        - job:
            name: api-functional
            tags: [functional]
            run: [{{script: 'echo "api on $OSCI_ROLE_API ($OSCI_ROLE_API_ADDRESSES)"; test -f "$OSCI_DEPLOYMENT"'}}]
        - job:
            name: unrelated
            run: [{{script: "exit 1"}}]
        - job:
            name: api-stress
            tags: [stress]
            metrics: [metrics.json]
            run: [{{script: 'echo {{\\"latency\\": {{\\"value\\": {latency}, \\"unit\\": \\"ms\\"}}, \\"rate\\": {{\\"value\\": 500, \\"unit\\": \\"req/s\\"}}}} > metrics.json'}}]
        """,
    )
    shutil.copytree(FIXTURES, root / "deployments")


def test_functional_runs_only_functional_jobs_with_roles(project: Path, tmp_path: Path):
    make_project(project)
    out = tmp_path / "f.json"
    result = osci(
        "functional",
        "basic",
        "--project-dir",
        str(project),
        "--deployment-config-dir",
        str(project / "deployments"),
        "--json",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    builds = json.loads(out.read_text())["builds"]
    assert [b["job"] for b in builds] == ["api-functional"]
    log = (Path(builds[0]["build_dir"]) / "job-output.txt").read_text()
    assert "api on host1 (192.0.2.11)" in log


def test_unknown_deployment_lists_available(project: Path, tmp_path: Path):
    make_project(project)
    result = osci(
        "functional",
        "big",
        "--project-dir",
        str(project),
        "--deployment-config-dir",
        str(project / "deployments"),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "available: basic" in result.stderr


def test_stress_compares_metrics_with_baseline(project: Path, tmp_path: Path):
    make_project(project, latency="100")
    base = tmp_path / "base.json"
    args = ["--project-dir", str(project), "--deployment-config-dir", str(project / "deployments")]
    first = osci("stress", "basic", *args, "--json", str(base), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(base.read_text())["builds"][0]["metrics"]["latency"] == {"value": 100.0, "unit": "ms"}

    same = osci("stress", "basic", *args, "--baseline", str(base), cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "UNCHANGED" in same.stdout

    make_project_again = project / ".osci.yaml"
    make_project_again.write_text(
        make_project_again.read_text().replace('\\"value\\": 100', '\\"value\\": 130')
    )
    worse = osci(
        "stress", "basic", *args, "--baseline", str(base), "--json", str(tmp_path / "w.json"), cwd=tmp_path
    )
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION" in worse.stdout
    rows = json.loads((tmp_path / "w.json").read_text())["comparison"]["rows"]
    latency = next(r for r in rows if r["metric"] == "latency")
    assert latency["verdict"] == "regression"

    lenient = osci("stress", "basic", *args, "--baseline", str(base), "--threshold", "50", cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stdout
