"""The merger puts a change on its branch tip as each merge mode says, with real git."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from gerritdouble.gitrepos import GitRepos, change_ref
from osci.merger.speculate import MERGE_MODES, ChangeToTest, Merger, MergerError


def show(repo: Path, rev: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, text=True, check=True
    ).stdout


def parents(repo: Path, rev: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--parents", "-n", "1", rev],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return out[1:]


@pytest.fixture
def upstream(tmp_path: Path) -> GitRepos:
    repos = GitRepos(tmp_path / "gerrit")
    repos.create("org/app", {"a.txt": "one\n", "b.txt": "bee\n"})
    return repos


def proposal(repos: GitRepos, files: dict[str, str], number: int = 1) -> tuple[str, str]:
    """A change made on the current tip (as a developer would), then the branch moves on."""
    base = repos.tip("org/app")
    ref = change_ref(number, 1)
    commit = repos.commit("org/app", base, files, f"change {number}", ref)
    return ref, commit


def change(repos: GitRepos, ref: str, commit: str, mode: str) -> ChangeToTest:
    return ChangeToTest(
        project="org/app",
        url=str(repos.bare("org/app")),
        branch="master",
        ref=ref,
        revision=commit,
        mode=mode,
    )


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_every_mode_puts_the_change_on_the_new_tip(tmp_path: Path, upstream: GitRepos, mode: str) -> None:
    ref, commit = proposal(upstream, {"a.txt": "one\ntwo\n"})
    tip = upstream.commit(
        "org/app", upstream.tip("org/app"), {"c.txt": "sea\n"}, "moved on", "refs/heads/master"
    )
    merger = Merger(tmp_path / "merger")
    spec = asyncio.run(merger.prepare([change(upstream, ref, commit, mode)], "item1"))
    assert spec.conflict is None and spec.commit and spec.base == tip
    assert spec.change_commits == [commit]
    # what is tested holds both the change and the branch's newer commit
    assert show(spec.repo, spec.commit, "a.txt") == "one\ntwo\n"
    assert show(spec.repo, spec.commit, "c.txt") == "sea\n"
    expected_parents = {
        "merge": [tip, commit],
        "merge-resolve": [tip, commit],
        "squash-merge": [tip],
        "cherry-pick": [tip],
        "rebase": [tip],
    }[mode]
    assert parents(spec.repo, spec.commit) == expected_parents
    # the result is kept alive by a ref, so a build queued behind others still finds it
    kept = subprocess.run(
        ["git", "-C", str(spec.repo), "rev-parse", "refs/osci/items/item1"], capture_output=True, text=True
    ).stdout.strip()
    assert kept == spec.commit
    assert asyncio.run(merger.changed_files("org/app", commit)) == ["a.txt"]


def test_a_change_on_the_tip_merges_as_itself(tmp_path: Path, upstream: GitRepos) -> None:
    ref, commit = proposal(upstream, {"b.txt": "bee\nbuzz\n"})
    spec = asyncio.run(Merger(tmp_path / "m").prepare([change(upstream, ref, commit, "merge")], "k"))
    assert spec.commit == commit  # a fast-forward: the very commit the reviewers see


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_a_conflict_is_reported_with_its_files_and_leaves_the_repo_clean(
    tmp_path: Path, upstream: GitRepos, mode: str
) -> None:
    ref, commit = proposal(upstream, {"a.txt": "mine\n"})
    upstream.commit(
        "org/app", upstream.tip("org/app"), {"a.txt": "theirs\n"}, "conflicting", "refs/heads/master"
    )
    merger = Merger(tmp_path / "merger")
    spec = asyncio.run(merger.prepare([change(upstream, ref, commit, mode)], "item2"))
    assert spec.commit is None
    assert spec.conflict and "a.txt" in spec.conflict and ref in spec.conflict
    status = subprocess.run(
        ["git", "-C", str(spec.repo), "status", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout
    assert status == ""
    # and the next change of the project merges fine in the same repository
    ref2, commit2 = proposal(upstream, {"b.txt": "ok\n"}, number=2)
    spec2 = asyncio.run(merger.prepare([change(upstream, ref2, commit2, mode)], "item3"))
    assert spec2.conflict is None and show(spec2.repo, spec2.commit, "b.txt") == "ok\n"


def test_a_missing_change_ref_is_a_merger_error_not_a_conflict(tmp_path: Path, upstream: GitRepos) -> None:
    missing = ChangeToTest("org/app", str(upstream.bare("org/app")), "master", change_ref(9, 1), None)
    with pytest.raises(MergerError, match="fetch"):
        asyncio.run(Merger(tmp_path / "m").prepare([missing], "k"))


def test_a_ref_that_does_not_hold_the_announced_revision_is_refused(
    tmp_path: Path, upstream: GitRepos
) -> None:
    ref, _ = proposal(upstream, {"a.txt": "x\n"})
    wrong = ChangeToTest("org/app", str(upstream.bare("org/app")), "master", ref, "0" * 40)
    with pytest.raises(MergerError, match="not 000000000000"):
        asyncio.run(Merger(tmp_path / "m").prepare([wrong], "k"))


def test_a_branch_without_a_change_is_tested_at_its_tip(tmp_path: Path, upstream: GitRepos) -> None:
    branch = ChangeToTest("org/app", str(upstream.bare("org/app")), "master")
    spec = asyncio.run(Merger(tmp_path / "m").prepare([branch], "k"))
    assert spec.commit == upstream.tip("org/app") and spec.conflict is None
