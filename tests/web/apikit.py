"""What the web tests' fixtures hand over: the app with its real store, and a live server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from osci.store import BlobStore, Store

from .fakeserver import TinyServer


@dataclass
class Api:
    store: Store
    blobs: BlobStore
    server: TinyServer
    app: FastAPI
    client: TestClient
    token: str
    data_dir: Path

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@dataclass
class LiveServer:
    api: Api
    url: str
