"""GitHub App authentication against the double: a JWT the double verifies with the App's
public key, the installation found per repository, tokens exchanged once and cached until
shortly before they expire; and a plain token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from osci.connections.base import ConnectionConfigError
from osci.connections.github import GitHubConnection
from osci.connections.github.auth import AppAuth, app_jwt

from .apidouble import GitHubDouble, PullRequest
from .conftest import REPO

HEAD = "c" * 40


def test_the_jwt_is_rs256_signed_short_lived_and_issued_by_the_app(double: GitHubDouble) -> None:
    now = 1_700_000_000
    token = app_jwt("4242", double.key, now)
    claims = jwt.decode(token, double.public_key, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["iss"] == "4242"
    assert claims["iat"] <= now  # backdated for clock skew
    assert claims["exp"] - claims["iat"] <= 600
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_installation_token_is_fetched_once_and_reused(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.add_pull(REPO, PullRequest(number=5, head_sha=HEAD, files=[{"filename": "a"}]))
    conn = make_connection()

    async def run() -> None:
        for _ in range(3):
            assert await conn.pull_files(REPO, 5) == ["a"]
        await asyncio.gather(*(conn.pull_files(REPO, 5) for _ in range(5)))
        await conn.stop()

    asyncio.run(run())
    assert isinstance(conn.api.auth, AppAuth) and conn.api.auth.exchanges == 1
    assert len(double.calls("GET", r"/installation$")) == 1
    [exchange] = double.calls("POST", r"/access_tokens$")
    assert exchange.path == f"/app/installations/{double.installation_id}/access_tokens"
    assert exchange.status == 201
    [token] = double.installation_tokens
    files_calls = double.calls("GET", r"/files$")
    assert len(files_calls) == 8
    assert all(c.headers["authorization"] == f"Bearer {token}" for c in files_calls)
    assert all(c.headers["x-github-api-version"] == "2022-11-28" for c in files_calls)


def test_a_token_near_its_expiry_is_replaced(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.token_lifetime = 200  # less than the refresh margin: every call needs a new one
    double.add_pull(REPO, PullRequest(number=5, head_sha=HEAD))
    conn = make_connection()

    async def run() -> None:
        await conn.pull_files(REPO, 5)
        await conn.pull_files(REPO, 5)
        await conn.stop()

    asyncio.run(run())
    assert len(double.calls("POST", r"/access_tokens$")) == 2
    assert len(double.calls("GET", r"/installation$")) == 1  # the installation is still known


def test_a_configured_installation_needs_no_lookup_and_a_revoked_token_is_renewed(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.add_pull(REPO, PullRequest(number=5, head_sha=HEAD))
    conn = make_connection(**{"installation-id": double.installation_id})

    async def run() -> None:
        await conn.pull_files(REPO, 5)
        double.installation_tokens.clear()  # revoked on GitHub's side
        await conn.pull_files(REPO, 5)
        await conn.stop()

    asyncio.run(run())
    assert double.calls("GET", r"/installation$") == []
    assert len(double.calls("POST", r"/access_tokens$")) == 2
    statuses = [c.status for c in double.calls("GET", r"/files$")]
    assert statuses == [200, 401, 200]


def test_an_app_not_installed_or_a_wrong_key_is_a_config_error(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, tmp_path: Path
) -> None:
    double.installed_on = {"someone/else"}
    conn = make_connection()
    with pytest.raises(ConnectionConfigError, match="not installed on acme/widget"):
        asyncio.run(conn.api.auth.header("acme", "widget"))
    other = GitHubDouble()  # another App's key: GitHub cannot verify the JWT
    key = tmp_path / "other.pem"
    key.write_bytes(other.private_key_pem())
    double.installed_on = None
    conn = make_connection(**{"private-key": str(key)})
    with pytest.raises(ConnectionConfigError, match="refused the App's JWT"):
        asyncio.run(conn.api.auth.header("acme", "widget"))


def test_a_plain_token_is_sent_as_a_bearer_token(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble
) -> None:
    double.token = "ghp_" + "x" * 36
    double.add_pull(REPO, PullRequest(number=5, head_sha=HEAD, files=[{"filename": "b"}]))
    conn = make_connection(token=double.token)
    assert asyncio.run(conn.pull_files(REPO, 5)) == ["b"]
    [call] = double.calls("GET", r"/files$")
    assert call.headers["authorization"] == f"Bearer {double.token}"
    assert double.calls("POST", r"/access_tokens$") == []
    assert double.token not in repr(conn) and double.token not in repr(conn.api.auth)


def test_tokens_expire_by_the_clock(double: GitHubDouble) -> None:
    """The cache follows `expires_at`: a token is reused until five minutes before it."""
    calls: list[str] = []
    now = [time.time()]

    async def call(method: str, path: str, bearer: str) -> tuple[int, object]:
        calls.append(path)
        if path.endswith("/installation"):
            return 200, {"id": 9}
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now[0] + 3600))
        return 201, {"token": f"t{len(calls)}", "expires_at": expires}

    from osci.connections.github.config import AppSettings

    auth = AppAuth(AppSettings("1", double.private_key_pem(), None), call, clock=lambda: now[0])

    async def run() -> list[str]:
        first = await auth.token("o", "r")
        now[0] += 3000  # 10 minutes left: still good
        second = await auth.token("o", "r")
        now[0] += 400  # 3 minutes left: replaced
        third = await auth.token("o", "r")
        return [first, second, third]

    first, second, third = asyncio.run(run())
    assert first == second != third
    assert calls == [
        "/repos/o/r/installation",
        "/app/installations/9/access_tokens",
        "/app/installations/9/access_tokens",
    ]
