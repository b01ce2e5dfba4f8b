"""After the final attempt: find and parse test results and metrics, list artifacts."""

from __future__ import annotations

from pathlib import Path

from osci.executor.console import Console
from osci.executor.metrics import MetricsError, parse_metrics
from osci.executor.parsers import ParseError, parse_file
from osci.model import Metric, TestCase


def find(patterns: list[str], roots: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Files matching the glob patterns under each root, as (path, name shown to users), no duplicates."""
    seen: set[Path] = set()
    found: list[tuple[Path, str]] = []
    for root, prefix in roots:
        if not root.is_dir():
            continue
        for pattern in patterns:
            if not pattern or Path(pattern).is_absolute():
                continue
            try:
                matches = sorted(root.glob(pattern))
            except (ValueError, OSError):
                continue
            for path in matches:
                if not path.is_file() or ".git" in path.relative_to(root).parts:
                    continue
                key = path.resolve()
                if key not in seen:
                    seen.add(key)
                    found.append((path, prefix + path.relative_to(root).as_posix()))
    return found


def collect_tests(patterns: list[str], roots: list[tuple[Path, str]], console: Console) -> list[TestCase]:
    cases: list[TestCase] = []
    files = find(patterns, roots)
    for path, source in files:
        try:
            parsed = parse_file(path, source)
        except ParseError as exc:
            console.note(f"osci: test results: {exc}")
            continue
        console.note(f"osci: test results: {source}: {len(parsed)} test cases")
        cases.extend(parsed)
    if patterns and not files:
        console.note(f"osci: test results: no file matches {', '.join(patterns)}")
    return cases


def collect_metrics(patterns: list[str], roots: list[tuple[Path, str]], console: Console) -> list[Metric]:
    metrics: list[Metric] = []
    files = find(patterns, roots)
    for path, source in files:
        try:
            found, notes = parse_metrics(path, source)
        except MetricsError as exc:
            console.note(f"osci: metrics: {exc}")
            continue
        for note in notes:
            console.note(f"osci: metrics: {note}")
        metrics.extend(found)
    if patterns and not files:
        console.note(f"osci: metrics: no file matches {', '.join(patterns)}")
    return metrics


def list_files(directory: Path) -> list[str]:
    """Every file under `directory`, as sorted relative POSIX paths."""
    if not directory.is_dir():
        return []
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
