"""Every YAML block of docs/github-gitlab.md's GitLab section loads as osci configuration, and
its gitlab connections and pipelines pass the driver's own checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from osci.config import load_config
from osci.connections.base import ConnectionContext
from osci.connections.gitlab import GitLabConnection

DOC = Path(__file__).resolve().parents[3] / "docs" / "github-gitlab.md"


def gitlab_blocks() -> list[str]:
    section = DOC.read_text().split("\n## GitLab\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_the_section_has_yaml_blocks() -> None:
    assert len(gitlab_blocks()) >= 2


@pytest.mark.parametrize("block", gitlab_blocks())
def test_each_yaml_block_loads_and_passes_the_driver_checks(tmp_path: Path, block: str) -> None:
    path = tmp_path / "osci.yaml"
    path.write_text(block)
    config = load_config([path])
    drivers = {name: c for name, c in config.connections.items() if c.driver == "gitlab"}
    assert drivers, "each block configures a gitlab connection"
    for name, definition in drivers.items():
        conn = GitLabConnection(
            name, dict(definition.data), ConnectionContext(data_dir=tmp_path, base_url="x")
        )
        for pipeline in config.pipelines.values():
            conn.check_pipeline(pipeline)
        assert conn.settings.webhook_token and conn.settings.token
