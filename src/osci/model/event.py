"""Something that happened outside, normalised; every connection emits these."""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Event:
    connection: str  # the configured connection's name
    type: str  # ref-updated, tag-created, timer, manual, patchset-created, comment-added, ...
    project: str
    branch: str | None = None
    ref: str | None = None  # the full ref, e.g. refs/heads/main, refs/tags/v1, refs/changes/45/12345/3
    oldrev: str | None = None
    newrev: str | None = None
    change: str | None = None  # a review's number or id, when there is one
    patchset: str | None = None
    author: str | None = None  # "Name <email>" of whoever caused the event
    files: list[str] | None = None  # changed files; None when unknown
    comment: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)  # votes this event carries:
    # [{"type": "Code-Review", "value": 2, "username": "core", "email": ...}], values as integers
    # The change as the review system saw it when the event was emitted, for pipeline `require` and
    # `reject`: {"open": bool, "status": "NEW", "current_patchset": bool, "approvals": [...]};
    # None when unknown (a branch event, or a driver that cannot tell).
    change_state: dict[str, Any] | None = None
    pipeline: str | None = None  # a manual or timer event may name its pipeline
    payload: dict[str, Any] = field(default_factory=dict)  # the raw event, for drivers and the record
    uuid: str = field(default_factory=lambda: uuidlib.uuid4().hex)
    received_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
