"""GitHub trigger filters: checked against the driver (event names, actions, keys) and matched
by the scheduler's trigger code against the events the connection emits."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from osci.config import load_config
from osci.connections.base import ConnectionConfigError, ConnectionContext
from osci.connections.github import GitHubConnection
from osci.model import Event
from osci.scheduler.triggers import pipeline_matches

CONFIG = """
- connection: {name: gh, driver: github, webhook-secret: s, token: t}
- pipeline:
    name: check
    trigger:
      gh:
        - event: pull_request
          action: [opened, synchronize, reopened]
        - event: issue_comment
          comment: (?i)^\\s*recheck\\s*$
        - event: check_run
          action: rerequested
    start: {gh: {check: true}}
    success: {gh: {check: true, status: true}}
    failure: {gh: {comment: true}}
- pipeline:
    name: post
    trigger:
      gh:
        - event: push
          branch: ^main$
        - event: check_run
          action: rerequested
- project: {name: acme/widget}
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "osci.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return load_config([path])


def connection(tmp_path: Path, config) -> GitHubConnection:
    data = dict(config.connections["gh"].data)
    return GitHubConnection("gh", data, ConnectionContext(data_dir=tmp_path, base_url="http://x"))


def event(type_: str, action: str | None = None, **fields) -> Event:
    return Event(connection="gh", type=type_, project="acme/widget", payload={"action": action}, **fields)


def test_filters_match_the_events_the_connection_emits(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG)
    conn = connection(tmp_path, config)
    for pipeline in config.pipelines.values():
        conn.check_pipeline(pipeline)  # a valid configuration passes
    check, post = config.pipelines["check"], config.pipelines["post"]
    for action in ("opened", "synchronize", "reopened"):
        assert pipeline_matches(check, event("pull_request", action, change="1"))
    assert not pipeline_matches(check, event("pull_request", "closed", change="1"))
    assert pipeline_matches(check, event("issue_comment", "created", comment="recheck"))
    assert pipeline_matches(check, event("issue_comment", "created", comment="  ReCheck\n"))
    assert not pipeline_matches(check, event("issue_comment", "created", comment="please recheck this"))
    assert pipeline_matches(post, event("push", branch="main"))
    assert not pipeline_matches(post, event("push", branch="feature"))
    assert not pipeline_matches(check, event("push", branch="main"))
    # A re-requested check run enters only the pipeline its name (osci/<pipeline>) names.
    rerun = event("check_run", "rerequested", pipeline="check")
    assert pipeline_matches(check, rerun) and not pipeline_matches(post, rerun)
    assert pipeline_matches(post, event("check_run", "rerequested", pipeline="post"))


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("- event: pull-request-opened", "has no event 'pull-request-opened'"),
        ("- {event: pull_request}", "needs 'action'"),
        ("- {event: pull_request, action: labeled}", "has no action 'labeled'"),
        ("- {event: push, action: created}", "has no action 'created'"),
        ("- {event: pull_request, action: [opened], approval: x}", "unknown trigger key 'approval'"),
        ("- {event: pull_request, action: [opened], comment: recheck}", "'comment' matches only"),
        ("- {event: check_run, action: [1]}", "'action' must be an action name"),
    ],
)
def test_bad_filters_are_refused_with_their_place(tmp_path: Path, trigger: str, message: str) -> None:
    text = f"""
    - connection: {{name: gh, driver: github, webhook-secret: s, token: t}}
    - pipeline:
        name: check
        trigger:
          gh:
            {trigger}
    """
    config = load(tmp_path, text)
    conn = connection(tmp_path, config)
    with pytest.raises(ConnectionConfigError, match=message) as info:
        conn.check_pipeline(config.pipelines["check"])
    assert "osci.yaml:" in str(info.value) and "pipeline 'check'" in str(info.value)


def test_bad_reporter_options_are_refused(tmp_path: Path) -> None:
    text = """
    - connection: {name: gh, driver: github, webhook-secret: s, token: t}
    - pipeline:
        name: check
        success: {gh: {checks: true}}
    """
    config = load(tmp_path, text)
    with pytest.raises(ConnectionConfigError, match=r"pipeline 'check' success: .*unknown option 'checks'"):
        connection(tmp_path, config).check_pipeline(config.pipelines["check"])
