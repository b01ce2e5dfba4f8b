"""`osci promote`: test a staging branch now and promote it onto its target (a promote pipeline)."""

from __future__ import annotations

from typing import Any

import click

from osci.cli.client import Ctx, client_options, safe


@click.command("promote")
@click.option("--pipeline", help="The promote pipeline (needed when several pipelines promote).")
@click.option("--project", help="The project (needed when several projects are configured).")
@client_options
def promote_command(ctx: Ctx, **body: Any) -> None:
    """Test the staging branch's tip in a promote pipeline; green, the target branch is
    fast-forwarded to it; red, the culprit is searched and the commits before it promoted
    (needs a token). `osci status` and GET /api/promotions show how it goes."""
    answer = ctx.client.post("/api/promote", {k: v for k, v in body.items() if v is not None})
    if ctx.as_json:
        ctx.dump(answer)
        return
    answer = answer if isinstance(answer, dict) else {}
    at = f" at {safe(answer['newrev'])[:12]}" if answer.get("newrev") else ""
    ctx.line(f"promotion started (event {safe(answer.get('event'))}{at})")
