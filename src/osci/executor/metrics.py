"""Metrics files: JSON objects `{"name": 12.5}` or `{"name": {"value": 12.5, "unit": "ms"}}`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from osci.model import Metric

MAX_FILE = 16 * 1024 * 1024


class MetricsError(Exception):
    """A metrics file that could not be used; the message says why."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_metrics(path: Path, source: str) -> tuple[list[Metric], list[str]]:
    """The metrics of one file and notes about entries that were skipped; MetricsError if unusable."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise MetricsError(f"{source}: too big for a metrics file (limit {MAX_FILE} bytes)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MetricsError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetricsError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MetricsError(
            f'{source}: expected a JSON object like {{"name": 12.5}}, got {type(data).__name__}'
        )
    metrics: list[Metric] = []
    notes: list[str] = []
    for name, entry in data.items():
        unit = ""
        if isinstance(entry, dict):
            value = _number(entry.get("value"))
            unit_value = entry.get("unit", "")
            unit = unit_value if isinstance(unit_value, str) else ""
        else:
            value = _number(entry)
        if value is None:
            notes.append(
                f"{source}: metric {name!r} skipped: expected a finite number or {{'value': number}}"
            )
            continue
        metrics.append(Metric(name=name, value=value, unit=unit))
    return metrics, notes
