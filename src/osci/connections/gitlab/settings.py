"""The gitlab connection's settings, its reporter options and its trigger filters, checked.

Every message names the connection and the key; a secret's value is never echoed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from osci.connections.base import ConnectionConfigError, check_keys

DRIVER = "gitlab"
CONFIG_KEYS = ("baseurl", "git-url", "token", "webhook-token", "squash", "remove-source-branch")
DEFAULT_BASEURL = "https://gitlab.com"
OPTION_KEYS = ("status", "comment")

# The events this driver emits, as a pipeline's trigger names them.
MR_OPENED = "merge-request-opened"
MR_UPDATED = "merge-request-updated"
MR_REOPENED = "merge-request-reopened"
MR_CLOSED = "merge-request-closed"
MR_MERGED = "merge-request-merged"
COMMENT_ADDED = "comment-added"
REF_UPDATED = "ref-updated"
EVENT_TYPES = (MR_OPENED, MR_UPDATED, MR_REOPENED, MR_CLOSED, MR_MERGED, COMMENT_ADDED, REF_UPDATED)
# Trigger filter keys (besides `event`): all matched by osci.scheduler.triggers.
TRIGGER_KEYS = ("branch", "ref", "comment")
# Pipeline `require` / `reject` keys this driver gives the state for (no `approval`: GitLab's
# approvals carry no votes) and the states a merge request has.
REQUIREMENT_KEYS = ("open", "current-patchset", "current-patch-set", "status")
MR_STATES = ("opened", "closed", "merged", "locked")


@dataclass(frozen=True)
class Settings:
    baseurl: str  # the web address, without a trailing slash
    git_url: str  # clone base: `<git_url>/<project>.git` (or a folder of bare repositories)
    token: str | None  # API token, sent as PRIVATE-TOKEN
    webhook_token: str  # the secret GitLab sends as X-Gitlab-Token
    squash: bool | None = None  # a gate's merge squashes (None: as the merge request says)
    remove_source_branch: bool | None = None  # and removes the source branch (None: as it says)

    @property
    def api(self) -> str:
        return f"{self.baseurl}/api/v4"


@dataclass(frozen=True)
class ReportOptions:
    status: bool = True  # a commit status per pipeline
    comment: bool = False  # a note on the merge request with the job table


def _secret(where: str, config: dict[str, Any], key: str, required: bool) -> str | None:
    value = config.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConnectionConfigError(f"{where}: '{key}' must be a non-empty string")  # never echo it
    return value.strip()


def parse_settings(name: str, config: dict[str, Any]) -> Settings:
    where = f"connection {name} ({DRIVER})"
    check_keys(where, config, CONFIG_KEYS)
    baseurl = config.get("baseurl", DEFAULT_BASEURL)
    parts = urlsplit(baseurl) if isinstance(baseurl, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ConnectionConfigError(
            f"{where}: 'baseurl' must be an http(s) URL such as {DEFAULT_BASEURL} (no user:password)"
        )
    baseurl = baseurl.rstrip("/")
    git_url = config.get("git-url", baseurl)
    if not isinstance(git_url, str) or not git_url.strip():
        raise ConnectionConfigError(
            f"{where}: 'git-url' must be a URL or a folder of bare repositories, got {git_url!r}"
        )
    for key in ("squash", "remove-source-branch"):
        if key in config and not isinstance(config[key], bool):
            raise ConnectionConfigError(f"{where}: '{key}' must be true or false, got {config[key]!r}")
    return Settings(
        baseurl=baseurl,
        git_url=git_url.strip(),
        token=_secret(where, config, "token", required=False),
        webhook_token=_secret(where, config, "webhook-token", required=True) or "",
        squash=config.get("squash"),
        remove_source_branch=config.get("remove-source-branch"),
    )


def parse_options(name: str, options: Any) -> ReportOptions:
    """A pipeline's reporter options for this connection: `status` and `comment`, both booleans."""
    where = f"gitlab reporter {name}"
    if options is None:
        return ReportOptions()
    if not isinstance(options, dict):
        raise ConnectionConfigError(f"{where}: options must be a mapping such as {{status: true}}")
    for key, value in options.items():
        if key not in OPTION_KEYS:
            raise ConnectionConfigError(
                f"{where}: unknown option '{key}'; expected one of {', '.join(OPTION_KEYS)}"
            )
        if not isinstance(value, bool):
            raise ConnectionConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
    return ReportOptions(status=options.get("status", True), comment=options.get("comment", False))


def check_trigger(name: str, events: list[str], options: dict[str, Any], where: str) -> None:
    """One trigger filter of a pipeline on this connection: known event names and keys only."""
    for event in events:
        if event not in EVENT_TYPES:
            raise ConnectionConfigError(
                f"{where}: connection {name} (gitlab) has no event '{event}'; "
                f"expected one of {', '.join(EVENT_TYPES)}"
            )
    for key in options:
        if key not in TRIGGER_KEYS:
            raise ConnectionConfigError(
                f"{where}: unknown trigger key '{key}' for connection {name} (gitlab); "
                f"expected event, {', '.join(TRIGGER_KEYS)}"
            )


def check_requirements(name: str, key: str, wanted: Any, where: str) -> None:
    """A pipeline's `require` or `reject` for this connection: keys the driver can answer."""
    if not isinstance(wanted, dict):
        raise ConnectionConfigError(f"{where}: '{key}' for connection {name} must be a mapping")
    for requirement, value in wanted.items():
        if requirement not in REQUIREMENT_KEYS:
            raise ConnectionConfigError(
                f"{where}: '{key}' key '{requirement}' is not known to connection {name} (gitlab); "
                f"expected one of {', '.join(REQUIREMENT_KEYS)}"
            )
        if requirement == "status":
            for state in value if isinstance(value, list) else [value]:
                if state not in MR_STATES:
                    raise ConnectionConfigError(
                        f"{where}: '{key}' status {state!r}: a merge request is one of {', '.join(MR_STATES)}"
                    )
