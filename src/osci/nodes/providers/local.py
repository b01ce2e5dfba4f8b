"""The `local` provider: N slots on the server's own machine, each attempt run by the executor;
with `sandbox: bubblewrap`, each step in a `bwrap` sandbox (osci.nodes.sandbox)."""

from __future__ import annotations

import os
import socket

from osci.config.providers import ProviderSpec
from osci.executor.attempt import AttemptSetup, run_attempt
from osci.model import Attempt
from osci.nodes import sandbox
from osci.nodes.model import ANY_LABEL, Node
from osci.nodes.providers.base import Lease, NodeFailure, Provider


class LocalProvider(Provider):
    def __init__(self, spec: ProviderSpec, any_label: bool = False) -> None:
        super().__init__(spec)
        self.slots = max(1, spec.slots or os.cpu_count() or 1)
        # Its slots run the jobs without a nodeset, and its `label`'s. The implicit pool of a
        # server without providers (`any_label`) runs every job, whatever its nodeset asks for.
        self.label = None if any_label else (spec.label or ANY_LABEL)

    def nodes(self) -> list[Node]:
        name = (
            f"local:{socket.gethostname()}" if self.name == "local" else f"{self.name}:{socket.gethostname()}"
        )
        return [
            Node(
                name=name,
                label=self.label,
                provider=self.name,
                capabilities=tuple(self.spec.provides),
                slots=self.slots,
                address="localhost",
                default=True,
                log_leases=False,  # thousands of builds: their events would drown the node's history
            )
        ]

    def run_attempt(self, lease: Lease, setup: AttemptSetup) -> Attempt:
        if self.spec.sandbox == "bubblewrap":
            # checked before each attempt: a sandbox that cannot start would make every step
            # exit 1, a test failure; it is an infrastructure error (the node goes offline)
            problem = sandbox.check_bwrap()
            if problem is not None:
                raise NodeFailure(lease.primary.name, f"sandbox: {problem}")
            setup.wrap = sandbox.bubblewrap(setup.workspace, setup.request.build_dir)
        return run_attempt(setup)

    async def probe(self, node: Node) -> str | None:
        if self.spec.sandbox == "bubblewrap":
            return sandbox.check_bwrap()
        return None
