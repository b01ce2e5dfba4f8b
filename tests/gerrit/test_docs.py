"""Every YAML block of docs/third-party-ci.md passes `osci check-config`, and its gerrit
connections and pipelines pass the driver's own checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from osci.config import load_config
from osci.connections.base import ConnectionContext
from osci.connections.gerrit import GerritConnection

DOC = Path(__file__).resolve().parents[2] / "docs" / "third-party-ci.md"


def blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_guide_has_yaml_blocks() -> None:
    assert len(blocks()) >= 4


@pytest.mark.parametrize("block", blocks())
def test_each_yaml_block_loads_with_check_config_and_the_driver(tmp_path: Path, block: str) -> None:
    path = tmp_path / "osci.yaml"
    path.write_text(block)
    checked = subprocess.run(
        [sys.executable, "-m", "osci", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = load_config([path])
    key = tmp_path / "key"
    key.write_text("a key\n")
    for name, definition in config.connections.items():
        assert definition.driver == "gerrit"
        data = dict(definition.data)
        for file_key in ("ssh-key", "known-hosts"):  # the documented paths, replaced by real files
            if file_key in data:
                data[file_key] = str(key)
        connection = GerritConnection(name, data, ConnectionContext(data_dir=tmp_path, base_url="http://x"))
        for pipeline in config.pipelines.values():
            connection.check_pipeline(pipeline)
