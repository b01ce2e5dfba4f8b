"""The `local` provider: N slots on the server's own machine, each attempt run by the executor."""

from __future__ import annotations

import os
import socket

from osci.config.providers import ProviderSpec
from osci.executor.attempt import AttemptSetup, run_attempt
from osci.model import Attempt
from osci.nodes.model import ANY_LABEL, Node
from osci.nodes.providers.base import Lease, Provider


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
        return run_attempt(setup)
