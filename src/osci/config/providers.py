"""Providers: where builds run. One `- provider:` object per pool of nodes (osci's nodes section).

```yaml
- provider:
    name: lab
    driver: static            # local | static | agent | container
    labels:                   # per label: nodes kept ready ahead, and at most this many
      - {name: netscaler, min-ready: 1, max: 4}
    reset: ./unstack.sh && ./clean.sh   # static: run on the host before each build
    power-cycle: ipmitool -H bmc1 chassis power cycle   # static: run here when the reset fails
    quarantine-after: 3       # consecutive infrastructure errors before a node is quarantined
    halt-above: 0.5           # share of a label's nodes out of service that halts the label
    notify: mail              # an smtp connection: e-mails `admins` about quarantines and halts
    admins: [lab-admins@example.org]
    hosts:
      - {name: ns1, host: 10.0.0.5, port: 22, username: ci, key: ~/.ssh/lab,
         label: netscaler, provides: [root, kvm]}
```

```yaml
- provider:
    name: agents
    driver: agent             # machines running `osci agent --server URL --token T --label L`
    heartbeat-timeout: 30     # seconds without a word from an agent before its builds are lost
    labels: [{name: netscaler, max: 8}]   # labels agents may register with (none: any label)
```

Parsed into plain dataclasses here (errors with file:line); the nodes package builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osci.config.check import Section, as_section, item_locations
from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict
from osci.model import SourceLocation

DRIVERS = ("local", "static", "agent")
COMMON_KEYS = (
    "name",
    "driver",
    "labels",
    "quarantine-after",
    "halt-above",
    "probe-interval",
    "admins",
    "notify",
)
DRIVER_KEYS = {
    "local": ("slots", "label", "provides"),
    "static": (
        "hosts",
        "reset",
        "power-cycle",
        "reset-timeout",
        "boot-timeout",
        "workdir",
        "username",
        "key",
        "known-hosts",
        "connect-timeout",
    ),
    "agent": ("heartbeat-timeout", "max-upload"),
}
HOST_KEYS = ("name", "host", "port", "username", "key", "known-hosts", "label", "provides", "workdir")


@dataclass
class LabelSpec:
    name: str
    min_ready: int = 0
    max: int | None = None


@dataclass
class HostSpec:
    name: str
    host: str
    label: str
    port: int = 22
    username: str | None = None
    key: str | None = None
    known_hosts: str | None = None  # a file, or "ignore" (no host key check: tests and trusted labs)
    provides: list[str] = field(default_factory=list)
    workdir: str | None = None


@dataclass
class ProviderSpec:
    name: str
    driver: str
    location: SourceLocation
    labels: list[LabelSpec] = field(default_factory=list)
    quarantine_after: int = 3
    halt_above: float = 0.5
    probe_interval: float = 30.0
    admins: list[str] = field(default_factory=list)  # e-mailed about quarantines and halts
    notify: str | None = None  # the smtp connection that sends those e-mails
    # local
    slots: int | None = None
    label: str | None = None  # local: the label its slots serve (None: any label)
    provides: list[str] = field(default_factory=list)
    # static
    hosts: list[HostSpec] = field(default_factory=list)
    reset: str | None = None
    power_cycle: str | None = None
    reset_timeout: float = 1800.0
    boot_timeout: float = 600.0
    connect_timeout: float = 15.0
    workdir: str = "osci-builds"
    username: str | None = None
    key: str | None = None
    known_hosts: str | None = None
    # agent
    heartbeat_timeout: float = 30.0
    max_upload: int = 1024  # MiB: the largest results archive an agent may upload


def parse_provider(errors: ErrorList, body: PosDict, location: SourceLocation) -> ProviderSpec | None:
    """Check a `provider` object's settings; None when they do not load (errors were added)."""
    section = Section(errors, body, "provider")
    name, driver = section.str("name"), section.str("driver")
    if name is None or driver is None:
        return None
    section.what = f"provider '{name}'"
    if driver not in DRIVERS:
        section.error("driver", f"{section.what}: 'driver': '{driver}' is not one of {', '.join(DRIVERS)}")
        return None
    before = len(errors.items)
    section.check_keys(
        (*COMMON_KEYS, *DRIVER_KEYS[driver]), required=("hosts",) if driver == "static" else ()
    )
    spec = ProviderSpec(name=name, driver=driver, location=location)
    spec.labels = _labels(section) or []
    spec.quarantine_after = section.int("quarantine-after", minimum=1) or spec.quarantine_after
    share = section.number("halt-above", minimum=0)
    if share is not None and share > 1:
        section.error("halt-above", f"{section.what}: 'halt-above' is a share of nodes, from 0 to 1")
    elif share is not None:
        spec.halt_above = float(share)
    spec.probe_interval = float(section.number("probe-interval", minimum=0) or spec.probe_interval)
    spec.admins = section.str_list("admins", "an e-mail address or a list of them") or []
    spec.notify = section.str("notify")
    if spec.admins and not spec.notify:
        section.error("admins", f"{section.what}: 'admins' needs 'notify': the smtp connection that mails them")
    if driver == "agent":
        spec.heartbeat_timeout = float(section.number("heartbeat-timeout", minimum=1) or spec.heartbeat_timeout)
        spec.max_upload = section.int("max-upload", minimum=1) or spec.max_upload
    elif driver == "local":
        spec.slots = section.int("slots", minimum=1)
        spec.label = section.str("label")
        spec.provides = section.str_list("provides", "a capability or a list of capabilities") or []
    else:
        spec.reset = section.str("reset")
        spec.power_cycle = section.str("power-cycle")
        for key, attr in (
            ("reset-timeout", "reset_timeout"),
            ("boot-timeout", "boot_timeout"),
            ("connect-timeout", "connect_timeout"),
        ):
            value = section.number(key, minimum=0)
            if value is not None:
                setattr(spec, attr, float(value))
        spec.workdir = section.str("workdir") or spec.workdir
        spec.username = section.str("username")
        spec.key = section.str("key")
        spec.known_hosts = section.str("known-hosts")
        spec.hosts = _hosts(section, spec)
    return spec if len(errors.items) == before else None


