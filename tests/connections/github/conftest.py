from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from osci.connections.base import ConnectionContext
from osci.connections.github import GitHubConnection

from .apidouble import GitHubDouble

SECRET = "It's a Secret to Everybody"
REPO = "acme/widget"


@pytest.fixture
def double() -> Iterator[GitHubDouble]:
    with GitHubDouble() as server:
        yield server


@pytest.fixture
def app_key(tmp_path: Path, double: GitHubDouble) -> Path:
    path = tmp_path / "app.pem"
    path.write_bytes(double.private_key_pem())
    return path


@pytest.fixture
def make_connection(tmp_path: Path, double: GitHubDouble, app_key: Path) -> Callable[..., GitHubConnection]:
    """A github connection against the double: App auth unless `token=` is given."""

    def make(**overrides: Any) -> GitHubConnection:
        config: dict[str, Any] = {
            "api-url": double.url,
            "git-url": str(tmp_path / "git"),
            "webhook-secret": SECRET,
            "app-id": double.app_id,
            "private-key": str(app_key),
        }
        if "token" in overrides:
            for key in ("app-id", "private-key"):
                config.pop(key)
        config.update(overrides)
        config = {k: v for k, v in config.items() if v is not None}
        context = ConnectionContext(data_dir=tmp_path / "data", base_url="http://osci.example.org")
        return GitHubConnection("gh", config, context)

    return make
