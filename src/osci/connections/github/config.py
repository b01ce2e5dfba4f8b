"""The github connection's settings and its reporters' options, checked once, with clear errors.

Connection keys: `api-url` (https://api.github.com; GitHub Enterprise: https://HOST/api/v3),
`git-url` (https://github.com, or a local folder of `<owner>/<repo>.git`), `webhook-secret`
(required), and either `token` or a GitHub App (`app-id`, `private-key`, optional
`installation-id`), `timeout` (seconds per API call, 30) and `merge-method` (how a gate merges
a pull request: merge, squash or rebase; merge). Secrets are never echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from osci.connections.base import ConnectionConfigError, check_keys

CONFIG_KEYS = (
    "api-url",
    "git-url",
    "webhook-secret",
    "token",
    "app-id",
    "private-key",
    "installation-id",
    "timeout",
    "merge-method",
)
MERGE_METHODS = ("merge", "squash", "rebase")  # GitHub's merge_method values
OPTION_KEYS = ("check", "status", "comment", "error-conclusion")
ERROR_CONCLUSIONS = ("action_required", "neutral")
# The events this driver emits (GitHub's names) and the actions each can carry.
EVENT_ACTIONS: dict[str, tuple[str, ...]] = {
    "pull_request": ("opened", "synchronize", "reopened", "closed"),
    "push": (),
    "issue_comment": ("created",),
    "check_run": ("rerequested",),
}
TRIGGER_KEYS = ("action", "branch", "ref", "comment")  # besides `event`; matched by osci.scheduler.triggers
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_GIT_URL = "https://github.com"

# GitHub's own limits: owner up to 39 characters, repository names of [A-Za-z0-9._-].
_PROJECT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def split_project(project: str) -> tuple[str, str] | None:
    """(owner, repo) of an `owner/repo` project name, or None if it cannot be one."""
    if not isinstance(project, str) or not _PROJECT.match(project):
        return None
    owner, repo = project.split("/")
    if repo in (".", "..") or repo.endswith(".git"):
        return None
    return owner, repo


@dataclass(frozen=True)
class AppSettings:
    app_id: str
    private_key: bytes  # PEM
    installation_id: int | None


@dataclass(frozen=True)
class Settings:
    api_url: str
    git_url: str
    webhook_secret: bytes
    token: str | None
    app: AppSettings | None
    timeout: float
    merge_method: str = "merge"

    @property
    def git_is_local(self) -> bool:
        return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", self.git_url)


@dataclass(frozen=True)
class ReportOptions:
    check: bool = True
    status: bool = False
    comment: bool = False
    error_conclusion: str = "action_required"


def _http_url(value: Any, key: str, where: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ConnectionConfigError(f"{where}: '{key}' must be an http(s) URL without credentials")
    return value.rstrip("/")


def _secret(config: dict[str, Any], key: str, where: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConnectionConfigError(f"{where}: '{key}' must be a non-empty string")  # never echo it
    return value.strip()


def _app(config: dict[str, Any], where: str, base: Path) -> AppSettings:
    app_id = config.get("app-id")
    if isinstance(app_id, bool) or not isinstance(app_id, int | str) or not str(app_id).strip().isdigit():
        raise ConnectionConfigError(f"{where}: 'app-id' must be the App's numeric id, got {app_id!r}")
    key_path = config.get("private-key")
    if not isinstance(key_path, str) or not key_path.strip():
        raise ConnectionConfigError(f"{where}: 'private-key' must be the path of the App's PEM key file")
    path = Path(key_path).expanduser()
    if not path.is_absolute():
        path = base / path
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConnectionConfigError(f"{where}: 'private-key': cannot read {path}: {exc.strerror}") from None
    if b"PRIVATE KEY-----" not in pem:
        raise ConnectionConfigError(f"{where}: 'private-key': {path} is not a PEM private key")
    installation = config.get("installation-id")
    if installation is not None and (
        isinstance(installation, bool)
        or not isinstance(installation, int | str)
        or not str(installation).strip().isdigit()
    ):
        raise ConnectionConfigError(f"{where}: 'installation-id' must be a number, got {installation!r}")
    return AppSettings(
        app_id=str(app_id).strip(),
        private_key=pem,
        installation_id=int(installation) if installation is not None else None,
    )


def parse_settings(name: str, config: dict[str, Any], base: Path | None = None) -> Settings:
    """The connection's settings; ConnectionConfigError names the key and what was expected.
    `base` resolves a relative `private-key` path (default: the working directory)."""
    where = f"connection {name} (github)"
    check_keys(where, config, CONFIG_KEYS)
    api_url = _http_url(config.get("api-url", DEFAULT_API_URL), "api-url", where)
    git_url = config.get("git-url", DEFAULT_GIT_URL)
    if not isinstance(git_url, str) or not git_url.strip():
        raise ConnectionConfigError(f"{where}: 'git-url' must be a URL or a folder")
    git_url = git_url.strip()
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", git_url):
        if urlsplit(git_url).username:
            raise ConnectionConfigError(
                f"{where}: 'git-url' must not hold credentials; osci passes the token to git itself"
            )
        git_url = git_url.rstrip("/")
    else:
        git_url = str(Path(git_url).expanduser())
    secret = _secret(config, "webhook-secret", where)
    if secret is None:
        raise ConnectionConfigError(
            f"{where}: 'webhook-secret' is required (the secret set on the GitHub App or webhook)"
        )
    token = _secret(config, "token", where)
    app_keys = [k for k in ("app-id", "private-key", "installation-id") if k in config]
    if token is not None and app_keys:
        raise ConnectionConfigError(f"{where}: use either 'token' or a GitHub App ('app-id', 'private-key')")
    app = _app(config, where, base or Path.cwd()) if app_keys else None
    if token is None and app is None:
        raise ConnectionConfigError(
            f"{where}: authentication is required: 'token', or 'app-id' and 'private-key' of a GitHub App"
        )
    timeout = config.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConnectionConfigError(f"{where}: 'timeout' must be a positive number of seconds")
    merge_method = config.get("merge-method", "merge")
    if merge_method not in MERGE_METHODS:
        raise ConnectionConfigError(
            f"{where}: 'merge-method' must be one of {', '.join(MERGE_METHODS)}, got {merge_method!r}"
        )
    return Settings(
        api_url=api_url,
        git_url=git_url,
        webhook_secret=secret.encode(),
        token=token,
        app=app,
        timeout=float(timeout),
        merge_method=merge_method,
    )


def parse_options(name: str, options: Any) -> ReportOptions:
    """A pipeline's reporter options for this connection (`check`, `status`, `comment`)."""
    where = f"github reporter {name}"
    if options is None:
        return ReportOptions()
    if not isinstance(options, dict):
        raise ConnectionConfigError(f"{where}: options must be a mapping")
    for key in options:
        if key not in OPTION_KEYS:
            raise ConnectionConfigError(
                f"{where}: unknown option '{key}'; expected one of {', '.join(OPTION_KEYS)}"
            )
    flags = {}
    for key in ("check", "status", "comment"):
        if key in options:
            if not isinstance(options[key], bool):
                raise ConnectionConfigError(f"{where}: '{key}' must be true or false")
            flags[key] = options[key]
    conclusion = options.get("error-conclusion", "action_required")
    if conclusion not in ERROR_CONCLUSIONS:
        raise ConnectionConfigError(
            f"{where}: 'error-conclusion' must be one of {', '.join(ERROR_CONCLUSIONS)}, got {conclusion!r}"
        )
    return ReportOptions(error_conclusion=conclusion, **flags)


