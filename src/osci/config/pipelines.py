"""Pipelines: validated now, driven by the scheduler later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from osci.config.change_filters import check_requirements
from osci.config.check import Section, as_section, item_locations, kind
from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict, plain
from osci.model import SourceLocation

MANAGERS = ("independent", "supercedent", "dependent", "serial")
PRECEDENCES = ("low", "normal", "high")
WINDOW_TYPES = ("linear", "exponential")
FAILURE_POLICIES = ("screen", "retry", "zuul")
FAILURE_POLICY_ALIASES = {"osci": "retry"}  # its name before `screen` existed  # osci's addition: how a gate treats failures (scheduler/gate.py)
REPORTER_SLOTS = (
    "start",
    "success",
    "failure",
    "error",
    "no-jobs",
    "merge-conflict",
    "dequeue",
    "culprit",  # osci: a culprit search ended (osci.server.culprits)
    "promoted",  # osci: a promotion ended (osci.server.culprits)
)
TRIGGER_REGEX_KEYS = ("branch", "ref", "comment")
PIPELINE_ATTRIBUTES = (
    "name",
    "description",
    "manager",
    "precedence",
    "trigger",
    "require",
    "reject",
    *REPORTER_SLOTS,
    "window",
    "window-floor",
    "window-ceiling",
    "window-increase-type",
    "window-increase-factor",
    "window-decrease-type",
    "window-decrease-factor",
    "failure-policy",
    "supercedes",
    "post-review",
    "dequeue-on-new-patchset",
    "culprit-finding",
    "promote",
)
CULPRIT_KEYS = ("max-parallel", "confirm-failures", "confirm-passes")
PROMOTE_KEYS = ("from", "to", "cherry-pick-after-culprit")


@dataclass
class CulpritFinding:
    """osci's addition: search the commit that broke a job after the fact (osci.analysis.culprit)."""

    max_parallel: int = 4
    confirm_failures: int = 3
    confirm_passes: int = 3


@dataclass
class Promote:
    """osci's addition: the pipeline promotes a staging branch onto a target branch."""

    from_branch: str
    to_branch: str
    cherry_pick_after_culprit: bool = False


@dataclass
class TriggerFilter:
    """One trigger filter: `event` (one or several) plus driver-specific keys kept as written."""

    events: list[str]
    options: dict[str, Any]
    location: SourceLocation


@dataclass
class Pipeline:
    name: str
    location: SourceLocation
    name_location: SourceLocation
    description: str = ""
    manager: str = "independent"
    precedence: str = "normal"
    triggers: dict[str, list[TriggerFilter]] = field(default_factory=dict)
    require: dict[str, Any] = field(default_factory=dict)
    reject: dict[str, Any] = field(default_factory=dict)
    reporters: dict[str, dict[str, Any]] = field(default_factory=dict)  # slot -> connection -> settings
    window: int = 20
    window_floor: int = 3
    window_ceiling: int | None = None
    window_increase_type: str = "linear"
    window_increase_factor: float = 1
    window_decrease_type: str = "exponential"
    window_decrease_factor: float = 2
    failure_policy: str = "screen"
    supercedes: list[str] = field(default_factory=list)
    post_review: bool = False
    dequeue_on_new_patchset: bool = True
    # where each connection name was used (trigger/require/reject/reporters), for cross-checks
    connection_refs: list[tuple[str, SourceLocation]] = field(default_factory=list)
    supercedes_locs: list[SourceLocation] = field(default_factory=list)
    culprit_finding: CulpritFinding | None = None  # None: off
    promote: Promote | None = None


def _trigger_filters(
    section: Section, connection: str, value: Any, loc: SourceLocation
) -> list[TriggerFilter]:
    what = f"{section.what} trigger '{connection}'"
    if not isinstance(value, list):
        section.errors.add(loc, f"{what}: expected a list of filters, got {kind(value)}")
        return []
    filters: list[TriggerFilter] = []
    for item, item_loc in zip(value, item_locations(value, loc), strict=True):
        flt = as_section(section.errors, item, item_loc, f"{what} filter")
        if flt is None:
            continue
        if "time" in item and "event" not in item:
            # A timer filter (Zuul's shape): `- time: "0 4 * * *"`; the cron spec is checked by the driver.
            flt.check_keys(("time",), required=("time",))
            spec = flt.str("time")
            ok = spec is not None and _valid_cron(section.errors, spec, flt.value_loc("time"), what)
            if ok:
                filters.append(TriggerFilter(["timer"], plain(dict(item)), item_loc))
            continue
        flt.check_keys((), required=("event",), extra=item.keys())
        events = flt.str_list("event", "an event name or a list of event names")
        ok = events is not None
        for key in TRIGGER_REGEX_KEYS:
            if key in item:
                ok = flt.regexes(key) is not None and ok
        if ok:
            filters.append(
                TriggerFilter(events or [], plain({k: v for k, v in item.items() if k != "event"}), item_loc)
            )
    return filters


