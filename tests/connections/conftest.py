from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from osci.connections.base import ConnectionContext
from osci.model import Event


class Recorder:
    """An `emit` that keeps the events and lets a test wait for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 20) -> list[Event]:
        async def enough() -> None:
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.events


@pytest.fixture
def context(tmp_path: Path) -> ConnectionContext:
    return ConnectionContext(data_dir=tmp_path / "data", base_url="http://127.0.0.1:9")