def check_trigger(name: str, events: list[str], options: dict[str, Any], where: str) -> None:
    """One trigger filter of a pipeline on this connection: GitHub's event names, their actions,
    and keys the scheduler matches. A pull_request filter must name its actions, so that a
    closed pull request never starts a build by accident."""
    for event in events:
        if event not in EVENT_ACTIONS:
            raise ConnectionConfigError(
                f"{where}: connection {name} (github) has no event '{event}'; "
                f"expected one of {', '.join(EVENT_ACTIONS)}"
            )
    for key in options:
        if key not in TRIGGER_KEYS:
            raise ConnectionConfigError(
                f"{where}: unknown trigger key '{key}' for connection {name} (github); "
                f"expected event, {', '.join(TRIGGER_KEYS)}"
            )
    actions = options.get("action")
    listed = [actions] if isinstance(actions, str) else actions
    if actions is not None and (not isinstance(listed, list) or not all(isinstance(a, str) for a in listed)):
        raise ConnectionConfigError(f"{where}: 'action' must be an action name or a list of them")
    for event in events:
        allowed = EVENT_ACTIONS[event]
        if event == "pull_request" and not listed:
            raise ConnectionConfigError(
                f"{where}: a pull_request trigger needs 'action', e.g. [opened, synchronize, reopened]"
            )
        for action in listed or []:
            if action not in allowed:
                choices = ", ".join(allowed) or "none (leave 'action' out)"
                raise ConnectionConfigError(
                    f"{where}: event '{event}' has no action '{action}' in osci; expected {choices}"
                )
    if "comment" in options and events != ["issue_comment"]:
        raise ConnectionConfigError(f"{where}: 'comment' matches only 'event: issue_comment'")
