"""`osci node list|show|hold|release|maintenance|quarantine|resume` and `osci autohold`: the grid."""

from __future__ import annotations

from typing import Any

import click

from osci.cli.client import Ctx, client_options, safe


@click.group("node", context_settings={"help_option_names": ["-h", "--help"]})
def node_group() -> None:
    """The nodes of the grid: list them, take them out of service and back."""


@node_group.command("list")
@client_options
def list_command(ctx: Ctx) -> None:
    """Every node: label, state, capabilities, what it runs; halted labels and autoholds."""
    doc = ctx.client.get("/api/nodes")
    if ctx.as_json:
        ctx.dump(doc)
        return
    doc = doc if isinstance(doc, dict) else {}
    rows = [
        [
            n.get("name"),
            n.get("label") or "(any)",
            n.get("state"),
            f"{n.get('used', 0)}/{n.get('slots', 1)}",
            ",".join(n.get("capabilities") or []),
            n.get("provider"),
            n.get("detail") or "",
        ]
        for n in doc.get("nodes", [])
    ]
    ctx.table(["name", "label", "state", "used", "provides", "provider", "detail"], rows)
    for label, why in (doc.get("halted") or {}).items():
        ctx.line(f"label {safe(label)} is HALTED: {safe(why)} (`osci node resume {safe(label)}`)", "bold red")
    for hold in doc.get("autoholds") or []:
        ctx.line(
            f"autohold: {safe(hold.get('project'))} {safe(hold.get('job'))}: "
            f"{len(hold.get('held') or [])} of {safe(hold.get('count'))} held"
        )


@node_group.command("show")
@click.argument("name")
@client_options
def show_command(ctx: Ctx, name: str) -> None:
    """One node and its latest events."""
    doc = ctx.client.get(f"/api/nodes/{name}")
    if ctx.as_json:
        ctx.dump(doc)
        return
    doc = doc if isinstance(doc, dict) else {}
    ctx.line(
        f"{safe(doc.get('name'))}: {safe(doc.get('state'))} ({safe(doc.get('label'))}, {safe(doc.get('address'))})"
    )
    if doc.get("detail"):
        ctx.line(f"  {safe(doc['detail'])}")
    ctx.table(
        ["time", "event", "detail"], [[e["time"], e["type"], e["detail"]] for e in doc.get("events", [])]
    )


def _action(action: str, summary: str) -> click.Command:
    @click.argument("name")
    @click.option("--reason", default="", help="Why (kept in the node's events).")
    @client_options
    def command(ctx: Ctx, name: str, reason: str) -> None:
        doc = ctx.client.post(f"/api/nodes/{name}", {"action": action, "reason": reason})
        if ctx.as_json:
            ctx.dump(doc)
            return
        doc = doc if isinstance(doc, dict) else {}
        ctx.line(f"node {safe(doc.get('name'))}: {safe(doc.get('state'))}")

    command.__doc__ = summary
    return click.command(action)(command)


for _action_name, _summary in (
    ("hold", "Keep a node out of service for debugging (needs a token)."),
    ("release", "Put a node back in service: held, maintenance, quarantined or offline (needs a token)."),
    ("maintenance", "Take a node out of service for maintenance (needs a token)."),
    ("quarantine", "Take a bad node out of service until released (needs a token)."),
):
    node_group.add_command(_action(_action_name, _summary))


@node_group.command("resume")
@click.argument("label")
@client_options
def resume_command(ctx: Ctx, label: str) -> None:
    """Resume dispatching for a halted label (needs a token)."""
    doc = ctx.client.post(f"/api/labels/{label}/resume", {})
    if ctx.as_json:
        ctx.dump(doc)
        return
    ctx.line(f"label {safe(label)} resumed")


@click.command("autohold")
@click.option("--project", required=True)
@click.option("--job", required=True)
@click.option("--count", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--reason", default="")
@client_options
def autohold_command(ctx: Ctx, **body: Any) -> None:
    """Keep the node(s) of the job's next failing build(s) in `held` state for debugging
    (needs a token); `osci node list` shows them and how to reach them."""
    doc = ctx.client.post("/api/autohold", body)
    if ctx.as_json:
        ctx.dump(doc)
        return
    doc = doc if isinstance(doc, dict) else {}
    ctx.line(
        f"autohold set: the next {safe(doc.get('count'))} failing build(s) of {safe(doc.get('project'))} "
        f"{safe(doc.get('job'))} keep their node(s)"
    )
