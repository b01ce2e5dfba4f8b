"""Branch and file matchers, as in Zuul: regexes matched with `re.match` (anchored at the start)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from osci.model import SourceLocation


@dataclass
class Match:
    """Whether a job runs for a branch and a set of changed files, and why."""

    runs: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.runs


def regex_matches(patterns: list[str], text: str) -> str | None:
    """The first pattern that matches `text` at its start, or None."""
    for pattern in patterns:
        if re.match(pattern, text):
            return pattern
    return None


def branch_matches(patterns: list[str] | None, branch: str) -> bool:
    """A definition without `branches` matches every branch."""
    return not patterns or regex_matches(patterns, branch) is not None


def _where(location: SourceLocation | None) -> str:
    return f" (set at {location})" if location else ""


def files_match(
    files_patterns: list[str],
    irrelevant_patterns: list[str],
    changed: list[str] | None,
    files_location: SourceLocation | None = None,
    irrelevant_location: SourceLocation | None = None,
) -> Match:
    """Apply `files` and `irrelevant-files` to the changed files (None: unknown, both pass)."""
    result = Match(True)
    if changed is None or not changed:
        if files_patterns or irrelevant_patterns:
            what = "unknown" if changed is None else "empty"
            result.reasons.append(f"files: the list of changed files is {what}, file matchers pass")
        return result
    if files_patterns:
        hits = [(f, p) for f in changed if (p := regex_matches(files_patterns, f)) is not None]
        if hits:
            f, p = hits[0]
            result.reasons.append(f"files: '{f}' matches '{p}'{_where(files_location)}")
        else:
            result.runs = False
            result.reasons.append(
                f"files: no changed file matches any of {files_patterns}{_where(files_location)}"
            )
    if irrelevant_patterns:
        relevant = [f for f in changed if regex_matches(irrelevant_patterns, f) is None]
        if relevant:
            result.reasons.append(
                f"irrelevant-files: '{relevant[0]}' is not irrelevant{_where(irrelevant_location)}"
            )
        else:
            result.runs = False
            result.reasons.append(
                f"irrelevant-files: every changed file matches {irrelevant_patterns}{_where(irrelevant_location)}"
            )
    return result
