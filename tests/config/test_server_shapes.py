"""Shapes the server relies on: single inline steps, timer filters, the error reporter slot."""

from __future__ import annotations


def test_a_single_inline_script_step_needs_no_list(files):
    files.write(
        "osci.yaml",
        """
        - job:
            name: one
            run: {script: "echo hi"}
        """,
    )
    job = files.load("osci.yaml").freeze_job("one")
    assert [s.script for s in job.run] == ["echo hi"]


def test_timer_filter_is_zuul_shaped(files):
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: periodic
            trigger:
              timer:
                - time: "0 4 * * *"
        """,
    )
    pipeline = files.load("osci.yaml").pipelines["periodic"]
    (flt,) = pipeline.triggers["timer"]
    assert flt.events == ["timer"]
    assert flt.options == {"time": "0 4 * * *"}


def test_bad_cron_is_an_error_at_its_line(files):
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: periodic
            trigger:
              timer:
                - time: "every day"
        """,
    )
    errors = files.errors("osci.yaml")
    assert [(name, line) for name, line, _ in errors] == [("osci.yaml", 5)]
    assert "not a cron expression" in errors[0][2]


def test_error_reporter_slot_is_accepted(files):
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: check
            error: {mail: {to: ops@example.org}}
        """,
    )
    assert "error" in files.load("osci.yaml").pipelines["check"].reporters
