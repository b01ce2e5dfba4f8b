"""`osci agent --server URL --token T --label L [--provides CAPS] [--slots N]`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from osci.agent.runner import Agent, default_workdir


def _capabilities(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for value in values for c in value.split(",") if c.strip()]


@click.command("agent", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--server", required=True, envvar="OSCI_SERVER", help="The server's URL (http:// or https://).")
@click.option(
    "--token",
    envvar="OSCI_AGENT_TOKEN",
    help="This agent's token (`osci token create NAME --kind agent`); its name is the node's name. "
    "Prefer $OSCI_AGENT_TOKEN or --token-file: a command line is visible to other users.",
)
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), help="A file holding the token.")
@click.option("--label", required=True, help="What this machine is: the label jobs' nodesets ask for.")
@click.option("--provides", multiple=True, help="Capabilities it provides (root, kvm, gpu...), comma-separated.")
@click.option("--slots", type=click.IntRange(1, 256), default=1, show_default=True, help="Builds at once.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    help="Where workspaces are made (default: ~/.cache/osci-agent).",
)
@click.option("--keep-workspaces", is_flag=True, help="Keep each attempt's folder (debugging).")
@click.option("-v", "--verbose", is_flag=True, help="Log network retries.")
def agent_command(
    server: str,
    token: str | None,
    token_file: str | None,
    label: str,
    provides: tuple[str, ...],
    slots: int,
    workdir: str | None,
    keep_workspaces: bool,
    verbose: bool,
) -> None:
    """Run builds for an osci server: register, pull the builds for LABEL, run them, report.

    SIGTERM finishes the running builds and leaves; a second SIGTERM cancels them."""
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="osci agent: %(message)s")
    secret = Path(token_file).read_text().strip() if token_file else (token or "").strip()
    if not secret:
        raise click.UsageError("a token is needed: --token, --token-file or $OSCI_AGENT_TOKEN")
    if not server.startswith(("http://", "https://")):
        raise click.UsageError(f"--server: {server!r} is not an http:// or https:// URL")

    def say(text: str) -> None:
        click.echo(text, err=True)

    agent = Agent(
        server,
        secret,
        label,
        _capabilities(provides),
        slots,
        Path(workdir) if workdir else default_workdir(),
        keep_workspaces,
        say,
    )
    agent.install_signals()
    sys.exit(agent.run())
