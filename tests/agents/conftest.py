"""Fixtures of the agent tests: the real server and real `osci agent` processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.conftest import Repo, ServerProcess, make_server, repo, wait_for  # noqa: F401  (fixtures)

from .agentlab import AgentProcess, netns_works

_NETNS: bool | None = None


@pytest.fixture
def make_agent(tmp_path: Path, capsys):
    """make_agent(server, name, need_netns=False, **options) -> a started AgentProcess."""
    global _NETNS
    if _NETNS is None:  # OSCI_TEST_NETNS=0 forces the loopback fallback
        _NETNS = os.environ.get("OSCI_TEST_NETNS") != "0" and netns_works()
    agents: list[AgentProcess] = []

    def make(server: ServerProcess, name: str, need_netns: bool = False, start: bool = True, **options) -> AgentProcess:
        if need_netns and not _NETNS:
            pytest.skip("no network namespaces here (ip netns add failed, or OSCI_TEST_NETNS=0): cutting an agent's network needs them")
        agent = AgentProcess(tmp_path / "agents", server.port, server.data, name, len(agents) + 1, bool(_NETNS), **options)
        agents.append(agent)
        if len(agents) == 1:
            with capsys.disabled():
                where = "in network namespaces (veth)" if _NETNS else "on loopback (network namespaces unavailable)"
                print(f"\n[agents {where}]", end=" ")
        if start:
            agent.start()
        return agent

    yield make
    for agent in agents:
        agent.close()
