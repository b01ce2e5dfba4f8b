"""A node of the grid: what it is (label), what it provides (capabilities), where it stands (state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from osci.model import NodeRequest

READY = "ready"
IN_USE = "in-use"
CLEANING = "cleaning"
OFFLINE = "offline"
QUARANTINED = "quarantined"
MAINTENANCE = "maintenance"
HELD = "held"
STATES = (READY, IN_USE, CLEANING, OFFLINE, QUARANTINED, MAINTENANCE, HELD)
FAILED = (OFFLINE, QUARANTINED)  # out of service because of the infrastructure: counted for halting
ANY_LABEL = "*"  # what a job without a nodeset asks for
ADMIN_ACTIONS = ("hold", "release", "maintenance", "quarantine")


@dataclass(eq=False)  # one object per node: compared and hashed by identity
class Node:
    name: str
    label: str | None  # None: serves any label (the default local pool)
    provider: str
    capabilities: tuple[str, ...] = ()
    slots: int = 1
    state: str = READY  # ready, offline, quarantined, maintenance, held (in-use is ready with no free slot)
    used: int = 0
    failures: int = 0  # consecutive infrastructure errors
    detail: str = ""  # why it is in its state (the last failure, who holds it and how to reach it)
    address: str = ""  # how to reach it (ssh user@host -p port), shown for held nodes
    builds: list[str] = field(default_factory=list)  # the builds it runs
    default: bool = False  # runs the jobs that ask for no nodes (the local provider's nodes)
    cleaning: bool = False  # its reset runs (shown as `cleaning`)
    log_leases: bool = True  # a node event per build leased and released (not for local slots)
    draining: bool = False  # takes no new builds (an agent stopping after its running ones)

    def serves(self, request: NodeRequest) -> bool:
        if request.label == ANY_LABEL:  # a job without a nodeset
            label_ok = self.default
        else:
            label_ok = self.label is None or self.label == request.label
        return label_ok and set(request.requires) <= set(self.capabilities)

    @property
    def free(self) -> int:
        return max(0, self.slots - self.used) if self.state == READY and not self.draining else 0

    @property
    def shown_state(self) -> str:
        if self.state == READY and self.cleaning:
            return CLEANING
        if self.state == READY and self.used:
            return IN_USE
        return self.state

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "provider": self.provider,
            "capabilities": list(self.capabilities),
            "state": self.shown_state,
            "slots": self.slots,
            "used": self.used,
            "failures": self.failures,
            "detail": self.detail,
            "address": self.address,
            "builds": list(self.builds),
        }
