"""The client verbs and `osci token`, as `osci` registers them (once the lead's VERBS table has them)."""

from __future__ import annotations

import importlib

import click
import pytest

from osci.cli.main import VERBS

EXPECTED = {
    "status": "osci.cli.client:status_command",
    "builds": "osci.cli.client:builds_command",
    "build": "osci.cli.client:build_command",
    "logs": "osci.cli.client:logs_command",
    "enqueue": "osci.cli.client:enqueue_command",
    "dequeue": "osci.cli.client:dequeue_command",
    "token": "osci.cli.token_cmd:token_group",
}


@pytest.mark.parametrize("verb", sorted(EXPECTED))
def test_each_verb_is_a_click_command(verb: str) -> None:
    module, attribute = EXPECTED[verb].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command) and command.name == verb
    if verb in VERBS:
        assert VERBS[verb] == EXPECTED[verb]
