"""The gerrit connection's keys, checked at start: a wrong one stops the server with its name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from osci.connections.base import ConnectionConfigError, check_keys

KEYS = (
    "server",
    "port",
    "user",
    "ssh-key",
    "known-hosts",
    "baseurl",
    "password",
    "keepalive",
    "comment-only",
    "report-via",
    "git-url",
    "max-backoff",
)
REPORT_VIA = ("rest", "ssh")


@dataclass(frozen=True)
class GerritSettings:
    name: str
    server: str
    port: int
    user: str
    ssh_key: Path
    known_hosts: Path | None  # None: ~/.ssh/known_hosts, as OpenSSH
    baseurl: str | None  # the HTTP(S) address, for REST
    password: str | None = field(repr=False)  # HTTP password or token; never shown
    keepalive: float
    comment_only: bool
    report_via: str
    git_url: str  # where projects are fetched: ssh://user@server:port by default
    max_backoff: float

    @property
    def git_over_ssh(self) -> bool:
        return self.git_url.startswith("ssh://")

    def project_url(self, project: str) -> str:
        """Where git fetches `project`: `<git-url>/<project>`, or for a folder (or file:// URL) of
        mirrors `<folder>/<project>.git` when that is what exists."""
        base = self.git_url.rstrip("/")
        if base.startswith("file://") or "://" not in base:
            folder = Path(base.removeprefix("file://")).expanduser()
            for candidate in (folder / f"{project}.git", folder / project):
                if candidate.is_dir():
                    return str(candidate)
            return str(folder / project)
        return f"{base}/{project}"


def _number(where: str, config: dict[str, Any], key: str, default: float, minimum: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConnectionConfigError(f"{where}: '{key}' must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _path(where: str, config: dict[str, Any], key: str, required: bool) -> Path | None:
    value = config.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConnectionConfigError(f"{where}: '{key}' must be the path of a file, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConnectionConfigError(f"{where}: '{key}': no file {str(path)!r}")
    return path


def parse_settings(name: str, config: dict[str, Any]) -> GerritSettings:
    where = f"connection {name} (gerrit)"
    check_keys(where, config, KEYS)
    for key in ("server", "user"):
        if not isinstance(config.get(key), str) or not config[key].strip():
            raise ConnectionConfigError(f"{where}: '{key}' is required (a non-empty string)")
    port = config.get("port", 29418)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConnectionConfigError(f"{where}: 'port' must be a TCP port number, got {port!r}")
    ssh_key = _path(where, config, "ssh-key", required=True)
    assert ssh_key is not None
    baseurl = config.get("baseurl")
    if baseurl is not None:
        parts = urlsplit(baseurl) if isinstance(baseurl, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
        ):
            raise ConnectionConfigError(
                f"{where}: 'baseurl' must be an http(s) URL without credentials (e.g. https://review.example.org)"
            )
        baseurl = baseurl.rstrip("/")
    password = config.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        raise ConnectionConfigError(f"{where}: 'password' must be a non-empty string")  # never echo it
    report_via = config.get("report-via", "rest" if baseurl and password else "ssh")
    if report_via not in REPORT_VIA:
        raise ConnectionConfigError(f"{where}: 'report-via' must be one of rest, ssh, got {report_via!r}")
    if report_via == "rest" and not (baseurl and password):
        raise ConnectionConfigError(
            f"{where}: 'report-via: rest' needs 'baseurl' and 'password' (an HTTP token)"
        )
    comment_only = config.get("comment-only", False)
    if not isinstance(comment_only, bool):
        raise ConnectionConfigError(f"{where}: 'comment-only' must be true or false, got {comment_only!r}")
    server, user = config["server"].strip(), config["user"].strip()
    git_url = config.get("git-url", f"ssh://{user}@{server}:{port}")
    if not isinstance(git_url, str) or not git_url.strip():
        raise ConnectionConfigError(f"{where}: 'git-url' must be a URL or a folder, got {git_url!r}")
    if "://" in git_url and "@" in urlsplit(git_url).netloc and not git_url.startswith("ssh://"):
        raise ConnectionConfigError(
            f"{where}: 'git-url' must not hold credentials; osci gives git the password"
        )
    return GerritSettings(
        name=name,
        server=server,
        port=port,
        user=user,
        ssh_key=ssh_key,
        known_hosts=_path(where, config, "known-hosts", required=False),
        baseurl=baseurl,
        password=password,
        keepalive=_number(where, config, "keepalive", 60, 0),
        comment_only=comment_only,
        report_via=report_via,
        git_url=git_url.strip(),
        max_backoff=_number(where, config, "max-backoff", 60, 1),
    )
