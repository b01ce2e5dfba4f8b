"""Fixtures of the node tests: a lab of real sshd hosts (network namespaces, else loopback)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.conftest import Repo, ServerProcess, make_server, repo, wait_for  # noqa: F401  (fixtures)

from .sshhosts import Lab, netns_works, sshd_available

_NETNS: bool | None = None


@pytest.fixture
def make_lab(tmp_path: Path, capsys):
    if not sshd_available():
        pytest.fail("OpenSSH's sshd is needed (apt-get install openssh-server; scripts/test.sh does it)")
    global _NETNS
    if _NETNS is None:  # OSCI_TEST_NETNS=0 forces the loopback fallback
        _NETNS = os.environ.get("OSCI_TEST_NETNS") != "0" and netns_works()
    labs: list[Lab] = []

    def make(count: int = 2, need_netns: bool = False) -> Lab:
        if need_netns and not _NETNS:
            pytest.skip(
                "no network namespaces here (ip netns add failed, or OSCI_TEST_NETNS=0): cutting a host's network needs them"
            )
        lab = Lab(tmp_path / f"lab{len(labs)}", count, _NETNS)
        labs.append(lab)
        with capsys.disabled():
            where = (
                "in network namespaces (veth)"
                if _NETNS
                else "on loopback ports (network namespaces unavailable)"
            )
            print(f"\n[lab: {count} sshd hosts {where}]", end=" ")
        return lab

    yield make
    for lab in labs:
        lab.close()
