"""/metrics in the Prometheus text format, read from the server at each scrape."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from osci.web.ports import ServerPort

EVENT_TO_START_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def histogram(name: str, documentation: str, values: Iterable[Any], bounds: tuple[float, ...]) -> Metric:
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    buckets = [(str(float(bound)), sum(1 for n in numbers if n <= bound)) for bound in bounds]
    buckets.append(("+Inf", len(numbers)))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=sum(numbers))


class ServerCollector:
    """A prometheus_client collector over ``ServerPort.metrics()``."""

    def __init__(self, server: ServerPort) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        data = self.server.metrics() or {}
        queues = GaugeMetricFamily("osci_queue_length", "Items in each pipeline", labels=["pipeline"])
        for pipeline, length in sorted((data.get("queue_lengths") or {}).items()):
            if (value := _number(length)) is not None:
                queues.add_metric([str(pipeline)], value)
        yield queues
        builds = CounterMetricFamily("osci_builds", "Builds finished, by result", labels=["result"])
        for result, total in sorted((data.get("builds_by_result") or {}).items()):
            if (value := _number(total)) is not None:
                builds.add_metric([str(result)], value)
        yield builds
        yield histogram(
            "osci_event_to_start_seconds",
            "Seconds from an event to the start of the first build it triggered",
            data.get("event_to_start_seconds") or (),
            EVENT_TO_START_BUCKETS,
        )
        yield histogram(
            "osci_build_duration_seconds",
            "Duration of finished builds",
            data.get("build_durations") or (),
            DURATION_BUCKETS,
        )
        yield GaugeMetricFamily(
            "osci_running_builds", "Builds running now", value=_number(data.get("running_builds")) or 0.0
        )


def registry_for(server: ServerPort) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(server))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
