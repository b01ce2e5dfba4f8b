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

```yaml
- provider:
    name: containers
    driver: container         # a fresh container per build (podman or docker)
    engine: auto              # podman | docker | auto (the first whose `info` answers) | a path
    images:                   # one per label: each build gets a fresh container of this image
      - {label: py311, image: docker.io/library/python:3.11-slim, provides: [root]}
    labels: [{name: py311, min-ready: 1, max: 4}]   # max: containers at once (default 2);
                              # min-ready: containers started ahead and kept warm
    options: [--network=none] # extra `run` options (an image may add its own `options`)
    workdir: /tmp/osci        # in the container: <workdir>/<build>-<attempt>/ws
```

```yaml
- provider:
    name: here
    driver: local
    slots: 4
    sandbox: bubblewrap       # each step in `bwrap`: / read-only, workspace and build dir writable
```

Parsed into plain dataclasses here (errors with file:line); the nodes package builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osci.config.check import Section, as_section, item_locations
from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict
from osci.model import SourceLocation

DRIVERS = ("local", "static", "agent", "container")
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
    "local": ("slots", "label", "provides", "sandbox"),
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
    "container": ("engine", "images", "options", "workdir"),
}
IMAGE_KEYS = ("label", "image", "provides", "options")
ENGINES = ("auto", "podman", "docker")  # or a path to one of them
SANDBOXES = ("bubblewrap",)
CONTAINER_WORKDIR = "/tmp/osci"  # writable whatever user the image runs as
DEFAULT_CONTAINER_MAX = 2
REQUIRED = {"static": ("hosts",), "container": ("images",)}
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
class ImageSpec:
    """container: the image a label's builds run in (a fresh container of it per build)."""

    label: str
    image: str
    provides: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # extra `run` options for this image


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
    sandbox: str | None = None  # local: "bubblewrap" runs each step in `bwrap`
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
    # container (also `workdir`: where builds go inside the container)
    engine: str = "auto"
    images: list[ImageSpec] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # extra `run` options for every image


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
    section.check_keys((*COMMON_KEYS, *DRIVER_KEYS[driver]), required=REQUIRED.get(driver, ()))
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
        spec.sandbox = _sandbox(section)
    elif driver == "container":
        _container(section, spec)
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


def _sandbox(section: Section) -> str | None:
    """local `sandbox`: checked here, so a server whose sandbox cannot work refuses to start
    (running the steps unsandboxed instead would silently drop the isolation asked for)."""
    sandbox = section.choice("sandbox", SANDBOXES)
    if sandbox == "bubblewrap":
        from osci.nodes.sandbox import bwrap_problem  # stdlib only: no import cycle

        problem = bwrap_problem()
        if problem is not None:
            section.error("sandbox", f"{section.what}: 'sandbox: bubblewrap': {problem}")
    return sandbox


def _container(section: Section, spec: ProviderSpec) -> None:
    engine = section.str("engine")
    if engine is not None and engine not in ENGINES and "/" not in engine:
        section.error(
            "engine", f"{section.what}: 'engine': '{engine}' is not one of {', '.join(ENGINES)} (or a path)"
        )
    spec.engine = engine or spec.engine
    spec.options = section.str_list("options", "a `run` option or a list of them") or []
    spec.workdir = section.str("workdir") or CONTAINER_WORKDIR
    if not spec.workdir.startswith("/"):
        section.error("workdir", f"{section.what}: 'workdir': an absolute path inside the container")
    spec.images = _images(section)
    have = {i.label for i in spec.images}
    for label in spec.labels:
        if spec.images and label.name not in have:
            section.error("labels", f"{section.what}: label '{label.name}' has no image in 'images'")
        if label.max is not None and label.min_ready > label.max:
            section.error("labels", f"{section.what}: label '{label.name}': 'min-ready' is above 'max'")


def _images(section: Section) -> list[ImageSpec]:
    if not section.has("images"):
        return []
    value = section.data["images"]
    if not isinstance(value, list) or not value:
        section.error("images", f"{section.what}: 'images': expected a non-empty list of {{label, image}}")
        return []
    images: list[ImageSpec] = []
    for item, loc in zip(value, item_locations(value, section.value_loc("images")), strict=True):
        sub = as_section(section.errors, item, loc, f"{section.what} image")
        if sub is None:
            continue
        sub.check_keys(IMAGE_KEYS, required=("label", "image"))
        label, image = sub.str("label"), sub.str("image")
        if label is None or image is None:
            continue
        if any(i.label == label for i in images):
            sub.error("label", f"{section.what}: two images for label '{label}' (one image per label)")
            continue
        images.append(
            ImageSpec(
                label=label,
                image=image,
                provides=sub.str_list("provides", "a capability or a list of capabilities") or [],
                options=sub.str_list("options", "a `run` option or a list of them") or [],
            )
        )
    return images


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
