"""Checking what pipelines say about changes: `require` / `reject` and the trigger `approval`.

    require: {gerrit: {open: true, current-patchset: true, status: NEW, approval: [{Code-Review: 2}]}}
    trigger: {gerrit: [{event: comment-added, approval: [{Workflow: 1}]}]}

An approval is a mapping of label names to a vote or a list of votes (integers, e.g. `2` or
`[-1, -2]`), optionally with `username` and `email` regular expressions naming the voter.
"""

from __future__ import annotations

from typing import Any

from osci.config.check import compile_regex, item_locations, kind
from osci.config.errors import ErrorList, did_you_mean
from osci.config.yamlpos import PosDict
from osci.model import SourceLocation

REQUIREMENT_KEYS = ("open", "current-patchset", "current-patch-set", "status", "approval")
VOTER_KEYS = ("username", "email")


def _loc(mapping: Any, key: Any, fallback: SourceLocation, values: bool = True) -> SourceLocation:
    if isinstance(mapping, PosDict):
        return (mapping.value_locs if values else mapping.key_locs).get(key, fallback)
    return fallback


def _vote(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_approvals(errors: ErrorList, value: Any, loc: SourceLocation, what: str) -> None:
    """`approval:` a mapping or a list of mappings as the module docstring says."""
    entries = value if isinstance(value, list) else [value]
    locs = item_locations(value, loc) if isinstance(value, list) else [loc]
    if isinstance(value, list) and not value:
        errors.add(loc, f"{what}: 'approval': expected at least one approval")
    for entry, entry_loc in zip(entries, locs, strict=True):
        if not isinstance(entry, dict) or not entry:
            errors.add(
                entry_loc,
                f"{what}: 'approval': expected a mapping of labels to votes (e.g. {{Code-Review: 2}}), got {kind(entry)}",
            )
            continue
        labels = 0
        for key, vote in entry.items():
            where = _loc(entry, key, entry_loc)
            if key in VOTER_KEYS:
                if not isinstance(vote, str) or not vote:
                    errors.add(
                        where, f"{what}: 'approval' '{key}': expected a regular expression, got {kind(vote)}"
                    )
                else:
                    compile_regex(errors, vote, where, f"{what}: 'approval' '{key}': ")
                continue
            labels += 1
            votes = vote if isinstance(vote, list) else [vote]
            if not votes or not all(_vote(v) for v in votes):
                errors.add(
                    where,
                    f"{what}: 'approval' label '{key}': expected a vote or a list of votes (integers such as 1 or -2), got {kind(vote)}",
                )
        if labels == 0:
            errors.add(entry_loc, f"{what}: 'approval': name at least one label (e.g. Verified: 1)")


def check_requirements(errors: ErrorList, mapping: PosDict | None, key: str, pipeline: str) -> None:
    """A pipeline's `require` or `reject`: per connection, a mapping of REQUIREMENT_KEYS."""
    if mapping is None:
        return
    for connection, body in mapping.items():
        what = f"pipeline '{pipeline}' {key} '{connection}'"
        loc = mapping.value_locs.get(connection, mapping.loc)
        if not isinstance(body, dict):
            errors.add(
                loc,
                f"{what}: expected a mapping (open, current-patchset, status, approval), got {kind(body)}",
            )
            continue
        for name, value in body.items():
            where = _loc(body, name, loc)
            if name not in REQUIREMENT_KEYS:
                hint = did_you_mean(str(name), REQUIREMENT_KEYS)
                errors.add(
                    _loc(body, name, loc, values=False),
                    f"{what}: unknown key '{name}'{hint}; expected one of open, current-patchset, status, approval",
                )
            elif name in ("open", "current-patchset", "current-patch-set"):
                if not isinstance(value, bool):
                    errors.add(where, f"{what}: '{name}': expected true or false, got {kind(value)}")
            elif name == "status":
                statuses = value if isinstance(value, list) else [value]
                if not statuses or not all(isinstance(s, str) and s for s in statuses):
                    errors.add(
                        where,
                        f"{what}: 'status': expected a status (e.g. NEW) or a list of them, got {kind(value)}",
                    )
            else:
                check_approvals(errors, value, where, what)
