"""`osci run` end to end: a real project folder, real processes, the real command."""

import json
import subprocess
from pathlib import Path

from .conftest import osci, write


def make_project(root: Path) -> None:
    write(
        root / ".osci.yaml",
        """
        - job:
            name: build
            run: [{script: "echo building; echo $greeting; echo $OSCI_JOB > $OSCI_ARTIFACTS/who"}]
            vars: {greeting: hello}
        - job:
            name: unit
            dependencies: [build]
            run: [{script: "exit 1"}]
        - job:
            name: deploy
            dependencies: [unit]
            run: [{script: "echo deploying"}]
        - job:
            name: docs
            voting: false
            dependencies: [build]
            run: [{script: "echo docs"}]
        - project:
            check:
              jobs: [build, unit, deploy, docs]
        """,
    )


def test_dependency_order_skips_dependents_and_writes_json(project: Path, tmp_path: Path):
    make_project(project)
    out = tmp_path / "run.json"
    result = osci("run", "--project-dir", str(project), "--json", str(out), "-j", "2", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    builds = {b["job"]: b for b in json.loads(out.read_text())["builds"]}
    assert builds["build"]["result"] == "SUCCESS"
    assert builds["unit"]["result"] == "FAILURE"
    assert builds["deploy"]["result"] == "SKIPPED"
    assert "dependency unit ended FAILURE" in builds["deploy"]["reason"]
    assert builds["docs"]["result"] == "SUCCESS"
    assert builds["docs"]["voting"] is False
    for key in ("job", "result", "attempts", "voting", "duration", "tests", "build_dir"):
        assert key in builds["build"]
    assert set(builds["build"]["tests"]) == {"passed", "failed", "error", "skipped"}
    build_dir = Path(builds["build"]["build_dir"])
    assert (build_dir / "artifacts" / "who").read_text().strip() == "build"
    assert "hello" in (build_dir / "job-output.txt").read_text()
    assert "SKIPPED" in result.stdout


def test_exit_zero_when_only_non_voting_jobs_fail(project: Path, tmp_path: Path):
    write(
        project / ".osci.yaml",
        """
        - job: {name: ok, run: [{script: "true"}]}
        - job: {name: flaky-extra, voting: false, run: [{script: "false"}]}
        """,
    )
    result = osci("run", "--project-dir", str(project), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_named_job_pulls_in_its_dependencies_and_var_override(project: Path, tmp_path: Path):
    make_project(project)
    out = tmp_path / "r.json"
    result = osci(
        "run",
        "build",
        "--project-dir",
        str(project),
        "--var",
        "greeting=bonjour",
        "--json",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (build,) = json.loads(out.read_text())["builds"]
    assert "bonjour" in (Path(build["build_dir"]) / "job-output.txt").read_text()


def test_unknown_job_is_a_clear_error(project: Path, tmp_path: Path):
    make_project(project)
    result = osci("run", "biuld", "--project-dir", str(project), cwd=tmp_path)
    assert result.returncode != 0
    assert "unknown job(s): biuld" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_config_names_file_and_line(project: Path, tmp_path: Path):
    write(project / ".osci.yaml", "- job:\n    name: x\n    rnu: foo\n")
    result = osci("run", "--project-dir", str(project), cwd=tmp_path)
    assert result.returncode == 1
    assert ".osci.yaml:3:" in result.stderr
    assert "Traceback" not in result.stderr


def test_ref_tests_a_clean_clone_not_the_working_tree(project: Path, tmp_path: Path):
    write(project / ".osci.yaml", '- job: {name: show, run: [{script: "cat state.txt"}]}\n')
    write(project / "state.txt", "committed\n")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    (project / "state.txt").write_text("uncommitted\n")
    out = tmp_path / "r.json"
    assert (
        osci(
            "run", "--project-dir", str(project), "--ref", "main", "--json", str(out), cwd=tmp_path
        ).returncode
        == 0
    )
    log = (Path(json.loads(out.read_text())["builds"][0]["build_dir"]) / "job-output.txt").read_text()
    assert "committed" in log and "uncommitted" not in log
    assert osci("run", "--project-dir", str(project), "--json", str(out), cwd=tmp_path).returncode == 0
    log = (Path(json.loads(out.read_text())["builds"][0]["build_dir"]) / "job-output.txt").read_text()
    assert "uncommitted" in log


def test_example_project_shows_pass_failure_and_setup_error(tmp_path: Path):
    examples = Path(__file__).resolve().parents[2] / "examples"
    out = tmp_path / "r.json"
    result = osci("run", "-q", "--project-dir", str(examples), "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    builds = {b["job"]: b for b in json.loads(out.read_text())["builds"]}
    assert builds["unit-tests"]["result"] == "SUCCESS"
    assert builds["unit-tests"]["tests"]["passed"] == 2
    assert builds["integration-tests"]["result"] == "FAILURE"
    assert builds["integration-tests"]["tests"]["failed"] == 1
    assert builds["lab-smoke"]["result"] == "RETRY_LIMIT"
    assert builds["lab-smoke"]["attempts"] == 2
    assert "test_divide_by_zero_is_reported" in result.stdout
