"""The gerrit connection against the double: events in (with files, catch-up after a drop),
reviews out (REST and SSH, comment-only, retried without doubling), and its configuration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gerritdouble.double import GerritDouble
from osci.connections.base import ConnectionConfigError, ConnectionContext, ReportError
from osci.connections.gerrit import GerritConnection
from osci.model import BuildReport, Event, Report


class Recorder:
    """An `emit` that records each event once by uuid, as the server's store does."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.seen: set[str] = set()
        self.offered = 0

    async def __call__(self, event: Event) -> None:
        self.offered += 1
        if event.uuid not in self.seen:
            self.seen.add(event.uuid)
            self.events.append(event)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]


async def until(predicate: Callable[[], Any], timeout: float = 20) -> Any:
    async def poll() -> Any:
        while not (value := predicate()):
            await asyncio.sleep(0.05)
        return value

    return await asyncio.wait_for(poll(), timeout)


def make(gerrit: GerritDouble, tmp_path: Path, **extra: Any) -> GerritConnection:
    context = ConnectionContext(
        data_dir=tmp_path / "data", base_url="http://ci.example", projects=lambda: [("org/app", "master")]
    )
    config = {k: v for k, v in gerrit.connection(**extra).items() if k != "name"}
    return GerritConnection("upstream", config, context)


def running(gerrit: GerritDouble, tmp_path: Path, test: Callable[..., Awaitable[None]], **extra: Any) -> None:
    async def main() -> None:
        connection = make(gerrit, tmp_path, **extra)
        recorder = Recorder()
        await connection.start(recorder)
        try:
            await until(lambda: gerrit.sshd.stream_count() > 0)
            await test(connection, recorder)
        finally:
            await connection.stop()

    asyncio.run(main())


def report(
    change: int,
    patchset: int,
    newrev: str,
    slot: str = "success",
    result: str = "SUCCESS",
    delivery: str = "d1",
) -> Report:
    return Report(
        slot=slot,
        pipeline="check",
        project="org/app",
        branch="master",
        ref=f"refs/changes/{change % 100:02d}/{change}/{patchset}",
        newrev=newrev,
        change=str(change),
        patchset=str(patchset),
        author=None,
        item_uuid="item",
        buildset_uuid="bs",
        result=result,
        status_url="http://ci.example/",
        builds=[BuildReport("vendor-tempest", "b1", result, True, 75, "http://ci.example/logs/b1/")],
        delivery=delivery,
    )


def test_patchset_events_carry_files_from_gerrit(gerrit: GerritDouble, tmp_path: Path) -> None:
    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        number, ps = gerrit.upload("org/app", {"vendor/driver.py": "x = 2\n"})
        (event,) = await until(lambda: recorder.of("patchset-created"))
        assert (event.change, event.patchset, event.project, event.branch) == (
            str(number),
            "1",
            "org/app",
            "master",
        )
        assert event.files == ["vendor/driver.py"]  # from REST, without /COMMIT_MSG
        assert event.ref == f"refs/changes/{number % 100:02d}/{number}/1"
        gerrit.comment(number, "recheck")
        (comment,) = await until(lambda: recorder.of("comment-added"))
        assert comment.comment == "Patch Set 1:\n\nrecheck" and comment.files == ["vendor/driver.py"]
        gerrit.send_raw("{not json")
        (broken,) = await until(lambda: recorder.of("malformed"))
        assert "not JSON" in broken.payload["malformed"]
        gerrit.abandon(number)
        (abandoned,) = await until(lambda: recorder.of("change-abandoned"))
        assert abandoned.payload["closes"] is True
        # the stream goes on after a broken line
        gerrit.upload("org/app", {"README": "more\n"})
        await until(lambda: len(recorder.of("patchset-created")) == 2)

    running(gerrit, tmp_path, test)


def test_without_rest_files_come_from_query(gerrit: GerritDouble, tmp_path: Path) -> None:
    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        gerrit.upload("org/app", {"vendor/new.py": "y\n", "README": "r\n"})
        (event,) = await until(lambda: recorder.of("patchset-created"))
        assert event.files == ["README", "vendor/new.py"]

    running(gerrit, tmp_path, test, baseurl=None, password=None, **{"report-via": "ssh"})


