"""`osci token` against a real store in a data folder."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from osci.cli.token_cmd import token_group
from osci.store import Store


def test_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    created = runner.invoke(token_group, ["create", "ops", "--data-dir", data])
    assert created.exit_code == 0, created.output
    secret = created.stdout.splitlines()[0]
    assert secret.startswith("osci_") and "not shown again" in created.stderr

    store = Store(f"sqlite:///{tmp_path / 'data' / 'osci.db'}")
    try:
        assert store.check_token(secret).name == "ops"
        agent = runner.invoke(token_group, ["create", "lab-1", "--kind", "agent", "--db", store.url])
        assert agent.exit_code == 0

        listed = runner.invoke(token_group, ["list", "--data-dir", data])
        assert listed.exit_code == 0 and secret not in listed.output
        lines = listed.stdout.splitlines()
        assert [line.split("\t")[:3] for line in lines] == [
            ["lab-1", "agent", "active"],
            ["ops", "admin", "active"],
        ]

        revoked = runner.invoke(token_group, ["revoke", "ops", "--data-dir", data])
        assert revoked.exit_code == 0 and store.check_token(secret) is None
        assert "revoked" in runner.invoke(token_group, ["list", "--data-dir", data]).stdout.splitlines()[1]
    finally:
        store.close()


def test_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path)
    assert runner.invoke(token_group, ["create", "ops", "--data-dir", data]).exit_code == 0
    again = runner.invoke(token_group, ["create", "ops", "--data-dir", data])
    assert again.exit_code == 1 and "already exists" in again.stderr and again.stdout == ""
    missing = runner.invoke(token_group, ["revoke", "nobody", "--data-dir", data])
    assert missing.exit_code == 1 and "no token named 'nobody'" in missing.stderr
    kind = runner.invoke(token_group, ["create", "x", "--kind", "root", "--data-dir", data])
    assert kind.exit_code == 2
    bad_db = runner.invoke(token_group, ["list", "--db", "mysql://nope"])
    assert bad_db.exit_code == 1 and "unsupported database" in bad_db.stderr
