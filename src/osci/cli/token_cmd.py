"""`osci token create|list|revoke`: API tokens, straight in the store (run it where the server runs).

The secret is printed once, on creation; the store keeps only its hash."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from osci.store import Store, StoreError
from osci.store.tokens import TOKEN_KINDS

DEFAULT_DATA_DIR = "./osci-data"


def store_url(db: str | None, data_dir: str) -> str:
    if db:
        return db
    folder = Path(data_dir).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'osci.db'}"


def store_options(command: Callable[..., None]) -> Callable[..., None]:
    """--db / --data-dir, an up-to-date schema, and store errors as one line (exit 1)."""

    @click.option("--db", envvar="OSCI_DB", help="Database URL (default: sqlite:///<data-dir>/osci.db).")
    @click.option(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        show_default=True,
        type=click.Path(file_okay=False),
        help="The server's data folder.",
    )
    @functools.wraps(command)
    def wrapper(db: str | None, data_dir: str, **kwargs: Any) -> None:
        try:
            store = Store(store_url(db, data_dir))
            try:
                if store.needs_migration():
                    store.migrate()
                command(store, **kwargs)
            finally:
                store.close()
        except (StoreError, OSError) as exc:
            click.echo(f"osci token: {exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group("token", context_settings={"help_option_names": ["-h", "--help"]})
def token_group() -> None:
    """Create, list and revoke API tokens."""


@token_group.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(TOKEN_KINDS), default="admin", show_default=True)
@store_options
def create_command(store: Store, name: str, kind: str) -> None:
    """Create a token and print its secret (shown this once only)."""
    secret = store.create_token(name, kind)
    click.echo(secret)
    where = (
        "agents read it from --token-file or $OSCI_AGENT_TOKEN"
        if kind == "agent"
        else "clients read it from --token, $OSCI_TOKEN or ~/.config/osci/token"
    )
    click.echo(f"token {name!r} ({kind}) created: keep the secret above, it is not shown again ({where})", err=True)


@token_group.command("list")
@store_options
def list_command(store: Store) -> None:
    """List tokens (names and kinds; never secrets)."""
    tokens = store.list_tokens()
    if not tokens:
        click.echo("no tokens")
        return
    for token in tokens:
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        click.echo(f"{token.name}\t{token.kind}\t{state}\tcreated {token.created:%Y-%m-%d %H:%M}")


@token_group.command("revoke")
@click.argument("name")
@store_options
def revoke_command(store: Store, name: str) -> None:
    """Revoke a token: it stops working at once."""
    store.revoke_token(name)
    click.echo(f"token {name!r} revoked")


if __name__ == "__main__":
    token_group(prog_name="osci token")