def test_a_dropped_stream_loses_no_patchset_and_doubles_none(gerrit: GerritDouble, tmp_path: Path) -> None:
    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        gerrit.upload("org/app", {"a": "1\n"})
        await until(lambda: recorder.of("patchset-created"))  # something seen: catch-up has a start
        uploaded = []
        for i in range(12):
            uploaded.append(gerrit.upload("org/app", {f"f{i}": "x\n"}))
            if i == 5:
                assert gerrit.drop_streams() == 1
        await until(lambda: connection.stream.connections >= 2 and connection.stream.catch_ups >= 1)
        await until(lambda: len(recorder.of("patchset-created")) == 13)
        await asyncio.sleep(0.5)
        created = recorder.of("patchset-created")
        assert sorted((int(e.change), int(e.patchset)) for e in created) == sorted([(12345, 1), *uploaded])
        assert recorder.offered > len(recorder.events)  # the catch-up offered some again: deduplicated

    running(gerrit, tmp_path, test)


def test_restart_catches_up_on_what_happened_while_down(gerrit: GerritDouble, tmp_path: Path) -> None:
    async def first(connection: GerritConnection, recorder: Recorder) -> None:
        gerrit.upload("org/app", {"a": "1\n"})
        await until(lambda: recorder.of("patchset-created"))

    running(gerrit, tmp_path, first)
    missed = gerrit.upload("org/app", {"b": "2\n"})  # nobody listening

    async def second(connection: GerritConnection, recorder: Recorder) -> None:
        await until(lambda: connection.stream.catch_ups >= 1)
        assert [(int(e.change), int(e.patchset)) for e in recorder.of("patchset-created")][-1] == missed

    running(gerrit, tmp_path, second)


def test_reviews_over_rest_with_labels_then_comment_only(gerrit: GerritDouble, tmp_path: Path) -> None:
    number, ps = gerrit.upload("org/app", {"vendor/driver.py": "x = 3\n"}, emit=False)
    newrev = gerrit.changes.get(number).current.revision

    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        await connection.report(report(number, ps, newrev), {"Verified": 1})
        (review,) = gerrit.reviews
        assert review["via"] == "rest" and review["labels"] == {"Verified": 1}
        assert review["tag"] == "autogenerated:osci"
        assert set(review["body"]) == {"message", "labels", "tag"}
        assert "vendor-tempest http://ci.example/logs/b1/ : SUCCESS in 1m 15s" in review["message"]
        assert all(r.authorization and r.authorization.startswith("Basic ") for r in gerrit.rest.requests)

    running(gerrit, tmp_path, test)

    async def quiet(connection: GerritConnection, recorder: Recorder) -> None:
        await connection.report(report(number, ps, newrev, delivery="d2"), {"Verified": -1})
        assert gerrit.reviews[-1]["labels"] == {} and "labels" not in gerrit.reviews[-1]["body"]

    running(gerrit, tmp_path, quiet, **{"comment-only": True})


def test_reviews_over_ssh(gerrit: GerritDouble, tmp_path: Path) -> None:
    number, ps = gerrit.upload("org/app", {"vendor/driver.py": "x = 4\n"}, emit=False)

    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        failing = report(number, ps, "", result="FAILURE")
        await connection.report(failing, {"Verified": -1, "Code-Review": 0})
        (review,) = gerrit.reviews
        assert review["via"] == "ssh" and review["labels"] == {"Verified": -1, "Code-Review": 0}
        assert review["tag"] == "autogenerated:osci" and review["message"].startswith(
            "Build failed (check pipeline)."
        )
        # the CI's own comment comes back on the stream, as Gerrit sends it; it is not a recheck
        await until(lambda: recorder.of("comment-added"))

    running(gerrit, tmp_path, test, **{"report-via": "ssh"})


