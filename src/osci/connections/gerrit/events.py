"""Gerrit's stream-events JSON (and change rows of `gerrit query`) as osci Events.

Any field may be missing in a real event; a line that cannot be read at all becomes an event
whose payload says `malformed` (recorded with an error outcome, never acted on). Each event's
uuid is derived from what it says, so the same event seen twice (a replayed stream, the
catch-up after a disconnect finding a patchset the stream also delivered) is recorded once:
a patchset is created once, so `patchset-created` is keyed on change and patchset alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from osci.model import Event

CHANGE_TYPES = (
    "patchset-created",
    "comment-added",
    "change-merged",
    "change-restored",
    "change-abandoned",
    "wip-state-changed",
    "private-state-changed",
)
TYPES = (*CHANGE_TYPES, "ref-updated")
# who did it, per event type (Gerrit names the account differently in each)
ACTOR = {
    "patchset-created": "uploader",
    "comment-added": "author",
    "change-merged": "submitter",
    "change-restored": "restorer",
    "change-abandoned": "abandoner",
    "wip-state-changed": "changer",
    "private-state-changed": "changer",
    "ref-updated": "submitter",
}
MAGIC_FILES = ("/COMMIT_MSG", "/MERGE_LIST", "/PATCHSET_LEVEL")
ZERO = "0" * 40


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def account(value: Any) -> str | None:
    """ "Name <email>" (or what of it Gerrit sent) of an account attribute."""
    who = _dict(value)
    name, email, username = _text(who.get("name")), _text(who.get("email")), _text(who.get("username"))
    if name and email:
        return f"{name} <{email}>"
    return name or (f"<{email}>" if email else None) or username


def vote(approval: dict[str, Any], voter: dict[str, Any]) -> dict[str, Any] | None:
    """A Gerrit approval attribute as osci's vote: values are strings in Gerrit, integers here."""
    try:
        value = int(str(approval.get("value")))
    except ValueError:
        return None
    by = _dict(approval.get("by")) or voter
    out: dict[str, Any] = {
        "type": str(approval.get("type") or ""),
        "value": value,
        "username": _text(by.get("username")),
        "email": _text(by.get("email")),
    }
    if "oldValue" in approval:
        out["old_value"] = _text(approval.get("oldValue"))
    return out


def event_votes(data: dict[str, Any], voter: dict[str, Any]) -> list[dict[str, Any]]:
    """The votes a comment-added carries: those it changed (with `oldValue`) when Gerrit says which,
    else every label it lists (older Gerrit versions)."""
    raw = [a for a in data.get("approvals") or [] if isinstance(a, dict)]
    changed = [a for a in raw if "oldValue" in a]
    votes = [vote(a, voter) for a in (changed or raw)]
    return [v for v in votes if v is not None and v["type"]]


def changed_files(patchset: dict[str, Any]) -> list[str] | None:
    """`files` of a query's patchSet (with --files), without Gerrit's magic files; None if absent."""
    files = patchset.get("files")
    if not isinstance(files, list):
        return None
    names = [f.get("file") for f in files if isinstance(f, dict)]
    return [n for n in names if isinstance(n, str) and n and n not in MAGIC_FILES]


def rest_files(body: Any) -> list[str]:
    """The keys of REST's `GET .../revisions/{rev}/files` map, without the magic files."""
    return [name for name in _dict(body) if name not in MAGIC_FILES]