def _labels(section: Section) -> list[LabelSpec] | None:
    if not section.has("labels"):
        return None
    value = section.data["labels"]
    if not isinstance(value, list):
        section.error("labels", f"{section.what}: 'labels': expected a list of {{name, min-ready, max}}")
        return None
    labels = []
    for item, loc in zip(value, item_locations(value, section.value_loc("labels")), strict=True):
        if isinstance(item, str) and item:
            labels.append(LabelSpec(item))
            continue
        sub = as_section(section.errors, item, loc, f"{section.what} label")
        if sub is None:
            continue
        sub.check_keys(("name", "min-ready", "max"), required=("name",))
        name = sub.str("name")
        if name is None:
            continue
        labels.append(LabelSpec(name, sub.int("min-ready", minimum=0) or 0, sub.int("max", minimum=1)))
    return labels


def _hosts(section: Section, spec: ProviderSpec) -> list[HostSpec]:
    if not section.has("hosts"):
        return []
    value = section.data["hosts"]
    if not isinstance(value, list) or not value:
        section.error("hosts", f"{section.what}: 'hosts': expected a non-empty list of hosts")
        return []
    hosts: list[HostSpec] = []
    seen: set[str] = set()
    for item, loc in zip(value, item_locations(value, section.value_loc("hosts")), strict=True):
        sub = as_section(section.errors, item, loc, f"{section.what} host")
        if sub is None:
            continue
        sub.check_keys(HOST_KEYS, required=("host", "label"))
        host, label = sub.str("host"), sub.str("label")
        if host is None or label is None:
            continue
        port = sub.int("port", minimum=1) or 22
        name = sub.str("name") or (host if port == 22 else f"{host}:{port}")
        if name in seen:
            sub.error("name" if sub.has("name") else "host", f"{section.what}: duplicate host '{name}'")
            continue
        seen.add(name)
        hosts.append(
            HostSpec(
                name=name,
                host=host,
                label=label,
                port=port,
                username=sub.str("username") or spec.username,
                key=sub.str("key") or spec.key,
                known_hosts=sub.str("known-hosts") or spec.known_hosts,
                provides=sub.str_list("provides", "a capability or a list of capabilities") or [],
                workdir=sub.str("workdir"),
            )
        )
    return hosts