def test_a_500_is_retried_and_never_doubles_a_review(gerrit: GerritDouble, tmp_path: Path) -> None:
    number, ps = gerrit.upload("org/app", {"vendor/driver.py": "x = 5\n"}, emit=False)
    newrev = gerrit.changes.get(number).current.revision

    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        gerrit.rest.fail_reviews = 2
        for _ in range(2):
            with pytest.raises(ReportError, match="HTTP 500"):
                await connection.report(report(number, ps, newrev, delivery="r1"), {"Verified": 1})
        await connection.report(report(number, ps, newrev, delivery="r1"), {"Verified": 1})
        assert len(gerrit.reviews) == 1
        # Gerrit applied it but answered 500: the retry finds it there and does not post again
        gerrit.rest.fail_after_applying = 1
        with pytest.raises(ReportError):
            await connection.report(
                report(number, ps, newrev, delivery="r2", result="FAILURE"), {"Verified": -1}
            )
        await connection.report(report(number, ps, newrev, delivery="r2", result="FAILURE"), {"Verified": -1})
        assert len(gerrit.reviews) == 2
        # a refusal that retrying cannot cure is not retried
        gerrit.changes.by_number.pop(number)
        with pytest.raises(ConnectionConfigError, match="404"):
            await connection.report(report(number, ps, newrev, delivery="r3"), {"Verified": 1})

    running(gerrit, tmp_path, test)


def test_manual_change_event(gerrit: GerritDouble, tmp_path: Path) -> None:
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "1\n"}, emit=False)
    gerrit.upload("org/app", {"vendor/driver.py": "2\n"}, number=number, emit=False)

    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        current = await connection.change_event(str(number), None, None)
        assert (current.patchset, current.files, current.project) == ("2", ["vendor/driver.py"], "org/app")
        first = await connection.change_event(str(number), "1", "org/app")
        assert first.ref.endswith(f"/{number}/1") and first.change_state["current_patchset"] is False
        assert await connection.change_event("999", None, None) is None
        assert await connection.change_event(str(number), None, "other/project") is None
        with pytest.raises(ValueError, match="no patchset 7"):
            await connection.change_event(str(number), "7", None)

    running(gerrit, tmp_path, test)


def test_configuration_errors_name_the_key_and_hide_secrets(gerrit: GerritDouble, tmp_path: Path) -> None:
    context = ConnectionContext(data_dir=tmp_path, base_url="http://ci.example")
    good = {k: v for k, v in gerrit.connection().items() if k != "name"}
    for bad, message in (
        ({**good, "passwrod": "x"}, "unknown key 'passwrod'"),
        ({**good, "port": "29418"}, "'port' must be a TCP port number"),
        ({**good, "ssh-key": str(tmp_path / "nope")}, "'ssh-key': no file"),
        ({**good, "report-via": "carrier-pigeon"}, "'report-via' must be one of rest, ssh"),
        (
            {k: v for k, v in good.items() if k != "password"} | {"report-via": "rest"},
            "needs 'baseurl' and 'password'",
        ),
        ({**good, "baseurl": "https://user:pw@review.example.org"}, "without credentials"),
        ({k: v for k, v in good.items() if k != "user"}, "'user' is required"),
    ):
        with pytest.raises(ConnectionConfigError, match=message) as info:
            GerritConnection("upstream", bad, context)
        assert "connection upstream (gerrit)" in str(info.value)
        assert gerrit.password not in str(info.value)
    connection = GerritConnection("upstream", good, context)
    assert gerrit.password not in repr(connection) and gerrit.password not in repr(connection.settings)


def test_secrets_stay_out_of_logs_and_events(
    gerrit: GerritDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number, ps = gerrit.upload("org/app", {"vendor/driver.py": "x\n"}, emit=False)

    async def test(connection: GerritConnection, recorder: Recorder) -> None:
        gerrit.upload("org/app", {"vendor/driver.py": "y\n"})
        await until(lambda: recorder.of("patchset-created"))
        gerrit.rest.fail_reviews = 1
        with pytest.raises(ReportError) as info:
            await connection.report(report(number, ps, "x"), {"Verified": 1})
        assert gerrit.password not in str(info.value)
        gerrit.drop_streams()
        await until(lambda: connection.stream.connections >= 2)
        for event in recorder.events:
            assert gerrit.password not in repr(event.to_dict())

    running(gerrit, tmp_path, test)
    assert gerrit.password not in caplog.text
    key = gerrit.key_path.read_text()
    assert key.splitlines()[1] not in caplog.text
