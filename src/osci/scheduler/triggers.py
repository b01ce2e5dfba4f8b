"""Which pipelines an event enters: the pipeline's trigger filters against the event."""

from __future__ import annotations

import re
from typing import Any

from osci.model import Event
from osci.scheduler.requirements import approval_matches

# Filter keys matched as regular expressions (re.search for comments, re.match otherwise, as Zuul does).
_MATCHED_FROM_START = ("branch", "ref")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _regex_any(patterns: list[str], text: str | None, *, search: bool = False) -> bool:
    if text is None:
        return False
    for pattern in patterns:
        matcher = re.search if search else re.match
        if matcher(pattern, text, re.MULTILINE if search else 0):
            return True
    return False


def filter_matches(events: list[str], options: dict[str, Any], event: Event) -> bool:
    """One trigger filter (its `event` names and other keys) against an event."""
    if events and event.type not in events:
        return False
    for key in _MATCHED_FROM_START:
        patterns = [str(p) for p in _as_list(options.get(key))]
        if patterns:
            value = getattr(event, key)
            if key == "branch" and value is None and event.ref and event.ref.startswith("refs/heads/"):
                value = event.ref[len("refs/heads/") :]
            if not _regex_any(patterns, value):
                return False
    actions = [str(a) for a in _as_list(options.get("action"))]
    if actions and event.payload.get("action") not in actions:
        return False  # e.g. GitHub's pull_request actions: opened, synchronize, reopened, closed
    comments = [str(p) for p in _as_list(options.get("comment"))]
    if comments and not _regex_any(comments, event.comment, search=True):
        return False
    # `approval: [{Code-Review: 2}]`: the votes the event itself carries (a comment-added's)
    return all(
        approval_matches(dict(wanted), event.approvals) for wanted in _as_list(options.get("approval"))
    )


def pipeline_matches(pipeline: Any, event: Event) -> bool:
    """True when `event` enters `pipeline` (an `osci.config` Pipeline)."""
    if event.type in ("manual", "timer", "culprit-search"):
        # Manual, timer and culprit-search events name their pipeline; a timer's must also be
        # among its triggers.
        if event.pipeline != pipeline.name:
            return False
        return event.type != "timer" or event.connection in pipeline.triggers
    if event.pipeline and event.pipeline != pipeline.name:
        return False  # e.g. a re-requested GitHub check run names the pipeline that made it
    for flt in pipeline.triggers.get(event.connection, []):
        if filter_matches(list(flt.events), dict(flt.options), event):
            return True
    return False
