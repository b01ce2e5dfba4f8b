"""API tokens: the secret is shown once, only its sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from osci.store.base import StoreBase
from osci.store.errors import NotFound, StoreError
from osci.store.models import Token
from osci.store.validate import moment, one_of, required

TOKEN_KINDS = ("admin", "agent")
TOKEN_PREFIX = "osci_"  # makes leaked tokens easy to recognise


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenQueries(StoreBase):
    def create_token(self, name: str, kind: str = "admin", now: datetime | None = None) -> str:
        """Create a token and return its secret; the secret itself is never stored."""
        required("token name", name)
        one_of("token kind", kind, TOKEN_KINDS)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._write() as session:
            if session.scalar(select(Token.id).where(Token.name == name)) is not None:
                raise StoreError(f"a token named {name!r} already exists (revoked tokens keep their name)")
            session.add(Token(name=name, kind=kind, hash=hash_secret(secret), created=moment("now", now)))
        return secret

    def check_token(self, secret: str) -> Token | None:
        """The active token with this secret, or None (unknown, revoked, or not a string)."""
        if not isinstance(secret, str) or not secret:
            return None
        with self._read() as session:
            token = session.scalar(select(Token).where(Token.hash == hash_secret(secret)))
        if token is None or token.revoked_at is not None:
            return None
        return token

    def revoke_token(self, name: str, now: datetime | None = None) -> Token:
        with self._write() as session:
            token = session.scalar(select(Token).where(Token.name == name))
            if token is None:
                raise NotFound(f"no token named {name!r}")
            if token.revoked_at is None:
                token.revoked_at = moment("now", now)
            return token

    def list_tokens(self) -> list[Token]:
        with self._read() as session:
            return list(session.scalars(select(Token).order_by(Token.name)))
