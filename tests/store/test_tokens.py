import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from osci.store import NotFound, Store, StoreError


def test_tokens_store_only_the_hash_of_the_secret(store: Store) -> None:
    secret = store.create_token("ci-admin", "admin")
    assert secret.startswith("osci_") and len(secret) > 40
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM tokens")).all()
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])
    assert hashlib.sha256(secret.encode()).hexdigest() in rows[0]

    token = store.check_token(secret)
    assert token is not None and token.name == "ci-admin" and token.kind == "admin" and token.active


def test_unknown_or_revoked_tokens_are_refused(store: Store) -> None:
    secret = store.create_token("lab-agent", "agent")
    other = store.create_token("other", "agent")
    assert store.check_token("osci_not-a-token") is None
    assert store.check_token("") is None
    assert store.check_token(None) is None  # type: ignore[arg-type]

    revoked = store.revoke_token("lab-agent", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert revoked.revoked_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert store.check_token(secret) is None
    assert store.check_token(other) is not None
    assert [(t.name, t.active) for t in store.list_tokens()] == [("lab-agent", False), ("other", True)]


def test_token_input_is_checked(store: Store) -> None:
    store.create_token("a")
    with pytest.raises(StoreError, match="already exists"):
        store.create_token("a")
    with pytest.raises(StoreError, match="invalid token kind 'root'"):
        store.create_token("b", "root")
    with pytest.raises(NotFound):
        store.revoke_token("nobody")
