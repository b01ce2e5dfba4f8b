"""The provider interface: a source of nodes, and how one attempt of a build runs on them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osci.config.providers import ProviderSpec
from osci.executor.attempt import AttemptSetup
from osci.model import Attempt, NodeRequest
from osci.nodes.model import Node


class NodeFailure(Exception):
    """The node, not the build, failed: lost connection, failing reset. The attempt is ERROR,
    the node goes offline (or quarantined) and the build is retried on another node."""

    def __init__(self, node: str, reason: str, quarantine: bool = False) -> None:
        super().__init__(f"node {node}: {reason}")
        self.node = node
        self.reason = reason
        self.quarantine = quarantine


@dataclass
class Lease:
    """The nodes one build holds (a multi-node job holds all of them), the first one runs the steps."""

    build: str
    nodes: list[Node]
    roles: list[str]  # the nodeset's node names, in the same order
    # note(node, event, detail): the provider tells the pool what happens to a node (a node event)
    note: Callable[[Node, str, str], None] = lambda node, event, detail: None

    @property
    def primary(self) -> Node:
        return self.nodes[0]


class Provider(ABC):
    """One `- provider:` of the configuration. `nodes()` is called once; `run_attempt` runs in a
    build's worker thread and raises NodeFailure when the node fails; `probe` says whether an
    offline node is back (None) or why not."""

    blocking_close = False  # close() may block (the pool then closes a removed one in a thread)

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.pool: Any = None  # the NodePool, set by `attach` (providers whose nodes come and go)

    def attach(self, pool: Any) -> None:
        self.pool = pool

    async def start(self) -> None:
        """Background work of the provider (on the server's loop), once the pool starts."""
        return None

    def could_serve(self, request: NodeRequest) -> bool:
        """Whether a node for `request` may still appear (agents register later): such builds
        wait instead of ending as ERROR for want of a node."""
        return False

    @abstractmethod
    def nodes(self) -> list[Node]: ...

    @abstractmethod
    def run_attempt(self, lease: Lease, setup: AttemptSetup) -> Attempt: ...

    async def probe(self, node: Node) -> str | None:
        return None

    def close(self) -> None:
        return None

    # -- a reload (NodePool.reconfigure) --------------------------------------------------------

    def reconfigure(self, spec: ProviderSpec | None, **options: Any) -> Provider:
        """A reload changed the provider's settings (same name and driver): the provider that
        serves from now on. The pool takes its `nodes()`: nodes it no longer lists (and that
        `keeps` does not keep) leave once their builds are done, the others are updated in place.
        Builds already running keep the provider object they started with, so they finish under
        the old settings. `spec` None: the provider was removed (it only finishes its builds).
        Default: a new provider of the new settings."""
        return self if spec is None else type(self)(spec, **options)

    def keeps(self, node: Node) -> bool:
        """Whether a node that `nodes()` does not list stays (an agent whose label is still taken)."""
        return self.could_serve(NodeRequest(name=node.name, label=node.label or ""))

    def leave(self, node: Node, why: str) -> None:
        """The pool dropped the node for good (a reload removed it)."""
        return None
