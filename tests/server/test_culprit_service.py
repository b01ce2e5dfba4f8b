"""The culprit service never waits forever on a search build the scheduler did not take."""

from __future__ import annotations

import asyncio

from osci.analysis.culprit import ERROR
from osci.model import Event
from osci.server.culprits import CulpritService, _Waiter


def test_a_search_build_whose_event_entered_no_pipeline_ends_as_an_error() -> None:
    async def scenario() -> tuple:
        service = CulpritService(server=None)
        event = Event(connection="local", type="culprit-search", project="demo", newrev="a" * 40)
        future = asyncio.get_running_loop().create_future()
        service.waiters[event.uuid] = _Waiter("unit", future)
        other = Event(connection="local", type="culprit-search", project="demo")
        service.event_refused(other, "no pipeline took it")  # not a search's event: ignored
        assert not future.done()
        service.event_refused(event, "pipeline post: requirements not met")
        return await asyncio.wait_for(future, 5)

    assert asyncio.run(scenario()) == (ERROR, None, None, None)
