"""The local provider: N executor slots on the server's own machine.

Each build runs the shared executor (`osci.executor.run_build`) in a worker
thread; the scheduler awaits its record. A build's files go to the blob store's
folder for its uuid, so logs can be served while it runs.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from osci.executor import BuildRequest, run_build
from osci.model import BuildRecord
from osci.scheduler.ports import BuildOrder


class LocalSlots:
    """A Dispatcher with `slots` concurrent builds on this machine."""

    def __init__(
        self, slots: int | None, build_dir: Callable[[str], Path], workspace_root: Path | None = None
    ) -> None:
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.build_dir = build_dir
        self.workspace_root = workspace_root
        self.running = 0
        self.node_name = f"local:{socket.gethostname()}"
        self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="osci-slot")

    def free_slots(self) -> int:
        return self.slots - self.running

    async def run(self, order: BuildOrder) -> BuildRecord:
        item, build = order.item, order.build
        build.node = self.node_name
        request = BuildRequest(
            job=build.job,
            build_dir=self.build_dir(build.uuid),
            source=order.source or Path("."),
            ref=order.ref,
            project=item.project,
            branch=item.branch,
            change=item.change,
            uuid=build.uuid,
            workspace_root=self.workspace_root,
        )
        self.running += 1
        try:
            loop = asyncio.get_running_loop()
            record = await loop.run_in_executor(self._pool, run_build, request, order.cancel, order.on_output)
        finally:
            self.running -= 1
        for attempt in record.attempts:
            attempt.node = attempt.node or self.node_name
        return record

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
