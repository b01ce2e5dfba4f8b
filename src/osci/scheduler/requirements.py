"""Pipeline `require` and `reject` (Zuul's shape, per connection), and approval matching.

A requirement looks at the change as the review system saw it (`Event.change_state`, filled
in by the driver): `open`, `current-patchset`, `status` and `approval`. Requirements of a
connection apply to the changes of that connection only; events without a change (a branch
update) and manual requests are not held to them.

    require: {gerrit: {open: true, current-patchset: true, approval: [{Code-Review: 2}]}}
    reject:  {gerrit: {approval: [{Verified: [-1, -2], username: ^other-ci$}]}}

An `approval` entry matches a vote when every label it names has one of the given values and
its `username` / `email` regular expressions (if any) match the voter.
"""

from __future__ import annotations

import re
from typing import Any

from osci.model import Event

KEYS = ("open", "current-patchset", "current-patch-set", "status", "approval")
VOTER_KEYS = ("username", "email")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _values(wanted: Any) -> set[int]:
    return {int(v) for v in as_list(wanted)}


def _vote_value(vote: dict[str, Any]) -> int | None:
    try:
        return int(vote.get("value"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def vote_matches(wanted: dict[str, Any], vote: dict[str, Any]) -> bool:
    """One wanted approval (`{Code-Review: 2, username: ...}`) against one vote."""
    labels = {k: v for k, v in wanted.items() if k not in VOTER_KEYS}
    if len(labels) > 1:
        return False  # one vote carries one label; several labels are matched vote by vote
    for key in VOTER_KEYS:
        if key in wanted and not re.search(str(wanted[key]), str(vote.get(key) or "")):
            return False
    for label, values in labels.items():
        if vote.get("type") != label or _vote_value(vote) not in _values(values):
            return False
    return True


def approval_matches(wanted: dict[str, Any], votes: list[dict[str, Any]]) -> bool:
    """Every label named in `wanted` has a matching vote (by a matching voter)."""
    voter = {k: v for k, v in wanted.items() if k in VOTER_KEYS}
    labels = {k: v for k, v in wanted.items() if k not in VOTER_KEYS}
    if not labels:
        return any(vote_matches(voter, vote) for vote in votes)
    return all(
        any(vote_matches({**voter, label: values}, vote) for vote in votes)
        for label, values in labels.items()
    )


def _holds(key: str, wanted: Any, state: dict[str, Any]) -> bool:
    """Whether the change's state has the property `key: wanted`."""
    if key == "open":
        return bool(state.get("open")) == bool(wanted)
    if key in ("current-patchset", "current-patch-set"):
        return bool(state.get("current_patchset")) == bool(wanted)
    if key == "status":
        return str(state.get("status") or "") in {str(s) for s in as_list(wanted)}
    if key == "approval":
        votes = list(state.get("approvals") or [])
        return all(approval_matches(dict(w), votes) for w in as_list(wanted))
    return True


def _rejected_by(key: str, wanted: Any, state: dict[str, Any]) -> bool:
    if key == "approval":  # any listed approval present rejects
        votes = list(state.get("approvals") or [])
        return any(approval_matches(dict(w), votes) for w in as_list(wanted))
    return _holds(key, wanted, state)


def unmet(require: dict[str, Any], reject: dict[str, Any], event: Event) -> list[str]:
    """Why `event`'s change may not enter a pipeline with these `require` and `reject` (empty: it may)."""
    if event.type == "manual" or not event.change:
        return []
    reasons: list[str] = []
    state = event.change_state
    wanted = require.get(event.connection) or {}
    if wanted and state is None:
        return [f"require: the state of change {event.change} is unknown"]
    for key, value in wanted.items():
        if not _holds(key, value, state or {}):
            reasons.append(f"require {key}: {value!r} not met")
    for key, value in (reject.get(event.connection) or {}).items():
        if state is not None and _rejected_by(key, value, state):
            reasons.append(f"reject {key}: {value!r} matches")
    return reasons
