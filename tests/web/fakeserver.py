"""A small, real ServerPort for the API tests: in-memory queues instead of a scheduler."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from osci.nodes.pool import NodePool
from osci.server.nodes import node_action


class TinyServer:
    """Keeps what it is told: enqueue adds an item to the status document, dequeue removes it."""

    def __init__(
        self, pipelines: tuple[str, ...] = ("check", "gate"), connections: tuple[str, ...] = ("git",)
    ):
        self.pipelines = {name: [] for name in pipelines}
        self.connections = set(connections)
        self.notified: list[tuple[str, dict[str, Any]]] = []
        self.running: set[str] = set()
        self.reloads = 0
        self.errors: list[dict[str, Any]] = []
        self.finished: dict[str, int] = {"SUCCESS": 3, "FAILURE": 1}
        self._ids = itertools.count(1)
        # What the configuration says, as the real server's config_info would answer it.
        self.jobs: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.breaking: list[str] = ["gate"]
        # the grid: a real node pool of local slots (no store: node events are not kept)
        self.pool = NodePool.from_specs([], slots=2, build_dir=lambda uuid: Path("/nonexistent") / uuid)

    def nodes(self) -> dict[str, Any]:
        return self.pool.snapshot()

    async def node(self, name: str) -> dict[str, Any] | None:
        node = self.pool.nodes.get(name)
        return None if node is None else {**node.to_dict(), "events": []}

    def node_action(self, name: str, action: str, reason: str = "") -> dict[str, Any]:
        return node_action(self.pool, name, action, reason)

    def resume_label(self, label: str) -> bool:
        return self.pool.resume(label)

    async def autohold(self, project: str, job: str, count: int, reason: str) -> dict[str, Any]:
        hold = self.pool.add_autohold(project, job, count, reason)
        return {"project": hold.project, "job": hold.job, "count": hold.count, "reason": hold.reason}

    def status(self) -> dict[str, Any]:
        return {
            "pipelines": [
                {"name": name, "manager": "independent", "queues": [{"name": name, "items": list(items)}]}
                for name, items in self.pipelines.items()
            ],
            "zone": "lab",  # an extra field the API must pass through
        }

    async def enqueue(
        self, project: str, pipeline: str, branch: str | None, ref: str | None, change: str | None
    ) -> dict[str, Any]:
        if pipeline not in self.pipelines:
            raise ValueError(f"no pipeline named {pipeline!r}")
        number = next(self._ids)
        item = {
            "id": f"item-{number}",
            "project": project,
            "branch": branch,
            "ref": ref,
            "change": change,
            "enqueue_time": 1700000000.0 + number,
            "jobs": [
                {
                    "name": "unit",
                    "build": None,
                    "result": None,
                    "start_time": None,
                    "elapsed": None,
                    "estimated": 60.0,
                }
            ],
        }
        self.pipelines[pipeline].append(item)
        return {"event": f"event-{number}", "outcome": f"enqueued into {pipeline}"}

    async def dequeue(
        self, item: str | None, project: str | None, change: str | None, ref: str | None, pipeline: str | None
    ) -> list[str]:
        removed: list[str] = []
        for name, items in self.pipelines.items():
            if pipeline is not None and name != pipeline:
                continue
            for entry in list(items):
                if item is not None and entry["id"] != item:
                    continue
                if project is not None and entry["project"] != project:
                    continue
                if change is not None and entry["change"] != change:
                    continue
                if ref is not None and entry["ref"] != ref:
                    continue
                items.remove(entry)
                removed.append(entry["id"])
        if not removed:
            raise ValueError("no live item matches")
        return removed

    async def promote(self, pipeline: str | None, project: str | None) -> dict[str, Any]:
        raise ValueError("no promote pipeline in this configuration")

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": not self.errors, "errors": self.errors}

    async def webhook(self, connection: str, headers: dict[str, str], body: bytes) -> str:
        """Accepts deliveries signed with the header ``x-test-token: right`` only."""
        from osci.connections.base import WebhookRejected

        if connection not in self.connections:
            raise KeyError(connection)
        if headers.get("x-test-token") != "right":
            raise WebhookRejected(401, "signature does not match")
        self.notified.append((connection, {"webhook": body.decode("utf-8", "replace")}))
        return "1 event"

    async def notify(self, connection: str, payload: dict[str, Any]) -> None:
        if connection not in self.connections:
            raise KeyError(connection)
        self.notified.append((connection, payload))

    def metrics(self) -> dict[str, Any]:
        return {
            "queue_lengths": {name: len(items) for name, items in self.pipelines.items()},
            "builds_by_result": dict(self.finished),
            "event_to_start_seconds": [0.5, 2.0, 40.0],
            "build_durations": [12.0, 95.5],
            "running_builds": len(self.running),
        }

    def is_running(self, build_uuid: str) -> bool:
        return build_uuid in self.running

    def config_errors(self) -> list[dict[str, Any]]:
        return list(self.errors)

    def job_info(self, name: str) -> dict[str, Any] | None:
        return self.jobs.get(name)

    def project_info(self, name: str) -> dict[str, Any] | None:
        return self.projects.get(name)

    def breaking_pipelines(self) -> list[str]:
        return list(self.breaking)

    def config_summary(self) -> dict[str, Any]:
        return {
            "pipelines": [
                {
                    "name": name,
                    "manager": "dependent" if name in self.breaking else "independent",
                    "precedence": "normal",
                }
                for name in sorted(self.pipelines)
            ],
            "projects": sorted(self.projects),
            "jobs": sorted(self.jobs),
        }
