"""Client verbs that talk to a running `osci server`: status, builds, build, logs, enqueue, dequeue.

Every verb takes --server (default $OSCI_SERVER or http://127.0.0.1:8411), --token (default
$OSCI_TOKEN, else ~/.config/osci/token) and --json (the API's own JSON, for scripts). A server that
cannot be reached is one line on stderr and exit status 2; an API error is one line and status 1."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from osci.web.http_client import DEFAULT_SERVER, ApiClientError, OsciClient, ServerUnreachable

TOKEN_FILE = Path("~/.config/osci/token")
KEEP_WHOLE = {"uuid"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# OSC (title, hyperlink) strings, CSI sequences, and two-character escapes
_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def safe(value: object) -> str:
    """Text from the server as one harmless line: control characters (terminal escapes) shown as '?'."""
    if value is None:
        return "-"
    return _CONTROL.sub("?", str(value).replace("\n", " ").replace("\t", " "))


def safe_log_line(line: str, keep_colour: bool) -> str:
    """A console log line: colours kept on a terminal, any other escape sequence removed."""
    if keep_colour:
        kept = _COLOUR.findall(line)
        parts = _COLOUR.split(line)
        cleaned = [_CONTROL.sub("", _ESCAPES.sub("", part)).replace("\x1b", "") for part in parts]
        out = cleaned[0]
        for colour, part in zip(kept, cleaned[1:], strict=True):
            out += colour + part
        return out
    return _CONTROL.sub("", _ESCAPES.sub("", line))


def read_token_file(path: Path = TOKEN_FILE) -> str | None:
    try:
        text = path.expanduser().read_text().strip()
    except OSError:
        return None
    return text or None


class Ctx:
    """What every client verb gets: a client and how to print."""

    def __init__(self, server: str, token: str | None, as_json: bool) -> None:
        self.client = OsciClient(server, token)
        self.as_json = as_json
        self.tty = sys.stdout.isatty()
        self.console = Console(highlight=False, soft_wrap=True) if self.tty else None

    def dump(self, data: Any) -> None:
        click.echo(json.dumps(data, indent=2, sort_keys=True))

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.console:
            self.console.print(escape(text), style=style)
        else:
            click.echo(text)

    def table(self, headers: list[str], rows: Iterable[list[object]], title: str | None = None) -> None:
        cells = [[safe(cell) for cell in row] for row in rows]
        if self.console:
            table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
            for index, header in enumerate(headers):
                width = max([len(header)] + [len(row[index]) for row in cells])
                if header in KEEP_WHOLE:  # ids are copied into the next command: never cut them
                    table.add_column(header, no_wrap=True, min_width=width)
                elif header == "url":  # folded over lines, never cut
                    table.add_column(header, overflow="fold")
                else:
                    table.add_column(header, no_wrap=True, overflow="ellipsis", min_width=min(width, 7))
            for row in cells:
                table.add_row(*(escape(cell) for cell in row))
            self.console.print(table)
            return
        widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]
        for row in [[h.upper() for h in headers], *cells]:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def client_options(command: Callable[..., None]) -> Callable[..., None]:
    """--server/--token/--json, and one clear line (never a traceback) when the server fails us."""

    @click.option(
        "--server",
        envvar="OSCI_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        help="URL of the osci server (or $OSCI_SERVER).",
    )
    @click.option("--token", envvar="OSCI_TOKEN", help="API token (or $OSCI_TOKEN, or ~/.config/osci/token).")
    @click.option("--json", "as_json", is_flag=True, help="Print the server's JSON.")
    @functools.wraps(command)
    def wrapper(server: str, token: str | None, as_json: bool, **kwargs: Any) -> None:
        try:
            ctx = Ctx(server, token or read_token_file(), as_json)
            try:
                command(ctx, **kwargs)
            finally:
                ctx.client.close()
        except ServerUnreachable as exc:
            click.echo(f"osci: {exc}", err=True)
            sys.exit(2)
        except ApiClientError as exc:
            click.echo(f"osci: {exc}", err=True)
            if exc.status == 401:
                click.echo(
                    "osci: pass --token, set $OSCI_TOKEN or write the token to ~/.config/osci/token "
                    "(`osci token create NAME` on the server makes one)",
                    err=True,
                )
            sys.exit(1)

    return wrapper


# -- status --------------------------------------------------------------------------------------


def _seconds(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.0f}s"
    return "-"


def _job_state(job: dict[str, Any]) -> str:
    if job.get("result"):
        return str(job["result"])
    if job.get("build") or job.get("start_time"):
        estimated = f"/{_seconds(job.get('estimated'))}" if job.get("estimated") else ""
        return f"running {_seconds(job.get('elapsed'))}{estimated}"
    return "waiting"


@click.command("status")
@client_options
def status_command(ctx: Ctx) -> None:
    """Show the pipelines, their queued items and each item's jobs."""
    doc = ctx.client.get("/api/status")
    if ctx.as_json:
        ctx.dump(doc)
        return
    pipelines = doc.get("pipelines") or []
    for label, why in (doc.get("halted") or {}).items():  # the grid: labels nothing starts on
        ctx.line(f"label {safe(label)} HALTED: {safe(why)}", "bold red")
    if not pipelines:
        ctx.line("no pipelines")
    for pipeline in pipelines:
        items = [item for queue in pipeline.get("queues") or [] for item in queue.get("items") or []]
        ctx.line(
            f"{safe(pipeline.get('name'))} ({safe(pipeline.get('manager'))}): {len(items)} item(s)", "bold"
        )
        for queue in pipeline.get("queues") or []:
            if "window" in queue:  # a gate's shared queue
                window = "unlimited" if queue.get("window") is None else safe(queue.get("window"))
                ctx.line(f"  queue {safe(queue.get('name'))}: window {window}, "
                         f"failure policy {safe(queue.get('failure_policy'))}")  # fmt: skip
            for probe in queue.get("probes") or []:  # screen: changes tested together on the tip
                jobs = ", ".join(f"{safe(j.get('name'))} {safe(_job_state(j))}" for j in probe.get("jobs") or [])
                ctx.line(f"    probe of {', '.join(safe(c) for c in probe.get('changes') or [])}"
                         f"{': ' + jobs if jobs else ' (preparing)'}")  # fmt: skip
        for item in items:
            what = [f"change {item['change']}" if item.get("change") else "", item.get("ref") or ""]
            where = " ".join(safe(part) for part in [item.get("project"), *what] if part)
            branch = f" [{safe(item['branch'])}]" if item.get("branch") else ""
            place = f"#{item['place']} " if item.get("place") else ""
            gate = f" ({safe(item['gate'])})" if item.get("gate") else ""
            if item.get("screen") and item["screen"] != "good":
                gate += f" ({safe(item['screen'])})"
            ctx.line(f"  {place}{safe(item.get('id'))}  {where}{branch}{gate}")
            if item.get("ahead_changes"):
                ctx.line(f"      tested on top of: {', '.join(safe(c) for c in item['ahead_changes'])}")
            for job in item.get("jobs") or []:
                build = f"  {safe(job['build'])}" if job.get("build") else ""
                ctx.line(f"      {safe(job.get('name'))}: {safe(_job_state(job))}{build}")


