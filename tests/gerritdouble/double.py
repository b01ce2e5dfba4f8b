"""A Gerrit for tests: SSH (stream-events, query, review), REST (files, messages, review) and git
(`refs/changes/NN/NNNN/P` of real commits), speaking Gerrit's documented shapes.

Tests drive it like developers would: `upload` a patchset (a real commit, then the event),
`comment` (e.g. recheck), `abandon`; and like a bad network: `drop_streams`, `rest.fail_reviews`.
Reviews osci posts are kept in `reviews`. Never imported by production code.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import asyncssh

from gerritdouble.gitrepos import GitRepos, change_ref
from gerritdouble.model import CORE, JANE, Change, Changes, PatchSet
from gerritdouble.rest import GerritREST, Refused
from gerritdouble.sshd import GerritSSHD

CI_ACCOUNT = {"name": "Vendor CI", "email": "ci@vendor.example", "username": "vendor-ci"}


class GerritDouble:
    def __init__(self, root: Path, user: str = "vendor-ci", password: str = "s3cret-http-token") -> None:
        self.root = root
        self.user = user
        self.password = password
        root.mkdir(parents=True, exist_ok=True)
        self.git = GitRepos(root / "git")
        self.changes = Changes()
        self.reviews: list[dict[str, Any]] = []
        client = asyncssh.generate_private_key("ssh-ed25519")
        self.key_path = root / "id_ed25519"
        client.write_private_key(str(self.key_path))
        self.key_path.chmod(0o600)
        self.known_hosts_path = root / "known_hosts"
        self.sshd = GerritSSHD(root, client.export_public_key().decode(), self._query, self._review_ssh)
        self.rest = GerritREST(
            user, password, self._files, self._messages, self._review_rest, self._submit, self._change_info
        )
        self.refuse_submit: dict[int, str] = {}  # change number -> why a submit is refused (409)
        self.submitted: list[int] = []

    # -- life cycle

    def __enter__(self) -> GerritDouble:
        self.sshd.start()
        self.rest.start()
        self.known_hosts_path.write_text(self.sshd.known_hosts())
        return self

    def __exit__(self, *exc: object) -> None:
        self.rest.stop()
        self.sshd.stop()

    def connection(self, name: str = "upstream", **extra: Any) -> dict[str, Any]:
        """The osci connection settings that point at this double."""
        return {
            "name": name,
            "driver": "gerrit",
            "server": "127.0.0.1",
            "port": self.sshd.port,
            "user": self.user,
            "ssh-key": str(self.key_path),
            "known-hosts": str(self.known_hosts_path),
            "baseurl": self.rest.url,
            "password": self.password,
            "git-url": str(self.git.root),
            "keepalive": 5,
            "max-backoff": 2,
            **extra,
        }

    def connection_yaml(self, name: str = "upstream", **extra: Any) -> str:
        return "- connection: " + json.dumps(self.connection(name, **extra))

    # -- what developers do

    def create_project(self, project: str, files: dict[str, str], branch: str = "master") -> str:
        return self.git.create(project, files, branch)

    def push_branch(self, project: str, files: dict[str, str], branch: str = "master") -> str:
        """A commit straight onto the branch (a merged change, say), with its ref-updated event."""
        old = self.git.tip(project, branch)
        new = self.git.commit(project, old, files, "merged elsewhere", f"refs/heads/{branch}")
        self.send(
            {
                "type": "ref-updated",
                "submitter": CORE,
                "refUpdate": {"oldRev": old, "newRev": new, "refName": branch, "project": project},
                "eventCreatedOn": int(time.time()),
            }
        )
        return new

    def upload(
        self,
        project: str,
        files: dict[str, str],
        *,
        number: int | None = None,
        branch: str = "master",
        subject: str | None = None,
        base: str | None = None,
        emit: bool = True,
    ) -> tuple[int, int]:
        """A new change (or, with `number`, a new patchset of it) as a real commit on `base` (the
        branch tip by default) at refs/changes/NN/NUMBER/P; then its patchset-created event."""
        with self.changes.lock:
            if number is None:
                number = self.changes.next_number
                self.changes.next_number += 1
                change = Change(
                    number=number,
                    project=project,
                    branch=branch,
                    change_id=f"I{number:040x}",
                    subject=subject or f"Change {number}",
                    owner=JANE,
                    created_on=int(time.time()),
                )
                self.changes.by_number[number] = change
            change = self.changes.by_number[number]
            patchset = len(change.patchsets) + 1
            parent = base or self.git.tip(project, branch)
            ref = change_ref(number, patchset)
            revision = self.git.commit(
                project, parent, files, f"{change.subject}\n\nChange-Id: {change.change_id}", ref
            )
            now = self.changes.touch(change)
            change.patchsets.append(PatchSet(patchset, revision, parent, ref, now, JANE, sorted(files)))
        if emit:
            self.send(self.patchset_created(number, patchset))
        return number, patchset

    def patchset_created(self, number: int, patchset: int) -> dict[str, Any]:
        with self.changes.lock:
            change = self.changes.get(number)
            ps = change.patchsets[patchset - 1]
            return {
                "type": "patchset-created",
                "uploader": ps.uploader,
                "patchSet": ps.attribute(),
                "change": change.attribute(),
                "project": change.project,
                "refName": f"refs/heads/{change.branch}",
                "changeKey": {"id": change.change_id},
                "eventCreatedOn": ps.created_on,
            }

    def comment(
        self,
        number: int,
        text: str,
        *,
        approvals: dict[str, int] | None = None,
        author: dict[str, str] = JANE,
        patchset: int | None = None,
    ) -> None:
        """A review comment (and votes) on a patchset; Gerrit's comment-added event follows."""
        self._add_review(number, patchset, text, approvals or {}, author, tag=None)

    def abandon(self, number: int, reason: str = "not needed") -> None:
        with self.changes.lock:
            change = self.changes.get(number)
            change.status = "ABANDONED"
            now = self.changes.touch(change)
            event = {
                "type": "change-abandoned",
                "abandoner": JANE,
                "reason": reason,
                "patchSet": change.current.attribute(),
                "change": change.attribute(),
                "project": change.project,
                "refName": f"refs/heads/{change.branch}",
                "changeKey": {"id": change.change_id},
                "eventCreatedOn": now,
            }
        self.send(event)

    def send(self, event: dict[str, Any]) -> int:
        return self.sshd.send(event)

    def send_raw(self, line: str) -> None:
        """Anything at all on the stream (a broken line, say)."""
        self.sshd.send_line(line)

    def drop_streams(self) -> int:
        return self.sshd.drop_streams()

    # -- reviews, by either door

    def _add_review(
        self,
        number: int,
        patchset: int | None,
        text: str,
        labels: dict[str, int],
        author: dict[str, str],
        tag: str | None,
    ) -> dict[str, Any]:
        with self.changes.lock:
            change = self.changes.get(number)
            ps = change.patchsets[(patchset or len(change.patchsets)) - 1]
            now = self.changes.touch(change)
            votes = " ".join(f"{label}{value:+d}" for label, value in labels.items())
            full = f"Patch Set {ps.number}:{' ' + votes if votes else ''}\n\n{text}".rstrip()
            approvals = []
            for label, value in labels.items():
                ps.approvals = [a for a in ps.approvals if not (a["type"] == label and a["by"] == author)]
                approval = {
                    "type": label,
                    "description": label,
                    "value": str(value),
                    "grantedOn": now,
                    "by": author,
                }
                ps.approvals.append(approval)
                approvals.append({"type": label, "description": label, "value": str(value), "oldValue": "0"})
            change.comments.append({"timestamp": now, "reviewer": author, "message": full})
            message: dict[str, Any] = {
                "id": f"m{len(change.messages) + 1}",
                "author": {"_account_id": 1000000 + len(author["username"]), **author},
                "date": time.strftime("%Y-%m-%d %H:%M:%S.000000000", time.gmtime(now)),
                "message": full,
                "_revision_number": ps.number,
            }
            if tag:
                message["tag"] = tag
            change.messages.append(message)
            event = {
                "type": "comment-added",
                "author": author,
                "approvals": approvals,
                "comment": full,
                "patchSet": ps.attribute(),
                "change": change.attribute(),
                "project": change.project,
                "refName": f"refs/heads/{change.branch}",
                "changeKey": {"id": change.change_id},
                "eventCreatedOn": now,
            }
        self.send(event)
        return {"change": number, "patchset": ps.number, "labels": labels, "message": text, "tag": tag}

    def _review_ssh(self, words: list[str]) -> str:
        """`gerrit review [--project P] [--message M] [--tag T] [--label L=V]... CHANGE,PATCHSET`"""
        labels: dict[str, int] = {}
        text, tag, target = "", None, None
        rest = list(words)
        while rest:
            word = rest.pop(0)
            if word in ("--project", "-p"):
                rest.pop(0)
            elif word in ("--message", "-m"):
                text = rest.pop(0)
            elif word == "--tag":
                tag = rest.pop(0)
            elif word in ("--label", "-l"):
                label, _, value = rest.pop(0).partition("=")
                labels[label] = int(value)
            elif word.startswith("-"):
                raise ValueError(f"unknown option {word}")
            else:
                target = word
        if target is None or "," not in target:
            raise ValueError("review needs CHANGE,PATCHSET")
        number, patchset = (int(x) for x in target.split(","))
        review = self._add_review(number, patchset, text, labels, CI_ACCOUNT, tag)
        self.reviews.append({**review, "via": "ssh"})
        return ""

    def _review_rest(self, identifier: str, revision: str, body: dict[str, Any]) -> dict[str, Any]:
        change = self.changes.find(identifier)
        if change is None:
            raise ValueError(f"change {identifier}")
        patchset = self._patchset(change, revision)
        labels = {str(k): int(v) for k, v in (body.get("labels") or {}).items()}
        review = self._add_review(
            change.number, patchset.number, body.get("message", ""), labels, CI_ACCOUNT, body.get("tag")
        )
        self.reviews.append({**review, "via": "rest", "body": body})
        return {"labels": labels}

    def _submit(self, identifier: str, revision: str) -> dict[str, Any]:
        """REST submit: the patchset goes onto its branch (a fast-forward when it is on the tip,
        else a merge commit, as Gerrit's merge-if-necessary), the change is MERGED, and
        change-merged follows on the stream."""
        with self.changes.lock:
            change = self.changes.find(identifier)
            if change is None:
                raise ValueError(f"change {identifier}")
            if change.status != "NEW":
                raise Refused(f"change is {change.status.lower()}")
            if change.number in self.refuse_submit:
                raise Refused(self.refuse_submit[change.number])
            patchset = self._patchset(change, revision)
            old = self.git.tip(change.project, change.branch)
            new = self.git.merge(change.project, change.branch, patchset.revision)
            change.status = "MERGED"
            now = self.changes.touch(change)
            self.submitted.append(change.number)
            event = {
                "type": "change-merged",
                "submitter": CORE,
                "patchSet": patchset.attribute(),
                "change": change.attribute(),
                "project": change.project,
                "refName": f"refs/heads/{change.branch}",
                "changeKey": {"id": change.change_id},
                "newRev": new,
                "eventCreatedOn": now,
            }
        self.send(event)
        self.send(
            {
                "type": "ref-updated",
                "submitter": CORE,
                "refUpdate": {
                    "oldRev": old,
                    "newRev": new,
                    "refName": change.branch,
                    "project": change.project,
                },
                "eventCreatedOn": now,
            }
        )
        return {"id": f"{change.project}~{change.number}", "change_id": change.change_id, "status": "MERGED"}

    def _change_info(self, identifier: str) -> dict[str, Any]:
        with self.changes.lock:
            change = self.changes.find(identifier)
            if change is None:
                raise ValueError(f"change {identifier}")
            return {"id": f"{change.project}~{change.number}", "project": change.project,
                    "change_id": change.change_id, "_number": change.number, "status": change.status}  # fmt: skip

    @staticmethod
    def _patchset(change: Change, revision: str) -> PatchSet:
        for ps in change.patchsets:
            if revision in (ps.revision, str(ps.number)) or (revision == "current" and ps is change.current):
                return ps
        raise ValueError(f"revision {revision}")

    def _files(self, identifier: str, revision: str) -> dict[str, Any]:
        change = self.changes.find(identifier)
        if change is None:
            raise ValueError(f"change {identifier}")
        ps = self._patchset(change, revision)
        files: dict[str, Any] = {
            "/COMMIT_MSG": {"status": "A", "lines_inserted": 10, "size_delta": 551, "size": 551}
        }
        for name in ps.files:
            files[name] = {"lines_inserted": 3, "lines_deleted": 1, "size_delta": 40, "size": 400}
        return files

    def _messages(self, identifier: str) -> list[dict[str, Any]]:
        change = self.changes.find(identifier)
        if change is None:
            raise ValueError(f"change {identifier}")
        with self.changes.lock:
            return list(change.messages)

    # -- queries

    def _query(self, words: list[str]) -> str:
        options = {"current": False, "patch_sets": False, "files": False, "comments": False}
        start, query = 0, []
        rest = list(words)
        while rest:
            word = rest.pop(0)
            if word == "--format=JSON":
                continue
            if word == "--format":
                rest.pop(0)
            elif word == "--current-patch-set":
                options["current"] = True
            elif word in ("--patch-sets", "--all-approvals"):
                options["patch_sets"] = True
            elif word == "--files":
                options["files"] = True
            elif word == "--comments":
                options["comments"] = True
            elif word in ("--start", "-S"):
                start = int(rest.pop(0))
            elif word.startswith("-"):
                raise ValueError(f"unknown option {word}")
            else:
                query.append(word)
        terms = shlex.split(" ".join(query))
        limit = next((int(w.split(":")[1]) for w in terms if w.startswith("limit:")), None)
        with self.changes.lock:
            everything = self.changes.query([w for w in terms if not w.startswith("limit:")])
            page = everything[start : start + limit] if limit else everything[start:]
            lines = [
                json.dumps(
                    c.query_row(
                        options["current"], options["patch_sets"], options["files"], options["comments"]
                    )
                )
                for c in page
            ]
        more = start + len(page) < len(everything)
        stats = {"type": "stats", "rowCount": len(page), "runTimeMilliseconds": 1, "moreChanges": more}
        return "".join(line + "\n" for line in [*lines, json.dumps(stats)])
