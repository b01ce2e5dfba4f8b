"""What a gate asks of GitHub: merge a pull request, and read `Depends-On:` pull request URLs.

A merge is `PUT /repos/{owner}/{repo}/pulls/{number}/merge` with `sha` set to the head that
was tested, so GitHub refuses (409) if the pull request moved since. GitHub's refusals (405
not mergeable or blocked by branch protection, 409 head changed, 422 invalid, 401/403/404
credentials or permissions) end the item; 5xx, rate limits and network errors are retried.
A merge whose answer was lost is recognised on the retry: GitHub then says 405, and the pull
request, read back, is merged at the tested head.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from osci.connections.base import ChangeToMerge, ConnectionConfigError, DependencyRef, MergeFailed
from osci.connections.github.api import GitHubAPI, GitHubRefused, GitHubUnavailable, Response, message_of
from osci.connections.github.config import DEFAULT_GIT_URL, Settings, split_project

_SHA = re.compile(r"^[0-9a-f]{40}$")

REFUSALS = {
    401: "the credentials were refused: check 'token', or 'app-id' and 'private-key'",
    403: "forbidden: the token or App may not merge here (it needs Contents: read and write and "
    "Pull requests: read and write, and the branch's protection rules must let it merge)",
    404: "not found: the repository or pull request is unknown, or the credentials cannot see it",
    405: "GitHub will not merge it (not mergeable, a conflict, a required review or check missing, "
    "or this merge method is not allowed on the repository)",
    409: "the pull request's head changed since it was tested",
    422: "GitHub refused the merge request as invalid",
}


def web_bases(settings: Settings) -> list[str]:
    """The web addresses (scheme://host[:port]) this connection's pull request URLs start with:
    github.com for api.github.com, https://HOST for GitHub Enterprise's https://HOST/api/v3,
    and the host of a remote `git-url` (when set for an Enterprise connection)."""
    bases: list[str] = []
    api = urlsplit(settings.api_url)
    host = (api.hostname or "").lower()
    netloc = api.netloc.lower()
    if host == "api.github.com":
        bases.append("https://github.com")
    elif api.path.rstrip("/").endswith("/api/v3"):
        bases.append(f"{api.scheme}://{netloc}{api.path.rstrip('/')[: -len('/api/v3')]}")
    elif host.startswith("api."):
        bases.append(f"{api.scheme}://{netloc[len('api.') :]}")
    # git-url's default (github.com) says nothing about a GitHub Enterprise connection's pull requests
    default_git = settings.git_url == DEFAULT_GIT_URL and host != "api.github.com"
    if not settings.git_is_local and not default_git:
        git = urlsplit(settings.git_url)
        if git.scheme in ("http", "https") and git.netloc:
            bases.append(f"{git.scheme}://{git.netloc.lower()}{git.path.rstrip('/')}")
    unique: list[str] = []
    for base in bases:
        if base not in unique:
            unique.append(base)
    return unique


_PULL = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pull/(?P<number>[1-9][0-9]{0,9})"
    r"(?:/(?:files|commits|checks))?/?$"
)


def resolve_dependency(name: str, settings: Settings, reference: str) -> DependencyRef | None:
    """`https://<host>/<owner>/<repo>/pull/<n>` of this connection's GitHub; None otherwise."""
    if not isinstance(reference, str):
        return None
    try:
        url = urlsplit(reference.strip())
        port = url.port
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.password:
        return None
    for base in web_bases(settings):
        known = urlsplit(base)
        same_host = url.hostname.lower() == (known.hostname or "").lower() and port == known.port
        if url.scheme != known.scheme or not same_host:
            continue
        prefix = known.path.rstrip("/")
        if prefix and not url.path.startswith(prefix + "/"):
            continue
        found = _PULL.match(url.path[len(prefix) :])
        if found is None:
            continue
        project = f"{found['owner']}/{found['repo']}"
        if split_project(project) is None:
            return None
        return DependencyRef(connection=name, project=project, change=found["number"])
    return None


def merge_body(change: ChangeToMerge, method: str) -> dict[str, Any]:
    body: dict[str, Any] = {"sha": change.patchset, "merge_method": method}
    if method != "rebase" and change.message.strip():
        body["commit_message"] = change.message.strip()  # the title stays GitHub's own
    return body


def _refused(what: str, response: Response) -> MergeFailed:
    hint = REFUSALS.get(response.status, "GitHub refused the merge")
    return MergeFailed(f"GitHub {what}: HTTP {response.status}{message_of(response.body)} ({hint})")


async def merge(api: GitHubAPI, settings: Settings, change: ChangeToMerge) -> str | None:
    """Merge the pull request `change.change` of `change.project` at the tested head; the base
    branch's new commit."""
    found = split_project(change.project)
    if found is None:
        raise MergeFailed(f"github: project {change.project!r} is not a GitHub owner/repo name")
    if not change.change or not str(change.change).isdigit():
        raise MergeFailed(f"github: {change.project}: nothing to merge (no pull request number)")
    if not change.patchset or not _SHA.match(change.patchset):
        raise MergeFailed(
            f"github: {change.project}#{change.change}: the tested head commit is unknown ({change.patchset!r})"
        )
    owner, repo = found
    number = int(change.change)
    what = f"merge of {change.project}#{number}"
    path = f"/repos/{owner}/{repo}/pulls/{number}/merge"
    try:
        response = await api.answer("PUT", path, owner, repo, body=merge_body(change, settings.merge_method))
        if response.status == 200:
            body = response.body if isinstance(response.body, dict) else {}
            if body.get("merged") is False:
                raise MergeFailed(f"GitHub {what}: not merged{message_of(body)}")
            sha = body.get("sha")
            return sha if isinstance(sha, str) and _SHA.match(sha) else None
        if response.status in (405, 409):
            done = await _merged_already(api, owner, repo, number, change.patchset)
            if done is not None:
                return done or None
        raise _refused(what, response)
    except GitHubUnavailable as exc:
        raise MergeFailed(f"GitHub {what}: {exc}", retry=True) from None
    except (GitHubRefused, ConnectionConfigError) as exc:  # the App's installation or token
        raise MergeFailed(f"GitHub {what}: {exc}") from None


async def _merged_already(api: GitHubAPI, owner: str, repo: str, number: int, head: str) -> str | None:
    """The merge commit if the pull request is merged at `head` already (an earlier try whose
    answer was lost); "" if merged without a known commit; None if it is not merged."""
    response = await api.answer("GET", f"/repos/{owner}/{repo}/pulls/{number}", owner, repo)
    pull = response.body if response.status == 200 and isinstance(response.body, dict) else {}
    head_sha = pull.get("head", {}).get("sha") if isinstance(pull.get("head"), dict) else None
    if pull.get("merged") is not True or head_sha != head:
        return None
    sha = pull.get("merge_commit_sha")
    return sha if isinstance(sha, str) and _SHA.match(sha) else ""
