"""What the HTTP API needs from the running server: the scheduler's public face."""

from __future__ import annotations

from typing import Any, Protocol


class ServerPort(Protocol):
    """Implemented by ``osci server``; the API never reaches past it into scheduler internals."""

    def status(self) -> dict[str, Any]:
        """The scheduler's status document: ``{"pipelines": [{"name", "manager", "queues": [...]}]}``."""
        ...

    async def enqueue(
        self, project: str | None, pipeline: str, branch: str | None, ref: str | None, change: str | None
    ) -> dict[str, Any]:
        """Enqueue a manual event; ``{"event": uuid, ...}``. Raises ValueError for a bad request."""
        ...

    async def dequeue(
        self,
        item: str | None,
        project: str | None,
        change: str | None,
        ref: str | None,
        pipeline: str | None,
    ) -> list[str]:
        """Dequeue live items; returns their ids. Raises ValueError when nothing matches."""
        ...

    async def reload(self) -> dict[str, Any]:
        """Reload the configuration: ``{"ok": bool, "errors": [{"file", "line", "column", "message"}]}``."""
        ...

    async def notify(self, connection: str, payload: dict[str, Any]) -> None:
        """A post-receive hook says a repository changed. Raises KeyError for an unknown connection."""
        ...

    async def webhook(self, connection: str, headers: dict[str, str], body: bytes) -> str:
        """A webhook for a connection: what it did. Raises KeyError for an unknown connection and
        osci.connections.base.WebhookRejected when the connection refuses the delivery."""
        ...

    def metrics(self) -> dict[str, Any]:
        """``{"queue_lengths", "builds_by_result", "event_to_start_seconds", "build_durations",
        "running_builds"}``."""
        ...

    def is_running(self, build_uuid: str) -> bool: ...

    def config_errors(self) -> list[dict[str, Any]]: ...

    def nodes(self) -> dict[str, Any]:
        """The grid: ``{"nodes": [...], "halted": {label: why}, "autoholds": [...]}``."""
        ...

    async def node(self, name: str) -> dict[str, Any] | None:
        """One node with its latest events, or None."""
        ...

    def node_action(self, name: str, action: str, reason: str = "") -> dict[str, Any]:
        """hold | release | maintenance | quarantine; raises ValueError (unknown node or action)."""
        ...

    def resume_label(self, label: str) -> bool: ...

    async def promote(self, pipeline: str | None, project: str | None) -> dict[str, Any]:
        """`osci promote`: test a promote pipeline's staging branch now; ValueError says why not."""
        ...

    async def autohold(self, project: str, job: str, count: int, reason: str) -> dict[str, Any]:
        """Keep the nodes of the job's next `count` failing builds (stored: survives a restart)."""
        ...

    def job_info(self, name: str) -> dict[str, Any] | None:
        """The running configuration's view of a job (definition, variants, where it runs and
        why), or None when no job has that name."""
        ...

    def project_info(self, name: str) -> dict[str, Any] | None:
        """A project's settings and its jobs per pipeline, or None for an unknown project."""
        ...

    def breaking_pipelines(self) -> list[str]:
        """Pipelines whose failures mean a merged (or merging) change broke something: gate
        (dependent, serial) and post-merge (ref-updated) pipelines, for "who breaks builds"."""
        ...

    def config_summary(self) -> dict[str, Any]:
        """The running configuration in brief: ``{"pipelines": [{"name", "manager", "precedence"}],
        "projects": [names], "jobs": [names]}`` (sorted by name)."""
        ...
