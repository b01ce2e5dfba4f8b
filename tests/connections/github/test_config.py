"""The github connection's configuration: defaults, both kinds of auth, and every mistake
refused with the key named (and no secret echoed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osci.connections.base import ConnectionConfigError, ConnectionContext, load_driver
from osci.connections.github import GitHubConnection
from osci.connections.github.config import parse_options, split_project


def make(tmp_path: Path, **config: Any) -> GitHubConnection:
    return GitHubConnection("gh", config, ConnectionContext(data_dir=tmp_path, base_url="http://x"))


def test_defaults_and_driver_lookup(tmp_path: Path) -> None:
    assert load_driver("github") is GitHubConnection
    conn = make(tmp_path, **{"webhook-secret": "s", "token": "t"})
    assert conn.settings.api_url == "https://api.github.com"
    assert conn.settings.git_url == "https://github.com"
    assert conn.clone_url("acme/widget") == "https://github.com/acme/widget.git"
    assert conn.clone_url("widget") is None and conn.clone_url("../x/y") is None
    enterprise = make(
        tmp_path,
        **{
            "webhook-secret": "s",
            "token": "t",
            "api-url": "https://ghe.example.org/api/v3/",
            "git-url": "https://ghe.example.org/",
        },
    )
    assert enterprise.settings.api_url == "https://ghe.example.org/api/v3"
    assert enterprise.clone_url("a/b") == "https://ghe.example.org/a/b.git"


def test_a_local_git_url_serves_only_existing_repositories(tmp_path: Path) -> None:
    (tmp_path / "git" / "acme" / "widget.git").mkdir(parents=True)
    conn = make(tmp_path, **{"webhook-secret": "s", "token": "t", "git-url": str(tmp_path / "git")})
    assert conn.clone_url("acme/widget") == str(tmp_path / "git" / "acme" / "widget.git")
    assert conn.clone_url("acme/gadget") is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"token": "t"}, "'webhook-secret' is required"),
        ({"webhook-secret": "s"}, "authentication is required"),
        ({"webhook-secret": "s", "token": "t", "tokn": 1}, "unknown key 'tokn'"),
        ({"webhook-secret": "s", "token": "t", "app-id": 1}, "either 'token' or a GitHub App"),
        (
            {"webhook-secret": "s", "app-id": "abc", "private-key": "k"},
            "'app-id' must be the App's numeric id",
        ),
        ({"webhook-secret": "s", "app-id": 1}, "'private-key' must be the path"),
        ({"webhook-secret": "s", "app-id": 1, "private-key": "/nonexistent.pem"}, "cannot read"),
        ({"webhook-secret": "s", "token": "t", "api-url": "ftp://x"}, "'api-url' must be an http"),
        ({"webhook-secret": "s", "token": "t", "api-url": "https://u:p@x"}, "'api-url' must be an http"),
        (
            {"webhook-secret": "s", "token": "t", "git-url": "https://u:hunter2@x"},
            "must not hold credentials",
        ),
        ({"webhook-secret": "s", "token": "t", "timeout": 0}, "'timeout' must be a positive"),
        ({"webhook-secret": 12, "token": "t"}, "'webhook-secret' must be a non-empty string"),
    ],
)
def test_config_errors(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message) as info:
        make(tmp_path, **config)
    assert "hunter2" not in str(info.value)


def test_app_key_files_are_checked(tmp_path: Path) -> None:
    not_pem = tmp_path / "key.txt"
    not_pem.write_text("hello")
    with pytest.raises(ConnectionConfigError, match="not a PEM private key"):
        make(tmp_path, **{"webhook-secret": "s", "app-id": 1, "private-key": str(not_pem)})
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConnectionConfigError, match="cannot be loaded"):
        make(tmp_path, **{"webhook-secret": "s", "app-id": 1, "private-key": str(broken)})
    with pytest.raises(ConnectionConfigError, match="'installation-id' must be a number"):
        make(
            tmp_path,
            **{"webhook-secret": "s", "app-id": 1, "private-key": str(broken), "installation-id": "x"},
        )


def test_report_options() -> None:
    assert parse_options("gh", {}) == parse_options("gh", None)
    options = parse_options("gh", {"check": False, "status": True, "comment": True})
    assert (options.check, options.status, options.comment) == (False, True, True)
    assert (
        parse_options("gh", {}).check is True
        and parse_options("gh", {}).error_conclusion == "action_required"
    )
    for bad, message in (
        ({"color": 1}, "unknown option 'color'"),
        ({"comment": "yes"}, "'comment' must be true or false"),
        ({"error-conclusion": "failure"}, "'error-conclusion' must be one of"),
        ([1], "must be a mapping"),
    ):
        with pytest.raises(ConnectionConfigError, match=message):
            parse_options("gh", bad)


def test_project_names() -> None:
    assert split_project("Codertocat/Hello-World") == ("Codertocat", "Hello-World")
    assert split_project("a/b.c_d-e") == ("a", "b.c_d-e")
    for bad in ("hello", "a/b/c", "a/..", "-a/b", "a/b.git", "a /b", "", "a/"):
        assert split_project(bad) is None, bad