def _valid_cron(errors: ErrorList, spec: str, loc: SourceLocation, what: str) -> bool:
    from croniter import croniter

    if croniter.is_valid(spec):
        return True
    errors.add(loc, f"{what}: 'time': {spec!r} is not a cron expression (expected e.g. '0 4 * * *')")
    return False


def _per_connection(section: Section, key: str, pipeline: Pipeline) -> PosDict | None:
    mapping = section.mapping(key)
    if mapping is None:
        return None
    for connection in mapping:
        pipeline.connection_refs.append((str(connection), mapping.key_locs[connection]))
    return mapping


def parse_pipeline(errors: ErrorList, body: PosDict, location: SourceLocation) -> Pipeline | None:
    """A `- pipeline:` object."""
    section = Section(errors, body, "pipeline")
    section.check_keys(PIPELINE_ATTRIBUTES, required=("name",))
    name = section.str("name")
    if name is None:
        return None
    section.what = f"pipeline '{name}'"
    p = Pipeline(name=name, location=location, name_location=section.value_loc("name"))
    p.description = section.text("description") or ""
    p.manager = section.choice("manager", MANAGERS) or p.manager
    p.precedence = section.choice("precedence", PRECEDENCES) or p.precedence
    trigger = _per_connection(section, "trigger", p)
    for connection, value in (trigger or {}).items():
        p.triggers[str(connection)] = _trigger_filters(
            section, str(connection), value, trigger.value_locs[connection]
        )
    for key in ("require", "reject"):
        mapping = _per_connection(section, key, p)
        check_requirements(errors, mapping, key, name)
        setattr(p, key, plain(mapping) if mapping is not None else {})
    for slot in REPORTER_SLOTS:
        mapping = _per_connection(section, slot, p)
        if mapping is None:
            continue
        for connection, value in mapping.items():
            if value is not None and not isinstance(value, dict):
                errors.add(
                    mapping.value_locs[connection],
                    f"pipeline '{name}': '{slot}' reporter '{connection}': expected a mapping, got {kind(value)}",
                )
        p.reporters[slot] = plain(mapping)
    for key, minimum in (("window", 0), ("window-floor", 1), ("window-ceiling", 1)):
        value = section.int(key, minimum=minimum)
        if value is not None:
            setattr(p, key.replace("-", "_"), value)
    for key in ("window-increase-type", "window-decrease-type"):
        value = section.choice(key, WINDOW_TYPES)
        if value is not None:
            setattr(p, key.replace("-", "_"), value)
    for key in ("window-increase-factor", "window-decrease-factor"):
        value = section.number(key, minimum=0)
        if value is not None:
            setattr(p, key.replace("-", "_"), value)
    alias = FAILURE_POLICY_ALIASES.get(str(section.data.get("failure-policy")))
    if alias is not None:
        p.failure_policy = alias
    else:
        p.failure_policy = section.choice("failure-policy", FAILURE_POLICIES) or p.failure_policy
    if p.window_ceiling is not None and p.window_ceiling < p.window_floor:
        section.error("window-ceiling", f"pipeline '{name}': 'window-ceiling' is below 'window-floor'")
    supercedes, locs = section.str_list_with_locs("supercedes", "a pipeline name or a list of pipeline names")
    p.supercedes, p.supercedes_locs = supercedes or [], locs
    for key in ("post-review", "dequeue-on-new-patchset"):
        value = section.bool(key)
        if value is not None:
            setattr(p, key.replace("-", "_"), value)
    _culprit_and_promote(section, p)
    return p


def _culprit_and_promote(section: Section, p: Pipeline) -> None:
    """`culprit-finding: true | false | {max-parallel, confirm-failures, confirm-passes}` and
    `promote: {from, to, cherry-pick-after-culprit}` (osci's additions, docs/server.md)."""
    if section.has("culprit-finding"):
        value = section.data["culprit-finding"]
        if isinstance(value, bool):
            p.culprit_finding = CulpritFinding() if value else None
        else:
            sub = as_section(
                section.errors, value, section.value_loc("culprit-finding"), f"{section.what} culprit-finding"
            )
            if sub is not None:
                sub.check_keys(CULPRIT_KEYS)
                found = CulpritFinding()
                for key in CULPRIT_KEYS:
                    number = sub.int(key, minimum=1)
                    if number is not None:
                        setattr(found, key.replace("-", "_"), number)
                p.culprit_finding = found
    if section.has("promote"):
        sub = as_section(
            section.errors, section.data["promote"], section.value_loc("promote"), f"{section.what} promote"
        )
        if sub is not None:
            sub.check_keys(PROMOTE_KEYS, required=("from", "to"))
            source, target = sub.str("from"), sub.str("to")
            cherry = sub.bool("cherry-pick-after-culprit")
            if source and target and source == target:
                sub.error("to", f"{section.what} promote: 'from' and 'to' must be different branches")
            elif source and target:
                p.promote = Promote(source, target, bool(cherry))
                if p.culprit_finding is None:  # a promotion bisects a red batch
                    p.culprit_finding = CulpritFinding()
