"""The gitlab connection's keys, reporter options and trigger filters, checked up front."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from osci.config import load_config
from osci.connections.base import ConnectionConfigError, ConnectionContext, load_driver
from osci.connections.gitlab import GitLabConnection
from osci.connections.gitlab.settings import ReportOptions, parse_options

from .payloads import TOKEN


def make(tmp_path: Path, **config) -> GitLabConnection:
    config.setdefault("webhook-token", TOKEN)
    return GitLabConnection("gl", config, ConnectionContext(data_dir=tmp_path, base_url="http://osci"))


def test_the_driver_is_found_by_name() -> None:
    assert load_driver("gitlab") is GitLabConnection


def test_defaults(tmp_path: Path) -> None:
    conn = make(tmp_path)
    assert conn.settings.baseurl == "https://gitlab.com"
    assert conn.settings.api == "https://gitlab.com/api/v4"
    assert conn.settings.token is None
    assert conn.clone_url("acme/widget") == "https://gitlab.com/acme/widget.git"


def test_self_hosted_and_clone_urls(tmp_path: Path) -> None:
    conn = make(tmp_path, baseurl="https://git.example.org/", token="glpat-x")
    assert conn.settings.api == "https://git.example.org/api/v4"
    assert (
        make(tmp_path, **{"git-url": "git@git.example.org:"}).clone_url("a/b")
        == "git@git.example.org:a/b.git"
    )
    assert make(tmp_path, **{"git-url": "ssh://git@host/"}).clone_url("a/b") == "ssh://git@host/a/b.git"


def test_a_local_folder_of_bare_repositories(tmp_path: Path) -> None:
    (tmp_path / "repos" / "acme" / "widget.git").mkdir(parents=True)
    conn = make(tmp_path, **{"git-url": str(tmp_path / "repos")})
    assert conn.clone_url("acme/widget") == str(tmp_path / "repos" / "acme" / "widget.git")
    assert conn.clone_url("acme/other") is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"webhook-token": None}, "'webhook-token' must be a non-empty string"),
        ({"webhook-token": ""}, "'webhook-token' must be a non-empty string"),
        ({"webhook-token": 12}, "'webhook-token' must be a non-empty string"),
        ({"token": ""}, "'token' must be a non-empty string"),
        ({"baseurl": "gitlab.com"}, "'baseurl' must be an http(s) URL"),
        ({"baseurl": "https://user:pw@gitlab.com"}, "no user:password"),
        ({"git-url": ""}, "'git-url' must be"),
        ({"secret": "x"}, "unknown key 'secret'"),
        ({"webhook_token": "x"}, "unknown key 'webhook_token'"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, config: dict, message: str) -> None:
    config = {"webhook-token": TOKEN, **config}
    if config["webhook-token"] is None:
        del config["webhook-token"]
    with pytest.raises(ConnectionConfigError) as info:
        GitLabConnection("gl", config, ConnectionContext(data_dir=tmp_path, base_url="http://osci"))
    assert message in str(info.value)
    assert "connection gl (gitlab)" in str(info.value)
    assert TOKEN not in str(info.value)


def test_reporter_options() -> None:
    assert parse_options("gl", {}) == ReportOptions(status=True, comment=False)
    assert parse_options("gl", None) == ReportOptions()
    assert parse_options("gl", {"comment": True}) == ReportOptions(status=True, comment=True)
    assert parse_options("gl", {"status": False, "comment": True}) == ReportOptions(False, True)
    for bad, message in (
        ({"label": 1}, "unknown option 'label'"),
        ({"status": "yes"}, "'status' must be true or false"),
        ([], "options must be a mapping"),
    ):
        with pytest.raises(ConnectionConfigError, match=message):
            parse_options("gl", bad)


def pipelines(tmp_path: Path, text: str):
    path = tmp_path / "osci.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config([path]).pipelines


GOOD = """
- connection: {name: gl, driver: gitlab, webhook-token: t}
- pipeline:
    name: check
    trigger:
      gl:
        - event: [merge-request-opened, merge-request-updated, merge-request-reopened]
        - event: comment-added
          comment: (?i)^\\s*recheck\\s*$
        - event: ref-updated
          branch: ^main$
    start: {gl: {}}
    success: {gl: {comment: true}}
    failure: {gl: {status: true, comment: true}}
"""


def test_a_pipeline_using_the_connection_passes(tmp_path: Path) -> None:
    conn = make(tmp_path)
    good = GOOD.replace(
        "    start: {gl: {}}",
        "    require: {gl: {open: true, current-patchset: true}}\n"
        "    reject: {gl: {status: [locked, merged]}}\n"
        "    start: {gl: {}}",
    )
    for pipeline in pipelines(tmp_path, good).values():
        assert pipeline.require == {"gl": {"open": True, "current-patchset": True}}
        conn.check_pipeline(pipeline)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("event: ref-updated", "event: patchset-created", "has no event 'patchset-created'"),
        ("branch: ^main$", "branches: ^main$", "unknown trigger key 'branches'"),
        ("success: {gl: {comment: true}}", "success: {gl: {vote: 1}}", "unknown option 'vote'"),
        ("start: {gl: {}}", "start: {gl: {status: 1}}", "'status' must be true or false"),
        ("start: {gl: {}}", "start: {gl: {}}\n    require: {gl: {approval: [{Approved: 1}]}}", "'approval'"),
        ("start: {gl: {}}", "start: {gl: {}}\n    reject: {gl: {status: abandoned}}", "'abandoned'"),
    ],
)
def test_bad_triggers_and_options_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    conn = make(tmp_path)
    assert old in GOOD
    (check,) = pipelines(tmp_path, GOOD.replace(old, new)).values()
    with pytest.raises(ConnectionConfigError) as info:
        conn.check_pipeline(check)
    assert message in str(info.value)
    assert "pipeline 'check'" in str(info.value)
    assert f"{tmp_path / 'osci.yaml'}:" in str(info.value)  # file:line of the pipeline or filter
