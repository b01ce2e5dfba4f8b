"""Pipelines are validated now and kept as small dataclasses."""

from __future__ import annotations


def test_pipeline_is_parsed(files) -> None:
    files.write(
        "osci.yaml",
        r"""
        - connection: {name: upstream, driver: gerrit, server: review.example.org}
        - pipeline:
            name: check
            description: Newly uploaded patchsets
            manager: independent
            precedence: low
            trigger:
              upstream:
                - event: patchset-created
                - event: [comment-added]
                  comment: (?i)^\s*recheck\s*$
                  branch: ^main$
            success: {upstream: {Verified: 1}}
            failure: {upstream: {Verified: -1}}
            post-review: false
        - pipeline:
            name: gate
            manager: dependent
            supercedes: check
            window: 10
            window-floor: 2
            window-increase-type: exponential
            window-decrease-factor: 1.5
            trigger:
              timer:
                - event: timer
        """,
    )
    config = files.load()
    check, gate = config.pipelines["check"], config.pipelines["gate"]
    assert (check.manager, check.precedence) == ("independent", "low")
    assert [f.events for f in check.triggers["upstream"]] == [["patchset-created"], ["comment-added"]]
    assert check.triggers["upstream"][1].options["branch"] == "^main$"
    assert check.reporters["failure"] == {"upstream": {"Verified": -1}}
    assert check.location.line == 2
    assert (gate.window, gate.window_floor, gate.window_increase_type, gate.window_decrease_factor) == (
        10,
        2,
        "exponential",
        1.5,
    )
    assert gate.supercedes == ["check"]
    assert config.connections["upstream"].data == {"server": "review.example.org"}


def test_pipeline_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - connection: {name: upstream, driver: gerrit}
        - pipeline:
            name: check
            manager: independant
            precedence: urgent
            trigger:
              upstrem:
                - event: patchset-created
                - comment: '(unclosed'
            succes: {upstream: {}}
            window: many
            supercedes: [gaet]
            failure: {upstream: [1]}
        """,
    )
    errors = files.errors()
    assert where(errors, "'independant' is not one of independent") == [("osci.yaml", 4)]
    assert where(errors, "'urgent' is not one of low, normal, high") == [("osci.yaml", 5)]
    assert where(errors, "unknown connection 'upstrem' (did you mean 'upstream'?)") == [("osci.yaml", 7)]
    assert where(errors, "missing required key 'event'") == [("osci.yaml", 9)]
    assert where(errors, "bad regular expression '(unclosed'") == [("osci.yaml", 9)]
    assert where(errors, "unknown key 'succes' (did you mean 'success'?)") == [("osci.yaml", 10)]
    assert where(errors, "'window': expected an integer, got a string") == [("osci.yaml", 11)]
    assert where(errors, "supercedes unknown pipeline 'gaet'") == [("osci.yaml", 12)]
    assert where(errors, "'failure' reporter 'upstream': expected a mapping, got a list") == [
        ("osci.yaml", 13)
    ]
