"""Compare a run's metrics with a baseline run's: regressions and improvements per metric.

Whether bigger is better is read from the metric when it says (`better: higher`
or `lower` in the metrics file), else guessed from its unit: rates (`/s`,
`ops`, `qps`, `rps`, `per`) are better higher, everything else (time, bytes,
counts of errors) better lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HIGHER_IS_BETTER_HINTS = ("/s", "ops", "qps", "rps", "tps", "per", "throughput", "hz", "score")


@dataclass
class Comparison:
    job: str
    metric: str
    unit: str
    baseline: float
    current: float
    change: float  # relative change, current vs baseline (0.1 = +10%)
    verdict: str  # regression, improvement, unchanged, new, missing

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def higher_is_better(unit: str, better: str | None = None) -> bool:
    if better in ("higher", "lower"):
        return better == "higher"
    unit = unit.lower()
    return any(hint in unit for hint in HIGHER_IS_BETTER_HINTS)


def metrics_by_job(run_json: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(job, metric) -> {"value", "unit", "better"?} from an `osci ... --json` document."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for build in run_json.get("builds", []):
        if not isinstance(build, dict):
            continue
        for name, entry in (build.get("metrics") or {}).items():
            if isinstance(entry, int | float):
                entry = {"value": entry, "unit": ""}
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
                table[(str(build.get("job")), str(name))] = entry
    return table


def compare(baseline: dict[str, Any], current: dict[str, Any], threshold: float) -> list[Comparison]:
    """Compare two `--json` documents; `threshold` is relative (0.05 = 5%)."""
    before = metrics_by_job(baseline)
    after = metrics_by_job(current)
    rows: list[Comparison] = []
    for key in sorted(set(before) | set(after)):
        job, metric = key
        if key not in before:
            entry = after[key]
            rows.append(
                Comparison(job, metric, entry.get("unit", ""), float("nan"), entry["value"], 0.0, "new")
            )
            continue
        if key not in after:
            entry = before[key]
            rows.append(
                Comparison(job, metric, entry.get("unit", ""), entry["value"], float("nan"), 0.0, "missing")
            )
            continue
        old, new = float(before[key]["value"]), float(after[key]["value"])
        unit = after[key].get("unit") or before[key].get("unit") or ""
        change = (new - old) / abs(old) if old else (0.0 if new == old else float("inf"))
        better = after[key].get("better") or before[key].get("better")
        gain = change if higher_is_better(unit, better) else -change
        if gain < -threshold:
            verdict = "regression"
        elif gain > threshold:
            verdict = "improvement"
        else:
            verdict = "unchanged"
        rows.append(Comparison(job, metric, unit, old, new, change, verdict))
    return rows
