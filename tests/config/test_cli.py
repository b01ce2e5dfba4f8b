"""`osci check-config` and `osci show-job`, through click and through the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from osci.cli.main import cli

GOOD = """
- pipeline: {name: check}
- job:
    name: base
    pre-run: scripts/setup.sh
- job:
    name: unit
    parent: base
    run: scripts/unit.sh
    files: ['^src/']
- job:
    name: unit
    branches: ^stable/
    voting: false
- project:
    name: org/p
    check:
      jobs: [unit]
"""


@pytest.fixture
def project(files):
    files.script("scripts/setup.sh")
    files.script("scripts/unit.sh")
    files.write("osci.yaml", GOOD)
    return files.root


def invoke(*args: str, cwd: Path):
    """Run `osci ARGS` in-process from the folder `cwd`."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_check_config_ok_in_current_folder(project) -> None:
    result = invoke("check-config", cwd=project)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "configuration OK: 2 jobs, 1 project, 1 pipeline, 0 nodesets, 0 project-templates (1 file)"
    )


def test_check_config_reports_every_error_and_exits_1(project, files) -> None:
    files.write("osci.d/bad.yaml", "- job: {name: a, tiemout: 1}\n- job: {name: b, run: nothere.sh}\n")
    result = invoke("check-config", cwd=project)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "osci.d/bad.yaml:1:18: error: job 'a': unknown key 'tiemout' (did you mean 'timeout'?)"
    assert lines[1].startswith(
        "osci.d/bad.yaml:2:23: error: job 'b': 'run': step 'nothere.sh' does not exist"
    )
    assert lines[-1] == "2 errors in configuration"
    assert "Traceback" not in result.output


def test_check_config_explicit_file_and_project_dir(project, files, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project / "osci.yaml")
    assert invoke("check-config", config, cwd=elsewhere).exit_code == 0  # a central file: steps unchecked
    result = invoke("check-config", config, "--project-dir", str(elsewhere), cwd=elsewhere)
    assert result.exit_code == 1
    assert "step 'scripts/setup.sh' does not exist" in result.stderr


def test_check_config_empty_folder(tmp_path) -> None:
    result = invoke("check-config", cwd=tmp_path)
    assert result.exit_code == 1
    assert "no configuration found" in result.stderr


def test_show_job_text(project) -> None:
    result = invoke("show-job", "unit", "--branch", "stable/1", "--file", "src/a.py", cwd=project)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "job: unit  (osci.yaml:5:3)" in out
    assert "  voting: false  (osci.yaml:13:13)" in out
    assert "    - scripts/setup.sh  (osci.yaml:4:14)" in out
    assert (
        "  1. base (job at osci.yaml:2)\n  2. unit (job at osci.yaml:5)\n  3. unit (job at osci.yaml:10)"
        in out
    )
    assert "runs: yes" in out
    assert "  - files: 'src/a.py' matches '^src/' (set at osci.yaml:9:12)" in out


def test_show_job_runs_no_with_reasons(project) -> None:
    result = invoke("show-job", "unit", "--file", "doc/x", cwd=project)
    assert result.exit_code == 0
    assert "runs: no\n  - files: no changed file matches any of ['^src/']" in result.stdout


def test_show_job_json(project) -> None:
    result = invoke("show-job", "unit", "--branch", "main", "--file", "src/x", "--json", cwd=project)
    data = json.loads(result.stdout)
    assert data["name"] == "unit"
    assert data["runs"] is True
    assert data["voting"] is True
    assert [s["path"] for s in data["pre-run"]] == ["scripts/setup.sh"]
    assert data["inheritance"] == ["base (job at osci.yaml:2)", "unit (job at osci.yaml:5)"]


def test_show_job_unknown_name(project) -> None:
    result = invoke("show-job", "uni", cwd=project)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown job 'uni' (did you mean 'unit'?)"


def test_show_job_with_broken_configuration(project, files) -> None:
    files.write("osci.yaml", "- job: {name: unit, voting: 2}\n")
    result = invoke("show-job", "unit", "--config", "osci.yaml", cwd=project)
    assert result.exit_code == 1
    assert result.stderr.startswith("osci.yaml:1:29: error: job 'unit': 'voting': expected true or false")


def test_installed_command(project) -> None:
    osci = Path(sys.executable).parent / "osci"
    result = subprocess.run(
        [str(osci), "check-config", "."], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration OK: 2 jobs")
