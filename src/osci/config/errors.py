"""Configuration errors: each names the file, line and column where it was found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from osci.model import SourceLocation


@dataclass(frozen=True)
class ConfigError:
    location: SourceLocation
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigErrors(Exception):
    """Raised when a configuration does not load; holds every error found, in file order."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = sorted(
            set(errors), key=lambda e: (e.location.file, e.location.line, e.location.column, e.message)
        )
        super().__init__("\n".join(str(e) for e in self.errors))


class ErrorList:
    """Collects errors while loading so that all of them are reported, not just the first."""

    def __init__(self) -> None:
        self.items: list[ConfigError] = []

    def add(self, location: SourceLocation, message: str) -> None:
        self.items.append(ConfigError(location, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigErrors(self.items)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