def event_uuid(connection: str, kind: str, *parts: Any) -> str:
    key = "\0".join(["gerrit", connection, kind, *(str(p) for p in parts)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def malformed(connection: str, line: str, why: str) -> Event:
    """A line of the stream that cannot be read: recorded (with an error outcome), never acted on."""
    digest = hashlib.sha256(line.encode(errors="replace")).hexdigest()
    return Event(
        connection=connection,
        type="malformed",
        project="",
        payload={"malformed": f"unreadable Gerrit event: {why}", "line": line[:2000]},
        uuid=event_uuid(connection, "malformed", digest),
    )


def parse_line(connection: str, line: str) -> Event | None:
    """One line of `gerrit stream-events`: an Event, None for a type osci does not use."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        return malformed(connection, line, f"not JSON ({exc})")
    if not isinstance(data, dict):
        return malformed(connection, line, "not a JSON object")
    try:
        return normalise(connection, data)
    except (KeyError, TypeError, ValueError) as exc:
        return malformed(connection, line, f"{type(exc).__name__}: {exc}")


def created_on(data: dict[str, Any]) -> int | None:
    value = data.get("eventCreatedOn")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalise(connection: str, data: dict[str, Any]) -> Event | None:
    """A decoded stream event as an osci Event (None: a type osci does not use).
    Raises ValueError when an event of a known type lacks what it cannot do without."""
    kind = data.get("type")
    if kind not in TYPES:
        return None
    actor = _dict(data.get(ACTOR[kind]))
    if kind == "ref-updated":
        return _ref_updated(connection, data, actor)
    change = _dict(data.get("change"))
    patchset = _dict(data.get("patchSet"))
    project = _text(change.get("project")) or _text(data.get("project"))
    number = _text(change.get("number"))
    if not project or not number:
        raise ValueError(f"{kind} without a change project and number")
    ps_number = _text(patchset.get("number"))
    ref = _text(patchset.get("ref"))
    if ps_number and not ref:
        ref = f"refs/changes/{int(number) % 100:02d}/{number}/{ps_number}"
    comment = _text(data.get("comment")) if kind == "comment-added" else _text(data.get("reason"))
    state: dict[str, Any] = {
        "open": bool(change.get("open", kind not in ("change-merged", "change-abandoned"))),
        "status": _text(change.get("status")) or "",
        "wip": bool(change.get("wip", False)),
        "private": bool(change.get("private", False)),
        "current_patchset": kind == "patchset-created",
        "approvals": [],
    }
    if kind == "patchset-created":
        uuid = event_uuid(connection, kind, number, ps_number)
    else:
        text_hash = hashlib.sha256((comment or "").encode()).hexdigest()[:16]
        uuid = event_uuid(
            connection, kind, number, ps_number, created_on(data), _text(actor.get("username")), text_hash
        )
    return Event(
        connection=connection,
        type=kind,
        project=project,
        branch=_text(change.get("branch")),
        ref=ref,
        newrev=_text(patchset.get("revision")),
        change=number,
        patchset=ps_number,
        author=account(actor),
        files=changed_files(patchset),
        comment=comment,
        approvals=event_votes(data, actor) if kind == "comment-added" else [],
        change_state=state,
        payload={
            "closes": kind == "change-abandoned",  # the scheduler dequeues the change's live items
            "change_id": _text(change.get("id")),
            "subject": _text(change.get("subject")),
            "url": _text(change.get("url")),
            "event_created_on": created_on(data),
            "username": _text(actor.get("username")),
        },
        uuid=uuid,
    )


def _ref_updated(connection: str, data: dict[str, Any], actor: dict[str, Any]) -> Event | None:
    update = _dict(data.get("refUpdate"))
    project, name = _text(update.get("project")), _text(update.get("refName"))
    if not project or not name:
        raise ValueError("ref-updated without a project and ref name")
    ref = name if name.startswith("refs/") else f"refs/heads/{name}"
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return None  # refs/changes, refs/meta...: Gerrit's own bookkeeping
    oldrev, newrev = _text(update.get("oldRev")), _text(update.get("newRev"))
    return Event(
        connection=connection,
        type="ref-updated",
        project=project,
        branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None,
        ref=ref,
        oldrev=oldrev,
        newrev=newrev,
        author=account(actor),
        payload={"event_created_on": created_on(data), "deleted": newrev == ZERO},
        uuid=event_uuid(connection, "ref-updated", project, ref, oldrev, newrev),
    )


def patchset_event(connection: str, row: dict[str, Any], patchset: dict[str, Any]) -> Event | None:
    """A `patchset-created` for one patchset of a `gerrit query` change row: what the stream would
    have said (same uuid), for the catch-up after a disconnect and for tests by hand."""
    change = {k: v for k, v in row.items() if k not in ("currentPatchSet", "patchSets", "comments")}
    synthetic = {
        "type": "patchset-created",
        "change": change,
        "patchSet": patchset,
        "uploader": patchset.get("uploader") or row.get("owner"),
        "project": row.get("project"),
        "eventCreatedOn": patchset.get("createdOn"),
    }
    event = normalise(connection, synthetic)
    if event is not None and event.change_state is not None:
        current = _dict(row.get("currentPatchSet")).get("number")
        event.change_state["current_patchset"] = current is None or str(current) == event.patchset
        event.change_state["approvals"] = [
            v for v in (vote(a, {}) for a in patchset.get("approvals") or [] if isinstance(a, dict)) if v
        ]
    return event


def change_state(row: dict[str, Any], patchset: str | None) -> dict[str, Any]:
    """The change as a `gerrit query --current-patch-set` row shows it, for require/reject."""
    current = _dict(row.get("currentPatchSet"))
    approvals = [v for v in (vote(a, {}) for a in current.get("approvals") or [] if isinstance(a, dict)) if v]
    return {
        "open": bool(row.get("open", False)),
        "status": _text(row.get("status")) or "",
        "wip": bool(row.get("wip", False)),
        "private": bool(row.get("private", False)),
        "current_patchset": patchset is not None and _text(current.get("number")) == patchset,
        "approvals": approvals,
    }


def query_rows(output: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`gerrit query --format=JSON` output: the change rows, and the final `stats` row."""
    rows, stats = [], {}
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        data = json.loads(line)
        if isinstance(data, dict) and data.get("type") == "stats":
            stats = data
        elif isinstance(data, dict) and "error" not in data.get("type", ""):
            rows.append(data)
        elif isinstance(data, dict):
            raise ValueError(f"gerrit query: {data.get('message', 'error')}")
    return rows, stats