# -- builds --------------------------------------------------------------------------------------


def _duration(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}s"
    return "-"


@click.command("builds")
@click.option("--project")
@click.option("--pipeline")
@click.option("--job")
@click.option("--branch")
@click.option("--change")
@click.option("--result", help="SUCCESS, FAILURE, ERROR, RETRY_LIMIT, TIMED_OUT, ABORTED, ...")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--skip", type=click.IntRange(0), default=0)
@client_options
def builds_command(ctx: Ctx, **filters: Any) -> None:
    """List builds, newest first."""
    rows = ctx.client.get("/api/builds", filters)
    if ctx.as_json:
        ctx.dump(rows)
        return
    if not rows:
        ctx.line("no builds")
        return
    ctx.table(
        ["uuid", "job", "project", "pipeline", "change", "result", "duration", "ended"],
        (
            [
                row.get("uuid"),
                row.get("job"),
                row.get("project"),
                row.get("pipeline"),
                row.get("change"),
                row.get("result") or row.get("state"),
                _duration(row.get("duration")),
                (row.get("end_time") or "")[:16].replace("T", " ") or None,
            ]
            for row in rows
        ),
        title="Builds",
    )


# -- build ---------------------------------------------------------------------------------------


@click.command("build")
@click.argument("uuid")
@client_options
def build_command(ctx: Ctx, uuid: str) -> None:
    """Show one build: result, attempts, tests, artifacts and metrics."""
    doc = ctx.client.get(f"/api/build/{_path_part(uuid)}")
    failures = []
    if doc.get("tests", {}).get("failed") or doc.get("tests", {}).get("error"):
        failures = [
            case
            for case in ctx.client.get(f"/api/build/{_path_part(uuid)}/tests")
            if case.get("status") in ("failed", "error")
        ]
    if ctx.as_json:
        ctx.dump({**doc, "failed_tests": failures})
        return
    for label in ("uuid", "job", "project", "pipeline", "branch", "change", "ref", "state", "result"):
        ctx.line(f"{label:>10}: {safe(doc.get(label))}")
    ctx.line(f"{'voting':>10}: {'yes' if doc.get('voting') else 'no'}")
    ctx.line(f"{'duration':>10}: {_duration(doc.get('duration'))}")
    if doc.get("reason"):
        ctx.line(f"{'reason':>10}: {safe(doc['reason'])}")
    ctx.line(f"{'logs':>10}: {safe(_absolute(ctx, doc.get('log_url')))}")
    tests = doc.get("tests") or {}
    if tests.get("total"):
        counts = ", ".join(f"{tests.get(k, 0)} {k}" for k in ("passed", "failed", "error", "skipped"))
        ctx.line(f"{'tests':>10}: {counts}")
    attempts = doc.get("attempts") or []
    if attempts:
        ctx.table(
            ["#", "result", "node", "reason"],
            (
                [
                    a.get("number"),
                    "interrupted" if a.get("interrupted") else a.get("result"),
                    a.get("node"),
                    a.get("reason"),
                ]
                for a in attempts
            ),
            title="Attempts",
        )
    for case in failures:
        name = f"{case.get('classname')}.{case.get('name')}" if case.get("classname") else case.get("name")
        ctx.line(f"{safe(case.get('status')).upper()} {safe(name)}: {safe(case.get('message'))}", "bold red")
    if doc.get("artifacts"):
        ctx.table(
            ["artifact", "size", "url"],
            ([a.get("path"), a.get("size"), _absolute(ctx, a.get("url"))] for a in doc["artifacts"]),
            title="Artifacts",
        )
    if doc.get("metrics"):
        ctx.table(
            ["metric", "value", "unit"],
            ([m.get("name"), m.get("value"), m.get("unit")] for m in doc["metrics"]),
            title="Metrics",
        )


