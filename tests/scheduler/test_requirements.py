"""Pipeline require/reject against a change's state, and trigger approvals against an event's votes."""

from __future__ import annotations

from types import SimpleNamespace

from osci.config.pipelines import TriggerFilter
from osci.model import Event, SourceLocation
from osci.scheduler.requirements import approval_matches, unmet
from osci.scheduler.triggers import pipeline_matches

CORE_PLUS_TWO = {"type": "Code-Review", "value": 2, "username": "core", "email": "core@example.org"}
CI_MINUS_ONE = {"type": "Verified", "value": -1, "username": "other-ci", "email": "ci@example.org"}


def change_event(connection: str = "gerrit", **state: object) -> Event:
    base = {"open": True, "status": "NEW", "current_patchset": True, "approvals": []}
    return Event(
        connection=connection,
        type="comment-added",
        project="org/app",
        change="12345",
        patchset="2",
        change_state={**base, **state},
    )


def test_approval_matching_by_label_value_and_voter() -> None:
    votes = [CORE_PLUS_TWO, CI_MINUS_ONE]
    assert approval_matches({"Code-Review": 2}, votes)
    assert approval_matches({"Code-Review": [1, 2]}, votes)
    assert not approval_matches({"Code-Review": 1}, votes)
    assert approval_matches({"Verified": -1, "username": "^other"}, votes)
    assert not approval_matches({"Verified": -1, "username": "^core$"}, votes)
    assert approval_matches({"Code-Review": 2, "email": "@example.org$"}, votes)
    assert not approval_matches({"Code-Review": 2, "Workflow": 1}, votes)  # every label must be there
    assert not approval_matches({"Code-Review": 2}, [])


def test_require_open_current_status_and_approvals() -> None:
    require = {
        "gerrit": {"open": True, "current-patchset": True, "status": "NEW", "approval": [{"Code-Review": 2}]}
    }
    assert unmet(require, {}, change_event(approvals=[CORE_PLUS_TWO])) == []
    reasons = unmet(require, {}, change_event(open=False, status="MERGED", current_patchset=False))
    assert [r.split(":")[0] for r in reasons] == [
        "require open",
        "require current-patchset",
        "require status",
        "require approval",
    ]
    # another connection's requirements do not apply; nor do any to a branch event or a manual run
    assert unmet({"other": {"open": False}}, {}, change_event()) == []
    assert unmet(require, {}, Event(connection="gerrit", type="ref-updated", project="org/app")) == []
    assert unmet(require, {}, Event(connection="gerrit", type="manual", project="org/app", change="1")) == []


def test_unknown_state_fails_a_requirement_but_not_a_rejection() -> None:
    event = change_event()
    event.change_state = None
    assert unmet({"gerrit": {"open": True}}, {}, event) == ["require: the state of change 12345 is unknown"]
    assert unmet({}, {"gerrit": {"approval": [{"Verified": -1}]}}, event) == []


def test_reject_on_any_listed_approval() -> None:
    reject = {"gerrit": {"approval": [{"Verified": [-1, -2]}, {"Code-Review": -2}]}}
    assert unmet({}, reject, change_event(approvals=[CORE_PLUS_TWO])) == []
    (reason,) = unmet({}, reject, change_event(approvals=[CORE_PLUS_TWO, CI_MINUS_ONE]))
    assert reason.startswith("reject approval")
    assert unmet({}, {"gerrit": {"open": False}}, change_event(open=False)) != []


def pipeline(*filters: dict) -> SimpleNamespace:
    loc = SourceLocation("osci.yaml", 1, 1)
    triggers = [
        TriggerFilter([f["event"]], {k: v for k, v in f.items() if k != "event"}, loc) for f in filters
    ]
    return SimpleNamespace(name="check", triggers={"gerrit": triggers})


def test_trigger_approval_and_comment_filters() -> None:
    check = pipeline(
        {"event": "comment-added", "comment": r"(?i)^\s*recheck\s*$"},
        {"event": "comment-added", "approval": [{"Workflow": 1}]},
    )
    recheck = Event(connection="gerrit", type="comment-added", project="p", comment="Patch Set 2:\n\nrecheck")
    assert pipeline_matches(check, recheck)
    chatter = Event(
        connection="gerrit", type="comment-added", project="p", comment="Patch Set 2:\n\nlooks good"
    )
    assert not pipeline_matches(check, chatter)
    chatter.approvals = [{"type": "Workflow", "value": 1, "username": "core"}]
    assert pipeline_matches(check, chatter)
