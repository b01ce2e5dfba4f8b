"""The smtp reporter against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from osci.connections.base import ConnectionConfigError, ConnectionContext, ReportError, load_driver
from osci.connections.smtp import SmtpConnection

from .reports import HOSTILE, sample_report

SECRET = "s3cr3t-pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every delivered message."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"osci"
        and auth_data.password == SECRET.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtpd() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def make(tmp_path: Path, port: int, **config) -> SmtpConnection:
    context = ConnectionContext(data_dir=tmp_path, base_url="http://127.0.0.1:8080")
    return SmtpConnection(
        "mail", {"server": "127.0.0.1", "port": port, "default-from": "ci@example.org", **config}, context
    )


def test_sends_multipart_report(smtpd, tmp_path: Path) -> None:
    inbox, port = smtpd
    conn = make(tmp_path, port, **{"default-to": "team@example.org"})
    options = {"to": ["qa@example.org", "Lead <lead@example.org>"], "author": True}
    asyncio.run(conn.report(sample_report(), options))
    [(sender, rcpts, msg)] = inbox.received
    assert sender == "ci@example.org"
    assert rcpts == ["qa@example.org", "lead@example.org", "grace@example.org"]  # `to` replaces default-to
    assert msg["Subject"] == "[osci] check acme/widget 12345,3: FAILURE"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert "Build failed." in text and "http://127.0.0.1:8080/logs/b1/" in text
    assert f"test_{HOSTILE}" in text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://127.0.0.1:8080/status/item-1" in page
    assert "Infrastructure errors" in text


def test_default_to_custom_subject_and_login(smtpd, tmp_path: Path) -> None:
    inbox, port = smtpd
    conn = make(tmp_path, port, **{"default-to": ["team@example.org"], "user": "osci", "password": SECRET})
    report = sample_report(result="SUCCESS", slot="success")
    asyncio.run(
        conn.report(
            report, {"subject": "{project} on {branch} in {pipeline}: {result}", "from": "x@example.org"}
        )
    )
    [(sender, rcpts, msg)] = inbox.received
    assert (sender, rcpts) == ("x@example.org", ["team@example.org"])
    assert msg["Subject"] == "acme/widget on main in check: SUCCESS"


def test_wrong_password_is_a_report_error_without_the_password(smtpd, tmp_path: Path) -> None:
    _, port = smtpd
    conn = make(
        tmp_path, port, **{"default-to": "t@example.org", "user": "osci", "password": "wrong-" + SECRET}
    )
    with pytest.raises(ReportError) as info:
        asyncio.run(conn.report(sample_report(), {}))
    assert "535" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(conn)


def test_author_only_without_author_sends_nothing(smtpd, tmp_path: Path) -> None:
    inbox, port = smtpd
    asyncio.run(make(tmp_path, port).report(sample_report(author=None), {"author": True}))
    assert inbox.received == []


def test_server_down_is_a_report_error(tmp_path: Path) -> None:
    conn = make(tmp_path, free_port(), **{"default-to": "t@example.org"})
    with pytest.raises(ReportError, match="smtp 127.0.0.1"):
        asyncio.run(conn.report(sample_report(), {}))


def test_starttls_unsupported_is_a_report_error(smtpd, tmp_path: Path) -> None:
    _, port = smtpd
    conn = make(tmp_path, port, **{"default-to": "t@example.org", "starttls": True})
    with pytest.raises(ReportError, match="STARTTLS"):
        asyncio.run(conn.report(sample_report(), {}))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"server": "h", "prot": 25}, "unknown key 'prot'"),
        ({}, "'server' is required"),
        ({"server": "h", "port": "25x"}, "'port' must be a port number"),
        ({"server": "h", "user": "u"}, "'user' and 'password' go together"),
        ({"server": "h", "default-to": "not-an-address"}, "is not an e-mail address"),
    ],
)
def test_config_errors(tmp_path: Path, config: dict, message: str) -> None:
    assert load_driver("smtp") is SmtpConnection
    context = ConnectionContext(data_dir=tmp_path, base_url="http://127.0.0.1:8080")
    with pytest.raises(ConnectionConfigError, match=message):
        SmtpConnection("mail", config, context)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"to": "a@example.org", "cc": "b@example.org"}, "unknown option 'cc'"),
        ({}, "no recipients"),
        ({"to": "a@example.org", "subject": "{who}"}, "unknown field {who}"),
        ({"to": "a@example.org", "author": "yes"}, "'author' must be true or false"),
        ({"to": 5}, "must be an e-mail address or a list"),
    ],
)
def test_option_errors(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message):
        make(tmp_path, 25).check_options(options)
