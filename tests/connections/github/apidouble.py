"""An HTTP double of GitHub's REST API: a real server on 127.0.0.1 (Starlette + uvicorn in a
thread) with exactly the endpoints osci uses, answering with GitHub's documented shapes.

It checks credentials as GitHub does: a personal token, or a GitHub App's JWT (verified
with the App's public key: RS256, `iss` the App id, at most ten minutes) for the App
endpoints and the installation tokens it issued for everything else. Check runs need an
installation token, as on GitHub. Every request is recorded; `fail()` makes matching
requests answer 500 (or another status) a number of times.

Merging (`PUT /repos/{owner}/{repo}/pulls/{number}/merge`) checks what GitHub checks, in
GitHub's order, with GitHub's answers: the merge method (422), an open pull request (405), the
token's permission (403 "Resource not accessible by integration"), the `sha` guard (409 "Head
branch was modified"), the repository's allowed merge methods and branch protection (405),
and conflicts (405 "Pull Request is not mergeable"). With `git_root` set and the repository
there (`<git_root>/<owner>/<repo>.git`), the base branch really moves (merge commit, squash or
rebase); otherwise the merge is recorded with a made-up commit.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connections import baremerge

DOCS = "https://docs.github.com/rest"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int
    message: str = "Server Error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PullRequest:
    number: int
    head_sha: str
    base_ref: str = "main"
    head_ref: str = "feature"
    state: str = "open"
    user: str = "octocat"
    files: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    merged: bool = False
    merge_commit_sha: str | None = None
    mergeable: bool = True  # False: conflicts (405 "Pull Request is not mergeable")
    blocked: str | None = None  # branch protection's 405 message, e.g. a required review missing


MERGE_METHODS = ("merge", "squash", "rebase")
NOT_ALLOWED = {
    "merge": "Merge commits are not allowed on this repository.",
    "squash": "Squash merges are not allowed on this repository.",
    "rebase": "Rebase merges are not allowed on this repository.",
}


class GitHubDouble:
    def __init__(self, app_id: int = 4242, installation_id: int = 77, token: str | None = None) -> None:
        self.app_id = app_id
        self.installation_id = installation_id
        self.token = token  # a personal access token, when testing token auth
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.key.public_key()
        self.installation_tokens: dict[str, tuple[int, float]] = {}  # token -> (installation, expiry)
        self.token_lifetime = 3600.0
        self.installed_on: set[str] | None = None  # repositories the App is installed on (None: all)
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.pulls: dict[tuple[str, int], PullRequest] = {}
        self.check_runs: list[dict[str, Any]] = []
        self.completions: dict[int, int] = {}  # check run id -> times it went to completed
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (repo, sha) -> newest first
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.git_root: Path | None = None  # bare repositories <owner>/<repo>.git that merges move
        self.allowed_merge_methods: set[str] = set(MERGE_METHODS)
        self.can_merge = True  # False: the credentials lack Contents: write (403)
        self.merges: list[dict[str, Any]] = []  # every merge done: repo, number, method, sha, body
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.Lock()
        self.app = Starlette(routes=self._routes())
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- set-up

    def private_key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def add_pull(self, repo: str, pull: PullRequest) -> None:
        self.pulls[(repo.lower(), pull.number)] = pull

    def fail(
        self,
        method: str,
        path_regex: str,
        times: int,
        status: int = 500,
        message: str = "Server Error",
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` requests matching answer `status` (with `message` and `headers`)
        without doing anything."""
        self.failures.append(Failure(method, re.compile(path_regex), times, status, message, headers or {}))

    def __enter__(self) -> GitHubDouble:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the GitHub double did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)

    # -- what the tests read

    def calls(self, method: str | None = None, path_regex: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(path_regex, r.path)
            ]

    def runs(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.check_runs if name is None or r["name"] == name]

    # -- auth

    @staticmethod
    def _error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"message": message, "documentation_url": DOCS}, status_code=status)

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        for scheme in ("Bearer ", "token "):
            if header.startswith(scheme):
                return header[len(scheme) :].strip()
        return None

    def _check_jwt(self, request: Request) -> JSONResponse | None:
        token = self._bearer(request)
        if not token:
            return self._error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            return self._error(401, f"A JSON web token could not be decoded ({exc})")
        if str(claims["iss"]) != str(self.app_id):
            return self._error(401, "'Issuer' claim ('iss') must be the App's id")
        if claims["exp"] - claims["iat"] > 600:
            return self._error(401, "'Expiration time' claim ('exp') is too far in the future")
        return None

    def _check_repo_auth(self, request: Request, repo: str) -> JSONResponse | str | None:
        """None if allowed; 'pat' for a personal token; an error response otherwise."""
        token = self._bearer(request)
        if token is None:
            return self._error(401, "Requires authentication")
        if self.token is not None and secrets.compare_digest(token, self.token):
            return "pat"
        found = self.installation_tokens.get(token)
        if found is None or found[1] < time.time():
            return self._error(401, "Bad credentials")
        if self.installed_on is not None and repo.lower() not in self.installed_on:
            return self._error(404, "Not Found")
        return None

    # -- routing

    def _routes(self) -> list[Route]:
        repo = "/repos/{owner}/{repo}"
        return [
            Route(f"{repo}/installation", self._installation, methods=["GET"]),
            Route(
                "/app/installations/{installation:int}/access_tokens", self._access_token, methods=["POST"]
            ),
            Route(f"{repo}/pulls/{{number:int}}", self._pull, methods=["GET"]),
            Route(f"{repo}/pulls/{{number:int}}/files", self._pull_files, methods=["GET"]),
            Route(f"{repo}/pulls/{{number:int}}/merge", self._merge, methods=["PUT"]),
            Route(f"{repo}/commits/{{ref}}/check-runs", self._list_runs, methods=["GET"]),
            Route(f"{repo}/check-runs", self._create_run, methods=["POST"]),
            Route(f"{repo}/check-runs/{{run:int}}", self._update_run, methods=["PATCH"]),
            Route(f"{repo}/statuses/{{sha}}", self._create_status, methods=["POST"]),
            Route(f"{repo}/commits/{{ref}}/statuses", self._list_statuses, methods=["GET"]),
            Route(f"{repo}/issues/{{number:int}}/comments", self._comments, methods=["GET", "POST"]),
        ]

    def _wrap(handler):  # noqa: N805 (a decorator over the handlers below)
        async def wrapped(self: GitHubDouble, request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self._error(400, "Problems parsing JSON")
            record = Recorded(
                request.method,
                request.url.path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
            with self._lock:
                self.requests.append(record)
                failure = next(
                    (
                        f
                        for f in self.failures
                        if f.times > 0 and f.method == request.method and f.pattern.search(request.url.path)
                    ),
                    None,
                )
                if failure is not None:
                    failure.times -= 1
            if failure is not None:
                record.status = failure.status
                answer = self._error(failure.status, failure.message)
                answer.headers.update(failure.headers)
                return answer
            params = request.path_params
            if "owner" in params:
                full = f"{params['owner']}/{params['repo']}"
                if handler.__name__ in ("_installation",):
                    denied = self._check_jwt(request)
                    who = None
                else:
                    result = self._check_repo_auth(request, full)
                    denied = result if isinstance(result, JSONResponse) else None
                    who = result if isinstance(result, str) else "installation"
                if denied is not None:
                    record.status = denied.status_code
                    return denied
                response = handler(self, request, full, body, who)
            else:
                denied = self._check_jwt(request)
                if denied is not None:
                    record.status = denied.status_code
                    return denied
                response = handler(self, request, body)
            record.status = response.status_code
            return response

        return wrapped

    # -- App endpoints

    @_wrap
    def _installation(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        if self.installed_on is not None and repo.lower() not in self.installed_on:
            return self._error(404, "Not Found")
        owner = repo.split("/")[0]
        return JSONResponse(
            {
                "id": self.installation_id,
                "account": {"login": owner, "id": 1, "type": "Organization"},
                "repository_selection": "all",
                "access_tokens_url": f"{self.url}/app/installations/{self.installation_id}/access_tokens",
                "repositories_url": f"{self.url}/installation/repositories",
                "app_id": self.app_id,
                "target_id": 1,
                "target_type": "Organization",
                "permissions": {"checks": "write", "statuses": "write", "pull_requests": "read"},
                "events": ["pull_request", "push", "issue_comment", "check_run"],
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
            }
        )

    @_wrap
    def _access_token(self, request: Request, body: Any) -> Response:
        installation = request.path_params["installation"]
        if installation != self.installation_id:
            return self._error(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_lifetime
        with self._lock:
            self.installation_tokens[token] = (installation, expires)
        return JSONResponse(
            {
                "token": token,
                "expires_at": iso(expires),
                "permissions": {"checks": "write", "statuses": "write", "pull_requests": "read"},
                "repository_selection": "all",
            },
            status_code=201,
        )

    # -- pull requests

    def _pull_object(self, repo: str, pull: PullRequest) -> dict[str, Any]:
        api = f"{self.url}/repos/{repo}"
        return {
            "url": f"{api}/pulls/{pull.number}",
            "id": 100000 + pull.number,
            "html_url": f"https://github.com/{repo}/pull/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title or f"Pull request {pull.number}",
            "user": {"login": pull.user, "id": 1, "type": "User"},
            "body": "",
            "draft": False,
            "merged": pull.merged,
            "mergeable": None if pull.merged or pull.state != "open" else pull.mergeable,
            "merge_commit_sha": pull.merge_commit_sha,
            "head": {"label": f"{pull.user}:{pull.head_ref}", "ref": pull.head_ref, "sha": pull.head_sha},
            "base": {"label": f"{repo.split('/')[0]}:{pull.base_ref}", "ref": pull.base_ref, "sha": "0" * 40},
        }

    @_wrap
    def _pull(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        pull = self.pulls.get((repo.lower(), request.path_params["number"]))
        if pull is None:
            return self._error(404, "Not Found")
        return JSONResponse(self._pull_object(repo, pull))

    @_wrap
    def _merge(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        number = request.path_params["number"]
        pull = self.pulls.get((repo.lower(), number))
        if pull is None:
            return self._error(404, "Not Found")
        body = body if isinstance(body, dict) else {}
        method = body.get("merge_method", "merge")
        if method not in MERGE_METHODS:
            return self._error(
                422,
                f"Invalid request.\n\nFor 'properties/merge_method', {json.dumps(method)} is not one of "
                '["merge", "squash", "rebase"].',
            )
        for key in ("sha", "commit_title", "commit_message"):
            if key in body and not isinstance(body[key], str):
                return self._error(422, f"Invalid request.\n\nFor 'properties/{key}', it is not a string.")
        if pull.state != "open" or pull.merged:
            return self._error(405, "Pull Request is not mergeable")
        if not self.can_merge:
            kind = "personal access token" if who == "pat" else "integration"
            return self._error(403, f"Resource not accessible by {kind}")
        if "sha" in body and body["sha"] != pull.head_sha:
            return self._error(409, "Head branch was modified. Review and try the merge again.")
        if method not in self.allowed_merge_methods:
            return self._error(405, NOT_ALLOWED[method])
        if pull.blocked:
            return self._error(405, pull.blocked)
        if not pull.mergeable:
            return self._error(405, "Pull Request is not mergeable")
        title = body.get("commit_title") or (
            f"{pull.title or f'Pull request {pull.number}'} (#{number})"
            if method == "squash"
            else f"Merge pull request #{number} from {pull.user}/{pull.head_ref}"
        )
        message = f"{title}\n\n{body['commit_message']}" if body.get("commit_message") else title
        bare = self.git_root / f"{repo}.git" if self.git_root else None
        if bare is not None and baremerge.has_commit(bare, pull.head_sha):
            done = baremerge.merge(bare, pull.base_ref, pull.head_sha, method, message)
            if done.conflict:
                return self._error(405, "Pull Request is not mergeable")
            if done.moved:
                return self._error(409, "Base branch was modified. Review and try the merge again.")
            sha = done.sha
        else:
            sha = secrets.token_hex(20)
        with self._lock:
            pull.merged, pull.state, pull.merge_commit_sha = True, "closed", sha
            self.merges.append({"repo": repo, "number": number, "method": method, "sha": sha, "body": body})
        return JSONResponse({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    def _paginate(self, request: Request, entries: list[Any]) -> Response:
        per_page = min(100, int(request.query_params.get("per_page", 30)))
        page = int(request.query_params.get("page", 1))
        chunk = entries[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(entries):
            headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    @_wrap
    def _pull_files(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        pull = self.pulls.get((repo.lower(), request.path_params["number"]))
        if pull is None:
            return self._error(404, "Not Found")
        return self._paginate(request, pull.files)

    # -- check runs

    @_wrap
    def _list_runs(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        ref = request.path_params["ref"]
        name = request.query_params.get("check_name")
        runs = [
            r
            for r in self.check_runs
            if r["_repo"] == repo.lower() and r["head_sha"] == ref and (name is None or r["name"] == name)
        ]
        if request.query_params.get("filter", "latest") == "latest":
            latest: dict[str, dict[str, Any]] = {}
            for run in runs:
                latest[run["name"]] = run
            runs = list(latest.values())
        runs = sorted(runs, key=lambda r: -r["id"])
        per_page = min(100, int(request.query_params.get("per_page", 30)))
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs[:per_page]]
        return JSONResponse({"total_count": len(runs), "check_runs": public})

    def _needs_app(self, who: Any) -> Response | None:
        if who == "pat":
            return self._error(403, "You must authenticate via a GitHub App.")
        return None

    @_wrap
    def _create_run(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        refused = self._needs_app(who)
        if refused:
            return refused
        if not isinstance(body, dict) or not body.get("name") or not body.get("head_sha"):
            return self._error(422, 'Invalid request. "name", "head_sha" wasn\'t supplied.')
        run_id = next(self._ids)
        api = f"{self.url}/repos/{repo}"
        run = {
            "id": run_id,
            "head_sha": body["head_sha"],
            "node_id": f"CR_{run_id}",
            "external_id": body.get("external_id", ""),
            "url": f"{api}/check-runs/{run_id}",
            "html_url": f"https://github.com/{repo}/runs/{run_id}",
            "details_url": body.get("details_url"),
            "status": body.get("status", "queued"),
            "conclusion": None,
            "started_at": body.get("started_at") or iso(time.time()),
            "completed_at": None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "name": body["name"],
            "check_suite": {"id": 5},
            "app": {"id": self.app_id, "slug": "osci", "name": "osci"},
            "pull_requests": [],
            "_repo": repo.lower(),
        }
        problem = self._apply(run, body)
        if problem:
            return problem
        with self._lock:
            self.check_runs.append(run)
        return JSONResponse({k: v for k, v in run.items() if not k.startswith("_")}, status_code=201)

    @_wrap
    def _update_run(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        refused = self._needs_app(who)
        if refused:
            return refused
        run = next((r for r in self.check_runs if r["id"] == request.path_params["run"]), None)
        if run is None or run["_repo"] != repo.lower():
            return self._error(404, "Not Found")
        if not isinstance(body, dict):
            return self._error(422, "Invalid request.")
        problem = self._apply(run, body)
        if problem:
            return problem
        return JSONResponse({k: v for k, v in run.items() if not k.startswith("_")})

    def _apply(self, run: dict[str, Any], body: dict[str, Any]) -> Response | None:
        """A create or update's fields, with GitHub's rules on status and conclusion."""
        conclusions = (
            "action_required",
            "cancelled",
            "failure",
            "neutral",
            "success",
            "skipped",
            "timed_out",
        )
        status = body.get("status")
        conclusion = body.get("conclusion")
        if status is not None and status not in ("queued", "in_progress", "completed"):
            return self._error(422, f"Invalid request. {status!r} is not a member of the status enum.")
        if conclusion is not None and conclusion not in conclusions:
            return self._error(
                422, f"Invalid request. {conclusion!r} is not a member of the conclusion enum."
            )
        if status == "completed" and conclusion is None:
            return self._error(422, 'Invalid request. "conclusion" wasn\'t supplied.')
        output = body.get("output")
        if output is not None:
            if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
                return self._error(422, 'Invalid request. "title", "summary" wasn\'t supplied.')
            if len(output.get("summary", "")) > 65535 or len(output.get("text") or "") > 65535:
                return self._error(422, "Invalid request. Only 65535 characters are allowed.")
            run["output"] = {
                "title": output["title"],
                "summary": output["summary"],
                "text": output.get("text"),
                "annotations_count": 0,
            }
        for key in ("name", "details_url", "external_id", "started_at"):
            if key in body:
                run[key] = body[key]
        was = run["status"]
        if conclusion is not None:
            run["status"], run["conclusion"] = "completed", conclusion
            run["completed_at"] = body.get("completed_at") or run["completed_at"] or iso(time.time())
        elif status is not None:
            run["status"] = status
        if run["status"] == "completed" and was != "completed":
            self.completions[run["id"]] = self.completions.get(run["id"], 0) + 1
        return None

    # -- statuses

    @_wrap
    def _create_status(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        sha = request.path_params["sha"]
        if not isinstance(body, dict) or body.get("state") not in ("error", "failure", "pending", "success"):
            return self._error(422, "Validation Failed")
        if len(body.get("description") or "") > 140:
            return self._error(422, "Validation Failed: description is too long (maximum is 140 characters)")
        status_id = next(self._ids)
        now = iso(time.time())
        status = {
            "url": f"{self.url}/repos/{repo}/statuses/{sha}",
            "avatar_url": None,
            "id": status_id,
            "node_id": f"SC_{status_id}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": now,
            "updated_at": now,
            "creator": {"login": "osci[bot]", "id": 2, "type": "Bot"},
        }
        with self._lock:
            self.statuses.setdefault((repo.lower(), sha), []).insert(0, status)
        return JSONResponse(status, status_code=201)

    @_wrap
    def _list_statuses(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        return self._paginate(
            request, list(self.statuses.get((repo.lower(), request.path_params["ref"]), []))
        )

    # -- comments

    @_wrap
    def _comments(self, request: Request, repo: str, body: Any, who: Any) -> Response:
        number = request.path_params["number"]
        found = self.comments.setdefault((repo.lower(), number), [])
        if request.method == "GET":
            return self._paginate(request, list(found))
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            return self._error(422, "Validation Failed")
        if len(body["body"]) > 65536:
            return self._error(422, "Validation Failed: body is too long (maximum is 65536 characters)")
        comment_id = next(self._ids)
        now = iso(time.time())
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{self.url}/repos/{repo}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "body": body["body"],
            "user": {"login": "osci[bot]", "id": 2, "type": "Bot"},
            "created_at": now,
            "updated_at": now,
            "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
            "author_association": "NONE",
        }
        with self._lock:
            found.append(comment)
        return JSONResponse(comment, status_code=201)

    del _wrap
