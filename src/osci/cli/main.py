"""The `osci` command. Each verb lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import click

from osci import __version__

# verb name -> "module:attribute"; imported lazily so `osci --help` and each verb start fast.
VERBS: dict[str, str] = {
    "run": "osci.cli.run:run_command",
    "test": "osci.cli.test_cmd:test_command",
    "check-config": "osci.cli.config_cmds:check_config_command",
    "show-job": "osci.cli.config_cmds:show_job_command",
    "functional": "osci.cli.deploy:functional_command",
    "stress": "osci.cli.deploy:stress_command",
    "server": "osci.cli.server_cmd:server_command",
    "hook": "osci.cli.hook_cmd:hook_group",
    "quickstart": "osci.quickstart.run:quickstart_command",
    "status": "osci.cli.client:status_command",
    "builds": "osci.cli.client:builds_command",
    "build": "osci.cli.client:build_command",
    "logs": "osci.cli.client:logs_command",
    "enqueue": "osci.cli.client:enqueue_command",
    "dequeue": "osci.cli.client:dequeue_command",
    "promote": "osci.cli.promote_cmd:promote_command",
    "token": "osci.cli.token_cmd:token_group",
    "node": "osci.cli.node_cmd:node_group",
    "autohold": "osci.cli.node_cmd:autohold_command",
    "agent": "osci.cli.agent_cmd:agent_command",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(VERBS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in VERBS:
            module_name, attribute = VERBS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="osci")
def cli() -> None:
    """osci: continuous integration and a test grid, from a laptop to a lab."""


def main() -> None:
    cli(prog_name="osci")
