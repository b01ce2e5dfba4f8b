"""Bearer tokens for the API's write endpoints, checked against the store.

Only the token's name is ever logged or returned; the secret never is."""

from __future__ import annotations

from fastapi import Request

from osci.store.models import Token
from osci.web.errors import ApiError

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def require_admin(request: Request) -> Token:
    """FastAPI dependency: an active admin token, else 401 (missing/invalid) or 403 (agent token)."""
    secret = bearer_secret(request)
    if secret is None:
        raise ApiError(401, "authentication required: send 'Authorization: Bearer <token>'", CHALLENGE)
    token = request.app.state.store.check_token(secret)
    if token is None:
        raise ApiError(401, "invalid or revoked token", CHALLENGE)
    if token.kind != "admin":
        raise ApiError(403, f"token {token.name!r} is a {token.kind} token: this needs an admin token")
    return token
