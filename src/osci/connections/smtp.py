"""The smtp reporter: one e-mail (plain text and HTML) per report.

Connection keys: `server`, `port` (25), `default-from`, `default-to`, `starttls` (false),
`user`, `password`, `timeout` (30 s). Pipeline reporter options: `to` (an address or a
list), `from`, `subject` (a format string over {pipeline} {project} {branch} {change}
{result}), `author: true` (also mail the change's author). The password is never logged.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from osci.connections import render
from osci.connections.base import (
    Connection,
    ConnectionConfigError,
    ConnectionContext,
    ReportError,
    check_keys,
)
from osci.model import Report

CONFIG_KEYS = ("server", "port", "default-from", "default-to", "starttls", "user", "password", "timeout")
OPTION_KEYS = ("to", "from", "subject", "author")


def _addresses(value: Any, what: str) -> list[str]:
    """Bare e-mail addresses from a string or a list of strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConnectionConfigError(f"{what} must be an e-mail address or a list of them, got {value!r}")
    found = [addr for _, addr in getaddresses(items) if addr]
    for addr in found:
        if "@" not in addr or any(c in addr for c in "\r\n "):
            raise ConnectionConfigError(f"{what}: {addr!r} is not an e-mail address")
    return found


def author_address(author: str | None) -> str | None:
    """The address in `Name <email>`, if there is a usable one."""
    if not author:
        return None
    found = [addr for _, addr in getaddresses([author]) if addr]
    addr = found[-1] if found else ""
    return addr if "@" in addr and not any(c in addr for c in "\r\n ") else None


class SmtpConnection(Connection):
    driver = "smtp"

    def __init__(self, name: str, config: dict[str, Any], context: ConnectionContext) -> None:
        super().__init__(name, config, context)
        where = f"connection {name} (smtp)"
        check_keys(where, config, CONFIG_KEYS)
        server = config.get("server")
        if not isinstance(server, str) or not server:
            raise ConnectionConfigError(f"{where}: 'server' is required (the SMTP host)")
        port = config.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConnectionConfigError(f"{where}: 'port' must be a port number, got {port!r}")
        timeout = config.get("timeout", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConnectionConfigError(f"{where}: 'timeout' must be a positive number of seconds")
        starttls = config.get("starttls", False)
        if not isinstance(starttls, bool):
            raise ConnectionConfigError(f"{where}: 'starttls' must be true or false")
        user, password = config.get("user"), config.get("password")
        if user is not None and not isinstance(user, str):
            raise ConnectionConfigError(f"{where}: 'user' must be a string")
        if password is not None and not isinstance(password, str):
            raise ConnectionConfigError(f"{where}: 'password' must be a string")  # never echo it
        if (user is None) != (password is None):
            raise ConnectionConfigError(f"{where}: 'user' and 'password' go together")
        self.server, self.port, self.timeout, self.starttls = server, port, float(timeout), starttls
        self.user, self._password = user, password
        self.default_from = _addresses(
            config.get("default-from", "osci@localhost"), f"{where}: 'default-from'"
        )
        self.default_to = _addresses(config.get("default-to", []), f"{where}: 'default-to'")

    def __repr__(self) -> str:
        return f"SmtpConnection({self.name!r}, server={self.server!r}, port={self.port})"

    def check_options(self, options: dict[str, Any]) -> tuple[str, list[str], str, bool]:
        """(from, to, subject template, mail author) from a pipeline's reporter options."""
        where = f"smtp reporter {self.name}"
        if not isinstance(options, dict):
            raise ConnectionConfigError(f"{where}: options must be a mapping")
        for key in options:
            if key not in OPTION_KEYS:
                raise ConnectionConfigError(
                    f"{where}: unknown option '{key}'; expected one of {', '.join(OPTION_KEYS)}"
                )
        sender = _addresses(options["from"], f"{where}: 'from'") if "from" in options else self.default_from
        if len(sender) != 1:
            raise ConnectionConfigError(f"{where}: 'from' must be exactly one address")
        to = _addresses(options["to"], f"{where}: 'to'") if "to" in options else self.default_to
        template = options.get("subject", render.DEFAULT_SUBJECT)
        render.check_template(template)
        author = options.get("author", False)
        if not isinstance(author, bool):
            raise ConnectionConfigError(f"{where}: 'author' must be true or false")
        if not to and not author:
            raise ConnectionConfigError(
                f"{where}: no recipients: set 'to', 'author: true' or the connection's 'default-to'"
            )
        return sender[0], to, template, author

    def message(self, report: Report, options: dict[str, Any]) -> EmailMessage:
        """The e-mail for `report`; its To holds every recipient (empty when there is none)."""
        sender, to, template, mail_author = self.check_options(options)
        recipients = list(to)
        author = author_address(report.author) if mail_author else None
        if author and author not in recipients:
            recipients.append(author)
        msg = EmailMessage()
        msg["Subject"] = render.subject(report, template)
        msg["From"] = sender
        if recipients:
            msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        msg["X-Osci-Pipeline"] = " ".join(report.pipeline.split())
        msg["X-Osci-Result"] = report.result or report.slot
        msg.set_content(render.render_text(report))
        msg.add_alternative(render.render_html(report), subtype="html")
        return msg

    async def report(self, report: Report, options: dict[str, Any]) -> None:
        msg = self.message(report, options)
        if not msg["To"]:
            return  # only the author was to be mailed, and the report has none
        await asyncio.to_thread(self._send, msg)

    def notice(self, to: list[str], subject: str, body: str) -> None:
        """A plain-text e-mail from osci itself (admins about nodes); raises ReportError."""
        msg = EmailMessage()
        msg["From"] = self.default_from[0] if self.default_from else "osci@localhost"
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid()
        msg.set_content(body)
        self._send(msg)

    def _send(self, msg: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.server, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user is not None:
                    smtp.login(self.user, self._password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ReportError(
                f"smtp {self.server}:{self.port}: recipients refused: {', '.join(exc.recipients)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            detail = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise ReportError(f"smtp {self.server}:{self.port}: {exc.smtp_code} {detail}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ReportError(f"smtp {self.server}:{self.port}: {type(exc).__name__}: {exc}") from None


CONNECTION = SmtpConnection
