"""`osci server`: the whole CI system in one process."""

from __future__ import annotations

from pathlib import Path

import click

from osci.server.app import DEFAULT_PORT, ServerSettings, serve
from osci.server.logs import setup as setup_logging


@click.command("server")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    default=Path("osci.yaml"),
    show_default=True,
    help="Configuration file or folder.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("osci-data"),
    show_default=True,
    help="Database, logs and workspaces.",
)
@click.option(
    "--listen", default=f"127.0.0.1:{DEFAULT_PORT}", show_default=True, help="HOST:PORT for the HTTP API."
)
@click.option("--db", "db_url", help="Database URL (default: SQLite in the data dir; or postgresql://...).")
@click.option(
    "--slots", type=click.IntRange(min=1), help="Builds run at once on this machine (default: CPUs)."
)
@click.option("--base-url", help="Public URL used in report links (default: from --listen).")
@click.option("--retention-days", type=float, help="Remove build logs older than this many days.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def server_command(
    config_path: Path,
    data_dir: Path,
    listen: str,
    db_url: str | None,
    slots: int | None,
    base_url: str | None,
    retention_days: float | None,
    log_format: str,
) -> None:
    """Run the CI server: connections, scheduler, executor slots, store, reporters and the HTTP API.

    SIGTERM or Ctrl-C stops it cleanly (running builds are aborted, their post-run still runs);
    SIGHUP reloads the configuration (one that does not load never replaces the running one).
    """
    if ":" not in listen or not listen.rsplit(":", 1)[1].isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    setup_logging(log_format)
    settings = ServerSettings(
        config_path=config_path,
        data_dir=data_dir,
        listen=listen,
        db_url=db_url,
        slots=slots,
        base_url=base_url,
        retention_days=retention_days,
    )
    raise SystemExit(serve(settings))
