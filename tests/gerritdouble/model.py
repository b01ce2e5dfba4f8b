"""The double's changes, in Gerrit's JSON shapes (cmd-stream-events, json, cmd-query,
rest-api-changes): account, change, patchSet and approval attributes, approval values as strings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

JANE = {"name": "Jane Developer", "email": "jane@example.org", "username": "jane"}
CORE = {"name": "Core Reviewer", "email": "core@example.org", "username": "core"}


@dataclass
class PatchSet:
    number: int
    revision: str
    parent: str
    ref: str
    created_on: int
    uploader: dict[str, str]
    files: list[str]
    approvals: list[dict[str, Any]] = field(default_factory=list)

    def attribute(self, files: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "revision": self.revision,
            "parents": [self.parent],
            "ref": self.ref,
            "uploader": self.uploader,
            "createdOn": self.created_on,
            "author": self.uploader,
            "kind": "REWORK",
            "sizeInsertions": 3 * len(self.files),
            "sizeDeletions": -1,
        }
        if self.approvals:
            out["approvals"] = list(self.approvals)
        if files:
            out["files"] = [{"file": "/COMMIT_MSG", "type": "ADDED", "insertions": 10, "deletions": 0}] + [
                {"file": name, "type": "MODIFIED", "insertions": 3, "deletions": -1} for name in self.files
            ]
        return out


@dataclass
class Change:
    number: int
    project: str
    branch: str
    change_id: str
    subject: str
    owner: dict[str, str]
    created_on: int
    status: str = "NEW"
    patchsets: list[PatchSet] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)  # query --comments
    messages: list[dict[str, Any]] = field(default_factory=list)  # REST ChangeMessageInfo
    last_updated: int = 0

    @property
    def current(self) -> PatchSet:
        return self.patchsets[-1]

    def attribute(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "branch": self.branch,
            "id": self.change_id,
            "number": self.number,
            "subject": self.subject,
            "owner": self.owner,
            "url": f"https://review.example.org/c/{self.project}/+/{self.number}",
            "commitMessage": f"{self.subject}\n\nChange-Id: {self.change_id}\n",
            "createdOn": self.created_on,
            "status": self.status,
            "open": self.status == "NEW",
            "wip": False,
        }

    def query_row(self, current: bool, patch_sets: bool, files: bool, comments: bool) -> dict[str, Any]:
        row = {**self.attribute(), "lastUpdated": self.last_updated}
        if current:
            row["currentPatchSet"] = self.current.attribute(files)
        if patch_sets:
            row["patchSets"] = [p.attribute(files) for p in self.patchsets]
        if comments:
            row["comments"] = list(self.comments)
        return row


class Changes:
    """Every change of the double, behind one lock (the SSH loop, HTTP threads and the test share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.by_number: dict[int, Change] = {}
        self.next_number = 12345

    def get(self, number: int) -> Change:
        with self.lock:
            return self.by_number[number]

    def find(self, identifier: str) -> Change | None:
        """A change by REST id: `project~number`, `number`, or a Change-Id."""
        with self.lock:
            tail = identifier.rsplit("~", 1)[-1]
            if tail.isdigit():
                return self.by_number.get(int(tail))
            return next((c for c in self.by_number.values() if c.change_id == identifier), None)

    def touch(self, change: Change) -> int:
        now = int(time.time())
        change.last_updated = now
        return now

    def query(self, words: list[str]) -> list[Change]:
        """Gerrit's query language, the little of it osci uses: status:open, change:N, since:"...",
        project:P, limit:N."""
        with self.lock:
            found = sorted(self.by_number.values(), key=lambda c: -c.last_updated)
            limit = None
            for word in words:
                key, _, value = word.partition(":")
                value = value.strip('"')
                if key == "status":
                    wanted = "NEW" if value == "open" else value.upper()
                    found = [c for c in found if c.status == wanted]
                elif key == "change":
                    found = [c for c in found if str(c.number) == value or c.change_id == value]
                elif key == "project":
                    found = [c for c in found if c.project == value]
                elif key in ("since", "after"):
                    moment = time.mktime(time.strptime(value[:19], "%Y-%m-%d %H:%M:%S")) - time.timezone
                    found = [c for c in found if c.last_updated >= moment]
                elif key == "limit":
                    limit = int(value)
                else:
                    raise ValueError(f"the double does not know the query operator {word!r}")
            return found[:limit] if limit is not None else found