def _absolute(ctx: Ctx, url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    return ctx.client.server + url if url.startswith("/") else url


def _path_part(value: str) -> str:
    return quote(value, safe="")


# -- logs ----------------------------------------------------------------------------------------


@click.command("logs")
@click.argument("uuid")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the build ends.")
@client_options
def logs_command(ctx: Ctx, uuid: str, follow: bool) -> None:
    """Print a build's console log."""
    path = f"/api/build/{_path_part(uuid)}/log"
    if not follow:
        for line in ctx.client.lines(path):
            click.echo(safe_log_line(line, ctx.tty))
        return
    for event, data in ctx.client.events(path, {"follow": 1}):
        if event == "end":
            end = _end_data(data)
            if ctx.as_json:
                ctx.dump(end)
            else:
                click.echo(f"-- build {safe(end.get('result') or end.get('state'))}", err=True)
            return
        if event == "closing":
            raise ApiClientError("the server is shutting down; the build may not have finished")
        click.echo(safe_log_line(data, ctx.tty))
    raise ApiClientError("the server closed the log stream before the build ended")


def _end_data(data: str) -> dict[str, Any]:
    try:
        end = json.loads(data)
    except json.JSONDecodeError:
        return {}
    return end if isinstance(end, dict) else {}


# -- enqueue / dequeue ---------------------------------------------------------------------------


@click.command("enqueue")
@click.option("--project", help="Needed unless --change names a code-review change.")
@click.option("--pipeline", required=True)
@click.option("--branch")
@click.option("--ref")
@click.option("--change", help="A review's change: NUMBER or NUMBER,PATCHSET (e.g. 12345,3).")
@client_options
def enqueue_command(ctx: Ctx, **body: Any) -> None:
    """Ask the server to test a project's branch, ref or change in a pipeline (needs a token)."""
    if not body["project"] and not body["change"]:
        raise click.UsageError("say what to test: --project P (with --branch or --ref), or --change N[,P]")
    answer = ctx.client.post("/api/enqueue", {k: v for k, v in body.items() if v is not None})
    if ctx.as_json:
        ctx.dump(answer)
        return
    answer = answer if isinstance(answer, dict) else {}
    details = [f"event {safe(answer.get('event'))}"]
    if answer.get("change"):
        details.append(f"change {safe(answer['change'])},{safe(answer.get('patchset') or '')}")
    if answer.get("newrev"):
        details.append(f"at {safe(answer['newrev'])[:12]}")
    outcome = f": {safe(answer['outcome'])}" if answer.get("outcome") else ""
    ctx.line(f"enqueued ({', '.join(details)}){outcome}")


@click.command("dequeue")
@click.option("--item", help="The item id (from `osci status`).")
@click.option("--project")
@click.option("--change")
@click.option("--ref")
@click.option("--pipeline", help="Only in this pipeline.")
@client_options
def dequeue_command(ctx: Ctx, **body: Any) -> None:
    """Take items out of their queue, cancelling their builds (needs a token)."""
    if not (body["item"] or body["change"] or body["ref"]):
        raise click.UsageError("say what to dequeue: --item ID, or --project P with --change C or --ref R")
    answer = ctx.client.post("/api/dequeue", body)
    if ctx.as_json:
        ctx.dump(answer)
        return
    for item in answer.get("dequeued", []) if isinstance(answer, dict) else []:
        ctx.line(f"dequeued {safe(item)}")


COMMANDS = [status_command, builds_command, build_command, logs_command, enqueue_command, dequeue_command]


@click.group("client", context_settings={"help_option_names": ["-h", "--help"]})
def client_group() -> None:
    """The client verbs on their own (`python -m osci.cli.client status`)."""


for _command in COMMANDS:
    client_group.add_command(_command)


if __name__ == "__main__":
    client_group(prog_name="osci")
