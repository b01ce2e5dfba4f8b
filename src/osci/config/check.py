"""Readers that validate one YAML mapping and record precise errors instead of raising."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from osci.config.errors import ErrorList, did_you_mean
from osci.config.yamlpos import PosDict, PosList
from osci.model import SourceLocation


def kind(value: Any) -> str:
    """How a YAML value reads in an error message: 'a mapping', 'a string', ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def compile_regex(errors: ErrorList, pattern: str, location: SourceLocation, what: str = "") -> bool:
    """True if `pattern` compiles; otherwise record the regex error at `location`."""
    try:
        re.compile(pattern)
    except re.error as exc:
        errors.add(location, f"{what}bad regular expression '{pattern}': {exc}")
        return False
    return True


def item_locations(value: Any, fallback: SourceLocation) -> list[SourceLocation]:
    if isinstance(value, PosList):
        return value.item_locs
    return [fallback] * len(value)


class Section:
    """One mapping being validated: `what` names it in messages ("job 'x'", "nodeset")."""

    def __init__(self, errors: ErrorList, data: PosDict, what: str) -> None:
        self.errors = errors
        self.data = data
        self.what = what

    @property
    def loc(self) -> SourceLocation:
        return self.data.loc

    def key_loc(self, key: str) -> SourceLocation:
        return self.data.key_locs.get(key, self.data.loc)

    def value_loc(self, key: str) -> SourceLocation:
        return self.data.value_locs.get(key, self.data.loc)

    def has(self, key: str) -> bool:
        return key in self.data

    def error(self, key: str, message: str) -> None:
        self.errors.add(self.value_loc(key), message)

    def check_keys(
        self, allowed: Iterable[str], required: Iterable[str] = (), extra: Iterable[str] = ()
    ) -> list[str]:
        """Report missing required keys and unknown keys; return the unknown ones.

        Keys in `extra` are accepted (checked by the caller)."""
        allowed = set(allowed)
        accepted = allowed | set(extra)
        for key in required:
            if key not in self.data:
                self.errors.add(self.loc, f"{self.what}: missing required key '{key}'")
        unknown = [k for k in self.data if k not in accepted]
        for key in unknown:
            hint = did_you_mean(str(key), allowed)
            self.errors.add(self.key_loc(key), f"{self.what}: unknown key '{key}'{hint}")
        return unknown

    def _expect(self, key: str, expected: str) -> None:
        self.error(key, f"{self.what}: '{key}': expected {expected}, got {kind(self.data[key])}")

    def str(self, key: str) -> str | None:
        value = self.data.get(key)
        if key not in self.data:
            return None
        if isinstance(value, str) and value:
            return value
        self._expect(key, "a non-empty string")
        return None

    def text(self, key: str) -> str | None:
        """A string that may be empty (descriptions)."""
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, str):
            return value
        self._expect(key, "a string")
        return None

    def bool(self, key: str) -> bool | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, bool):
            return value
        self._expect(key, "true or false")
        return None

    def int(self, key: str, minimum: int | None = None) -> int | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, int) or isinstance(value, bool):
            self._expect(key, "an integer")
            return None
        if minimum is not None and value < minimum:
            self.error(key, f"{self.what}: '{key}' must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, key: str, minimum: float | None = None) -> float | None:
        """A number of seconds or a factor: ints and floats, strictly above `minimum` if given."""
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            self._expect(key, "a number")
            return None
        if minimum is not None and value <= minimum:
            self.error(key, f"{self.what}: '{key}' must be greater than {minimum:g}, got {value}")
            return None
        return value

    def choice(self, key: str, choices: Iterable[str]) -> str | None:
        if key not in self.data:
            return None
        choices = list(choices)
        value = self.data[key]
        if isinstance(value, str) and value in choices:
            return value
        if not isinstance(value, str):
            self._expect(key, "one of " + ", ".join(choices))
        else:
            hint = did_you_mean(value, choices)
            self.error(key, f"{self.what}: '{key}': '{value}' is not one of {', '.join(choices)}{hint}")
        return None

    def mapping(self, key: str) -> PosDict | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, PosDict):
            return value
        self._expect(key, "a mapping")
        return None

    def str_list(self, key: str, expected: str = "a string or a list of strings") -> list[str] | None:
        """A string or a list of strings, as a list."""
        return self.str_list_with_locs(key, expected)[0]

    def str_list_with_locs(
        self, key: str, expected: str = "a string or a list of strings"
    ) -> tuple[list[str] | None, list[SourceLocation]]:
        if key not in self.data:
            return None, []
        value = self.data[key]
        if isinstance(value, str) and value:
            return [value], [self.value_loc(key)]
        if not isinstance(value, list):
            self._expect(key, expected)
            return None, []
        locs = item_locations(value, self.value_loc(key))
        good = True
        for item, loc in zip(value, locs, strict=True):
            if not isinstance(item, str) or not item:
                self.errors.add(
                    loc, f"{self.what}: '{key}': expected {expected}, found {kind(item)} in the list"
                )
                good = False
        return (list(value), locs) if good else (None, [])

    def regexes(self, key: str) -> list[str] | None:
        """A regular expression or a list of them, each compiled to check it."""
        patterns, locs = self.str_list_with_locs(key, "a regular expression or a list of regular expressions")
        if patterns is None:
            return None
        what = f"{self.what}: '{key}': "
        ok = all([compile_regex(self.errors, p, loc, what) for p, loc in zip(patterns, locs, strict=True)])
        return patterns if ok else None


def as_section(errors: ErrorList, value: Any, loc: SourceLocation, what: str) -> Section | None:
    """A Section for `value` if it is a mapping; otherwise an error at `loc`."""
    if isinstance(value, PosDict):
        return Section(errors, value, what)
    errors.add(loc, f"{what}: expected a mapping, got {kind(value)}")
    return None
