"""Deployments: which hosts play which roles, handed to `functional` and `stress` jobs.

A deployment file (`deployments/basic.json` or `.yaml`) maps role names to the
hosts that play them. `host` (or `hosts`) lists the machines themselves; every
other key is a role whose entries name a host (`host: host1`), carry an address
(`address: 192.0.2.11`), or both. The resolved form is written as JSON for the
steps (`OSCI_DEPLOYMENT`) and each role becomes two variables:
`OSCI_ROLE_<ROLE>` (host names) and `OSCI_ROLE_<ROLE>_ADDRESSES`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

SUFFIXES = (".json", ".yaml", ".yml")
HOST_KEYS = ("host", "hosts")


class DeploymentError(ValueError):
    """A deployment that cannot be found or read; the message names the file."""


@dataclass
class Deployment:
    name: str
    source: Path
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": str(self.source),
            "hosts": self.hosts,
            "roles": self.roles,
            "raw": self.raw,
        }

    def environment(self, resolved_path: Path) -> dict[str, str]:
        env = {"OSCI_DEPLOYMENT": str(resolved_path), "OSCI_DEPLOYMENT_NAME": self.name}
        for role, info in self.roles.items():
            key = "OSCI_ROLE_" + re.sub(r"[^A-Za-z0-9]", "_", role).upper()
            env[key] = " ".join(info["hosts"])
            env[key + "_ADDRESSES"] = " ".join(info["addresses"])
        return env

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        return path


def available(config_dir: Path) -> list[str]:
    if not config_dir.is_dir():
        return []
    return sorted({p.stem for p in config_dir.iterdir() if p.suffix in SUFFIXES and p.is_file()})


def find(name: str, config_dir: Path) -> Path:
    for suffix in SUFFIXES:
        candidate = config_dir / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    known = available(config_dir)
    hint = f"; available: {', '.join(known)}" if known else ""
    raise DeploymentError(
        f"no deployment {name!r} in {config_dir} (looked for {name}.json, .yaml, .yml){hint}"
    )


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeploymentError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DeploymentError(f"{where}: invalid YAML: {problem}") from None


def _entries(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]


def _address_in_urls(entry: dict[str, Any]) -> str | None:
    """The host of the first URL-valued field (e.g. a datastore's `engine_url`)."""
    for value in entry.values():
        if isinstance(value, str) and "://" in value:
            hostname = urlsplit(value).hostname
            if hostname:
                return hostname
    return None


def load(name: str, config_dir: Path) -> Deployment:
    path = find(name, config_dir)
    raw = _read(path)
    if not isinstance(raw, dict):
        raise DeploymentError(f"{path}: expected a mapping of role names to hosts, got {type(raw).__name__}")
    deployment = Deployment(name=name, source=path.resolve(), raw=raw)
    for key in HOST_KEYS:
        for entry in _entries(raw.get(key, [])):
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise DeploymentError(f"{path}: each entry of {key!r} needs a 'name', got {entry!r}")
            deployment.hosts[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
    by_address = {info.get("address"): host for host, info in deployment.hosts.items() if info.get("address")}
    for role, value in raw.items():
        if role in HOST_KEYS:
            continue
        hosts: list[str] = []
        addresses: list[str] = []
        for entry in _entries(value):
            if isinstance(entry, str):
                entry = {"host": entry}
            if not isinstance(entry, dict):
                raise DeploymentError(f"{path}: role {role!r}: expected host entries, got {entry!r}")
            address = entry.get("address") or _address_in_urls(entry)
            host = entry.get("host") or by_address.get(address)
            address = address or deployment.hosts.get(host or "", {}).get("address")
            if host and host not in deployment.hosts and deployment.hosts:
                raise DeploymentError(f"{path}: role {role!r} names host {host!r}, which is not in 'host'")
            if host and host not in hosts:
                hosts.append(str(host))
            if address and address not in addresses:
                addresses.append(str(address))
        deployment.roles[role] = {"hosts": hosts, "addresses": addresses, "entries": _entries(value)}
    return deployment
