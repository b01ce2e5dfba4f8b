"""Fixtures for the drop-in test tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """An empty folder for drop-in tests."""
    folder = tmp_path / "suite"
    folder.mkdir()
    return folder
