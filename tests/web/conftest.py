"""The API over a real SQLite store and blob folder, with a tiny real ServerPort."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from osci.store import BlobStore, Store
from osci.web.app import create_app

from .apikit import Api, LiveServer
from .fakeserver import TinyServer


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test: migrating every time would be slow."""
    path = tmp_path_factory.mktemp("template") / "osci.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def api(tmp_path: Path, migrated_db: Path) -> Iterator[Api]:
    shutil.copyfile(migrated_db, tmp_path / "osci.db")
    store = Store(f"sqlite:///{tmp_path / 'osci.db'}")
    assert not store.needs_migration()
    blobs = BlobStore(tmp_path / "blobs")
    server = TinyServer()
    app = create_app(store, blobs, server, log_poll_interval=0.02)
    token = store.create_token("ops")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(store, blobs, server, app, client, token, tmp_path)
    store.close()


@pytest.fixture
def live(api: Api) -> Iterator[LiveServer]:
    """The same app behind a real uvicorn on 127.0.0.1 (a free port), in a thread."""
    config = uvicorn.Config(api.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(500):
        if server.started:
            ready.set()
            break
        threading.Event().wait(0.01)
    assert ready.is_set(), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(api, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
