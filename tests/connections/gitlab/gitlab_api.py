"""An HTTP double of the GitLab REST API (v4): a real server on 127.0.0.1 with exactly the
endpoints osci uses, answering with GitLab's documented shapes.

- GET  /api/v4/projects/:id/merge_requests/:iid/diffs   (paginated: x-next-page, x-total, ...)
- POST /api/v4/projects/:id/statuses/:sha               (GitLab's state machine: re-posting the
                                                          state a status already has is a 400)
- GET  /api/v4/projects/:id/merge_requests/:iid/notes   (newest first)
- POST /api/v4/projects/:id/merge_requests/:iid/notes
- GET  /api/v4/projects/:id/merge_requests/:iid
- PUT  /api/v4/projects/:id/merge_requests/:iid/merge   (GitLab's checks and answers: 401 when
                                                          the token may not merge, 405 when the
                                                          merge request is not open, a draft or
                                                          blocked, 409 when `sha` is not its head,
                                                          406 on conflicts; the target branch of
                                                          the bare repository really moves, with
                                                          a merge commit, after a squash commit
                                                          when `squash` is set)

Every request must carry the right PRIVATE-TOKEN (401 otherwise). Projects are bare git
repositories in a folder; a merge request's diff is computed by git from its target branch to
`refs/merge-requests/<iid>/head`, and a status for a commit the repository lacks is a 404.
`fail(count, status, path_part)` makes the next matching requests fail, to test retries;
`stall` makes matching requests answer late.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from connections import baremerge

STATES = ("pending", "running", "success", "failed", "canceled", "skipped")
TRANSITION_EVENT = {
    "pending": "enqueue",
    "running": "run",
    "success": "success",
    "failed": "drop",
    "canceled": "cancel",
    "skipped": "skip",
}
BOT = {
    "id": 42,
    "username": "osci-bot",
    "name": "osci",
    "state": "active",
    "avatar_url": None,
    "web_url": "https://gitlab.example.com/osci-bot",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Recorded:
    method: str
    path: str  # decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON or form fields
    status: int = 0


@dataclass
class MergeRequest:
    project: str
    iid: int
    target_branch: str
    notes: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    state: str = "opened"  # opened, closed, locked, merged
    draft: bool = False
    blocked: bool = False  # a required pipeline, approval or resolved discussion is missing
    squash: bool = False  # the merge request's own "squash commits" setting
    should_remove_source_branch: bool | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    merged_at: str | None = None

    @property
    def source_branch(self) -> str:
        return f"mr-{self.iid}"


@dataclass
class Failure:
    count: int
    status: int
    path_part: str


class GitLabAPI:
    def __init__(self, repos: Path, token: str = "glpat-test-token") -> None:
        self.repos = repos
        self.token = token
        self.requests: list[Recorded] = []
        self.merge_requests: dict[tuple[str, int], MergeRequest] = {}
        self.statuses: list[dict[str, Any]] = []  # a snapshot of every status change, oldest first
        self._current: dict[tuple[str, str], dict[str, Any]] = {}  # (sha, name) -> its latest status
        self.failures: list[Failure] = []
        self.stall: tuple[str, float] | None = None  # (path part, seconds) to wait before answering
        self.can_merge = True  # False: the token's user may not merge into the target branch (401)
        self.merges: list[dict[str, Any]] = []  # every merge done: project, iid, sha, fields
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                outer._handle(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                outer._handle(self, "PUT")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> GitLabAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what tests set up and read

    def add_merge_request(self, project: str, iid: int, target_branch: str = "main") -> None:
        self.merge_requests[(project, iid)] = MergeRequest(project, iid, target_branch)

    def fail(self, count: int, status: int = 500, path_part: str = "") -> None:
        """The next `count` requests whose path contains `path_part` get `status`."""
        with self._lock:
            self.failures.append(Failure(count, status, path_part))

    def statuses_for(self, sha: str) -> list[tuple[str, str]]:
        """(name, state) of each status record on `sha`, oldest first."""
        return [(s["name"], s["status"]) for s in self.statuses if s["sha"] == sha]

    def notes(self, project: str, iid: int) -> list[dict[str, Any]]:
        return list(self.merge_requests[(project, iid)].notes)

    def calls(self, method: str, part: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and part in r.path]

    def wait(self, predicate: Any, timeout: float = 60, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; requests: {[(r.method, r.path) for r in self.requests]}"
        )

    # -- serving

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        body: Any = None
        if raw and "json" in content_type:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        elif raw:
            body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        record = Recorded(
            method, unquote(parts.path), query, {k.lower(): v for k, v in handler.headers.items()}, body
        )
        if self.stall and self.stall[0] in parts.path:
            time.sleep(self.stall[1])
        with self._lock:
            self.requests.append(record)
            status, payload, headers = self._answer(method, parts.path, query, body, record.headers)
            record.status = status
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(
        self, method: str, raw_path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("private-token") != self.token:
            return 401, {"message": "401 Unauthorized"}, {}
        for failure in self.failures:
            if failure.count > 0 and failure.path_part in raw_path:
                failure.count -= 1
                return failure.status, {"message": f"{failure.status} injected failure"}, {}
        segments = raw_path.split("/")  # the project id stays URL-encoded in one segment
        if segments[:4] != ["", "api", "v4", "projects"] or len(segments) < 6:
            return 404, {"error": "404 Not Found"}, {}
        project = unquote(segments[4])
        rest = segments[5:]
        if not self._repo(project).is_dir():
            return 404, {"message": "404 Project Not Found"}, {}
        if method == "POST" and len(rest) == 2 and rest[0] == "statuses":
            return self._post_status(project, rest[1], body or {})
        if len(rest) in (2, 3) and rest[0] == "merge_requests" and rest[-1] in (rest[1], "merge"):
            mr = self.merge_requests.get((project, int(rest[1]) if rest[1].isdigit() else -1))
            if mr is None:
                return 404, {"message": "404 Not found"}, {}
            if method == "GET" and len(rest) == 2:
                return 200, self._merge_request(mr), {}
            if method == "PUT" and len(rest) == 3:
                return self._merge(mr, body if isinstance(body, dict) else {})
        if len(rest) == 3 and rest[0] == "merge_requests" and rest[2] in ("diffs", "notes"):
            mr = self.merge_requests.get((project, int(rest[1]) if rest[1].isdigit() else -1))
            if mr is None:
                return 404, {"message": "404 Not found"}, {}
            if method == "GET" and rest[2] == "diffs":
                return self._diffs(mr, query)
            if method == "GET" and rest[2] == "notes":
                return self._list_notes(mr, query)
            if method == "POST" and rest[2] == "notes":
                return self._post_note(mr, body or {})
        return 404, {"error": "404 Not Found"}, {}

    def _repo(self, project: str) -> Path:
        return self.repos / f"{project}.git"

    def _git(self, project: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=self._repo(project), capture_output=True, text=True, check=False
        )

    def _post_status(self, project: str, sha: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        state = body.get("state")
        if state not in STATES:
            return 400, {"error": "state does not have a valid value"}, {}
        if self._git(project, "cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
            return 404, {"message": "404 Commit Not Found"}, {}
        name = body.get("name") or body.get("context") or "default"
        current = self._current.get((sha, name))
        if current and current["status"] == state:
            event = TRANSITION_EVENT[state]
            message = (
                f"Cannot transition status via :{event} from :{state} "
                f'(Reason(s): Status cannot transition via "{event}")'
            )
            return 400, {"message": message}, {}
        final = state in ("success", "failed", "canceled", "skipped")
        if current and current["status"] in ("pending", "running"):
            status = current  # an open status moves on; a finished one is followed by a new one
            status.update(status=state, description=body.get("description", status["description"]))
            if body.get("target_url"):
                status["target_url"] = body["target_url"]
        else:
            status = {
                "id": next(self._ids),
                "sha": sha,
                "ref": body.get("ref"),
                "status": state,
                "name": name,
                "target_url": body.get("target_url"),
                "description": body.get("description"),
                "created_at": _now(),
                "started_at": None,
                "finished_at": None,
                "allow_failure": False,
                "coverage": body.get("coverage"),
                "author": BOT,
            }
            self._current[(sha, name)] = status
        if state == "running":
            status["started_at"] = _now()
        if final:
            status["finished_at"] = _now()
        self.statuses.append(dict(status))
        return 201, status, {}

    def _head(self, mr: MergeRequest) -> str:
        return self._git(mr.project, "rev-parse", f"refs/merge-requests/{mr.iid}/head").stdout.strip()

    def _merge_request(self, mr: MergeRequest) -> dict[str, Any]:
        web = f"https://gitlab.example.com/{mr.project}/-/merge_requests/{mr.iid}"
        status = "mergeable" if mr.state == "opened" and not (mr.draft or mr.blocked) else "not_open"
        if mr.state == "opened" and mr.draft:
            status = "draft_status"
        elif mr.state == "opened" and mr.blocked:
            status = "ci_must_pass"
        return {
            "id": 9000 + mr.iid,
            "iid": mr.iid,
            "project_id": 1,
            "title": mr.title or f"Merge request {mr.iid}",
            "description": "",
            "state": mr.state,
            "created_at": "2024-01-01T00:00:00.000Z",
            "updated_at": _now(),
            "merged_by": BOT if mr.state == "merged" else None,
            "merge_user": BOT if mr.state == "merged" else None,
            "merged_at": mr.merged_at,
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "author": {**BOT, "id": 7, "username": "dev", "name": "Dev"},
            "source_project_id": 1,
            "target_project_id": 1,
            "draft": mr.draft,
            "work_in_progress": mr.draft,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": status,
            "sha": self._head(mr),
            "merge_commit_sha": mr.merge_commit_sha,
            "squash_commit_sha": mr.squash_commit_sha,
            "squash": mr.squash,
            "should_remove_source_branch": mr.should_remove_source_branch,
            "force_remove_source_branch": False,
            "web_url": web,
            "references": {"short": f"!{mr.iid}", "full": f"{mr.project}!{mr.iid}"},
        }

    def _merge(self, mr: MergeRequest, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        def flag(key: str) -> bool | None:
            value = body.get(key)
            return None if value is None else value in (True, "true", "1", 1)

        if not self.can_merge:
            return 401, {"message": "401 Unauthorized"}, {}
        if mr.state != "opened" or mr.draft or mr.blocked:
            return 405, {"message": "405 Method Not Allowed"}, {}
        head = self._head(mr)
        if body.get("sha") and body["sha"] != head:
            return 409, {"message": f"SHA does not match HEAD of source branch: {head}"}, {}
        squash = flag("squash")
        squash = mr.squash if squash is None else squash
        title = mr.title or f"Merge request {mr.iid}"
        message = (
            f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{title}\n\n"
            f"See merge request {mr.project}!{mr.iid}"
        )
        done = baremerge.merge(
            self._repo(mr.project), mr.target_branch, head, "squash-merge" if squash else "merge", message
        )
        if done.conflict:
            return 406, {"message": "Branch cannot be merged"}, {}
        if done.moved:
            return 422, {"message": "Failed to merge: the target branch changed, try again"}, {}
        mr.state, mr.merged_at = "merged", _now()
        mr.merge_commit_sha, mr.squash_commit_sha, mr.squash = done.sha, done.squash_sha, squash
        remove = flag("should_remove_source_branch")
        if remove is not None:
            mr.should_remove_source_branch = remove
        self.merges.append({"project": mr.project, "iid": mr.iid, "sha": done.sha, "fields": dict(body)})
        return 200, self._merge_request(mr), {}

    def _diffs(self, mr: MergeRequest, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        head = f"refs/merge-requests/{mr.iid}/head"
        base = self._git(mr.project, "merge-base", f"refs/heads/{mr.target_branch}", head).stdout.strip()
        out = self._git(mr.project, "diff", "--name-status", "-M", "-z", base, head).stdout
        fields = out.split("\0")
        diffs, i = [], 0
        while i < len(fields) and fields[i]:
            kind = fields[i]
            if kind.startswith("R"):
                old, new = fields[i + 1], fields[i + 2]
                i += 3
            else:
                old = new = fields[i + 1]
                i += 2
            diffs.append(
                {
                    "old_path": old,
                    "new_path": new,
                    "a_mode": "0" if kind == "A" else "100644",
                    "b_mode": "0" if kind == "D" else "100644",
                    "diff": "",
                    "new_file": kind == "A",
                    "renamed_file": kind.startswith("R"),
                    "deleted_file": kind == "D",
                    "generated_file": False,
                }
            )
        return self._page(diffs, query)

    @staticmethod
    def _page(items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        per_page = max(1, min(100, int(query.get("per_page", "20"))))
        page = max(1, int(query.get("page", "1")))
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-total": str(len(items)),
            "x-total-pages": str(pages),
            "x-next-page": str(page + 1) if page < pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        return 200, chunk, headers

    def _note(self, mr: MergeRequest, body: str) -> dict[str, Any]:
        now = _now()
        return {
            "id": next(self._ids),
            "type": None,
            "body": body,
            "attachment": None,
            "author": BOT,
            "created_at": now,
            "updated_at": now,
            "system": False,
            "noteable_id": 9000 + mr.iid,
            "noteable_type": "MergeRequest",
            "project_id": 1,
            "noteable_iid": mr.iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
        }

    def _list_notes(self, mr: MergeRequest, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        notes = list(mr.notes)
        if query.get("sort", "desc") == "desc":
            notes.reverse()
        return self._page(notes, query)

    def _post_note(self, mr: MergeRequest, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return 400, {"error": "body is missing"}, {}
        note = self._note(mr, text)
        mr.notes.append(note)
        return 201, note, {}
