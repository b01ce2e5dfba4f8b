"""Every YAML block of docs/github-gitlab.md's GitHub section loads as osci configuration, and
its github connections and pipelines pass the driver's own checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from osci.config import load_config
from osci.connections.base import ConnectionContext
from osci.connections.github import GitHubConnection

DOC = Path(__file__).resolve().parents[3] / "docs" / "github-gitlab.md"


def github_blocks() -> list[str]:
    text = DOC.read_text()
    section = text.split("\n## GitHub\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_the_section_has_yaml_blocks() -> None:
    assert len(github_blocks()) >= 2


@pytest.mark.parametrize("block", github_blocks())
def test_each_yaml_block_loads_and_passes_the_driver_checks(tmp_path: Path, block: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path = tmp_path / "osci.yaml"
    path.write_text(block)
    config = load_config([path])
    drivers = {name: c for name, c in config.connections.items() if c.driver == "github"}
    assert drivers, "each block configures a github connection"
    for name, definition in drivers.items():
        data = dict(definition.data)
        if "private-key" in data:
            data["private-key"] = str(pem)  # the documented path, replaced by a real key
        conn = GitHubConnection(name, data, ConnectionContext(data_dir=tmp_path, base_url="http://x"))
        for pipeline in config.pipelines.values():
            conn.check_pipeline(pipeline)
