"""`osci hook install`: make a git repository notify the server on every push."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("hook")
def hook_group() -> None:
    """Git hooks that notify an osci server."""


@hook_group.command("install")
@click.argument("repo", type=click.Path(file_okay=False, path_type=Path))
@click.option("--server", required=True, metavar="URL", help="The osci server, e.g. http://127.0.0.1:8080.")
@click.option(
    "--connection", required=True, metavar="NAME", help="The server's git connection for this repository."
)
@click.option(
    "--project", metavar="P", help="The project to poll (default: every project of the connection)."
)
def install_command(repo: Path, server: str, connection: str, project: str | None) -> None:
    """Install a post-receive hook in REPO that notifies the server (never failing a push)."""
    from osci.connections.git.hook import HookError, install

    try:
        hook = install(repo, server, connection, project)
    except (HookError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"installed {hook}")
