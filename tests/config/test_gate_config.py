"""The gate keys of a pipeline: Zuul's window defaults, osci's failure-policy, errors with file:line."""

from __future__ import annotations


def test_gate_defaults_and_policy(files) -> None:
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: gate
            manager: dependent
            failure-policy: zuul
            trigger: {timer: [{time: "0 4 * * *"}]}
        - pipeline:
            name: deploy
            manager: serial
            trigger: {timer: [{time: "0 5 * * *"}]}
        """,
    )
    config = files.load()
    gate, deploy = config.pipelines["gate"], config.pipelines["deploy"]
    assert (gate.window, gate.window_floor, gate.window_ceiling) == (20, 3, None)
    assert (gate.window_increase_type, gate.window_increase_factor) == ("linear", 1)
    assert (gate.window_decrease_type, gate.window_decrease_factor) == ("exponential", 2)
    assert (gate.failure_policy, deploy.failure_policy) == ("zuul", "screen")


def test_gate_key_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: gate
            manager: dependent
            failure-policy: bisect
            window-floor: 5
            window-ceiling: 4
            window-increase-type: quadratic
            trigger: {timer: [{time: "0 4 * * *"}]}
        """,
    )
    errors = files.errors()
    assert where(errors, "'failure-policy': 'bisect' is not one of screen, retry, zuul") == [("osci.yaml", 4)]
    assert where(errors, "'window-ceiling' is below 'window-floor'") == [("osci.yaml", 6)]
    assert where(errors, "'window-increase-type': 'quadratic' is not one of linear, exponential") == [
        ("osci.yaml", 7)
    ]



def test_the_old_name_of_the_retry_policy_still_loads(files) -> None:
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: gate
            manager: dependent
            failure-policy: osci
            trigger: {timer: [{time: "0 4 * * *"}]}
        """,
    )
    assert files.load().pipelines["gate"].failure_policy == "retry"


def test_required_projects_add_up_through_inheritance(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: base, required-projects: [lib], run: [{script: "true"}]}
        - job: {name: integration, parent: base, required-projects: [org/tools, lib]}
        - job: {name: broken, required-projects: {lib: yes}, run: [{script: "true"}]}
        """,
    )
    errors = files.errors()
    assert where(errors, "a project name or a list of project names") == [("osci.yaml", 3)]
    files.write(
        "osci.yaml",
        """
        - job: {name: base, required-projects: [lib], run: [{script: "true"}]}
        - job: {name: integration, parent: base, required-projects: [org/tools, lib]}
        """,
    )
    assert files.load().freeze_job("integration").required_projects == ["lib", "org/tools"]
