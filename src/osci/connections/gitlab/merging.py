"""What a gate asks of GitLab: merge a merge request, and read `Depends-On:` merge request URLs.

A merge is `PUT /projects/:id/merge_requests/:iid/merge` with `sha` set to the head that was
tested, so GitLab refuses (409) if the merge request moved since; `squash` and
`should_remove_source_branch` are sent when the connection sets them (else the merge
request's own settings apply). GitLab's refusals (401/403 permissions, 404, 405 not mergeable
now: draft, closed, pipeline or approvals missing; 406 conflicts; 409 head changed; 422 the
merge failed) end the item; 5xx, 429 and network errors are retried. A merge whose answer was
lost is recognised on the retry: GitLab then says 405, and the merge request, read back, is
merged at the tested head.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from osci.connections.base import ChangeToMerge, DependencyRef, MergeFailed, ReportError
from osci.connections.gitlab.api import GitLabAPI, GitLabError
from osci.connections.gitlab.settings import Settings

MERGE_TIMEOUT = 60.0  # seconds: GitLab merges while the request waits
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SEGMENT = r"[A-Za-z0-9_.][A-Za-z0-9_.-]*"
_MERGE_REQUEST = re.compile(
    rf"^/(?P<project>{_SEGMENT}(?:/{_SEGMENT})+)/-/merge_requests/(?P<iid>[1-9][0-9]{{0,9}})"
    r"(?:/(?:diffs|commits|pipelines))?/?$"
)

REFUSALS = {
    401: "the token may not merge here: it needs the api scope and a role allowed to merge into "
    "the target branch (Developer or Maintainer, as the branch's protection says)",
    403: "forbidden: the token may not merge here (the api scope, and a role allowed to merge "
    "into the target branch)",
    404: "the project or merge request is unknown to GitLab or hidden from the token",
    405: "GitLab will not merge it now (draft, closed, a required pipeline or approval missing, "
    "or unresolved discussions)",
    406: "the merge request has conflicts with its target branch",
    409: "the merge request's head changed since it was tested",
    422: "GitLab could not merge it",
}


def resolve_dependency(name: str, settings: Settings, reference: str) -> DependencyRef | None:
    """`<baseurl>/<group>[/<subgroup>...]/<project>/-/merge_requests/<iid>`; None otherwise."""
    if not isinstance(reference, str):
        return None
    base = urlsplit(settings.baseurl)
    try:
        url = urlsplit(reference.strip())
        port, base_port = url.port, base.port
    except ValueError:
        return None
    if url.scheme != base.scheme or url.username or url.password or not url.hostname:
        return None
    if url.hostname.lower() != (base.hostname or "").lower() or port != base_port:
        return None
    prefix = base.path.rstrip("/")
    if prefix and not url.path.startswith(prefix + "/"):
        return None
    found = _MERGE_REQUEST.match(url.path[len(prefix) :])
    if found is None:
        return None
    project = found["project"]
    if any(part in (".", "..") or part.endswith((".git", ".atom")) for part in project.split("/")):
        return None
    return DependencyRef(connection=name, project=project, change=found["iid"])


def merge_fields(settings: Settings, change: ChangeToMerge) -> dict[str, Any]:
    fields: dict[str, Any] = {"sha": change.patchset}
    if settings.squash is not None:
        fields["squash"] = settings.squash
    if settings.remove_source_branch is not None:
        fields["should_remove_source_branch"] = settings.remove_source_branch
    return fields


def _new_tip(merged: dict[str, Any]) -> str | None:
    """The target branch's new commit: the merge commit, else the squash commit (fast-forward
    with squash), else the merge request's head (fast-forward)."""
    for key in ("merge_commit_sha", "squash_commit_sha", "sha"):
        value = merged.get(key)
        if isinstance(value, str) and _SHA.match(value):
            return value
    return None


async def merge(name: str, settings: Settings, change: ChangeToMerge) -> str | None:
    where = f"GitLab merge of {change.project}!{change.change}"
    if not settings.token:
        raise MergeFailed(f"connection {name} (gitlab): merging needs a 'token' (api scope)")
    if not change.change or not str(change.change).isdigit():
        raise MergeFailed(f"gitlab: {change.project}: nothing to merge (no merge request number)")
    if not change.patchset or not _SHA.match(change.patchset):
        raise MergeFailed(f"{where}: the tested head commit is unknown ({change.patchset!r})")
    api = GitLabAPI(settings.api, settings.token, timeout=MERGE_TIMEOUT)
    iid = str(change.change)
    async with api.client() as client:
        try:
            merged = await api.merge(client, change.project, iid, merge_fields(settings, change))
        except ReportError as exc:
            raise MergeFailed(f"{where}: {exc}", retry=True) from None
        except GitLabError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise MergeFailed(f"{where}: {exc}", retry=True) from None
            if exc.status in (405, 409):
                done = await _merged_already(api, client, change.project, iid, change.patchset)
                if done is not None:
                    return done or None
            hint = REFUSALS.get(exc.status, "GitLab refused the merge")
            raise MergeFailed(f"{where}: {exc} ({hint})") from None
    state = merged.get("state")
    if state == "merged":
        return _new_tip(merged)
    if state == "locked":  # still merging: the retry finds it merged
        raise MergeFailed(f"{where}: GitLab is still merging it", retry=True)
    error = merged.get("merge_error")
    raise MergeFailed(f"{where}: not merged (state {state!r}{f': {error}' if error else ''})")


async def _merged_already(api: GitLabAPI, client: Any, project: str, iid: str, head: str) -> str | None:
    """The new tip if the merge request is merged at `head` (an earlier try whose answer was
    lost); "" if merged without a known commit; None if not merged (or GitLab cannot say)."""
    try:
        found = await api.merge_request(client, project, iid)
    except (GitLabError, ReportError):
        return None
    if found.get("state") != "merged" or found.get("sha") != head:
        return None
    return _new_tip(found) or ""
