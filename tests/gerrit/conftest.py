from __future__ import annotations

from pathlib import Path

import pytest

from gerritdouble.double import GerritDouble


@pytest.fixture
def gerrit(tmp_path: Path):
    with GerritDouble(tmp_path / "gerrit") as double:
        double.create_project("org/app", {"README": "app\n", "vendor/driver.py": "x = 1\n"})
        yield double
