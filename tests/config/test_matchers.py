"""Branch and file matchers, with the reasons and where they were defined."""

from __future__ import annotations

import pytest


@pytest.fixture
def config(files):
    files.write(
        "osci.yaml",
        """
        - job:
            name: docs
            files: ['^doc/', '\\.rst$']
        - job:
            name: unit
            irrelevant-files: ['^doc/', '.*\\.md$']
        - job:
            name: stable-only
            branches: [stable/.*]
        - job:
            name: child
            parent: stable-only
        - job:
            name: master-variant
        - job:
            name: master-variant
            branches: master
            voting: false
        """,
    )
    return files.load()


def test_files_matcher(config, files) -> None:
    assert config.match("docs", "main", ["doc/index.txt", "src/a.py"]).runs
    assert config.match("docs", "main", ["README.rst"]).runs is False  # re.match: anchored at the start
    match = config.match("docs", "main", ["src/a.py"])
    assert not match.runs
    assert match.reasons == [
        f"files: no changed file matches any of ['^doc/', '\\\\.rst$'] (set at {files.root / 'osci.yaml'}:3:12)"
    ]


def test_irrelevant_files_matcher(config) -> None:
    assert config.match("unit", "main", ["src/a.py", "doc/x"]).runs
    match = config.match("unit", "main", ["doc/x", "README.md"])
    assert not match.runs
    assert "irrelevant-files: every changed file matches" in match.reasons[0]
    assert ":6:23)" in match.reasons[0]


def test_unknown_files_pass_both(config) -> None:
    assert config.match("docs", "main", None).runs
    assert config.match("unit", "main", None).runs


def test_branch_matcher_uses_re_match(config) -> None:
    assert config.match("stable-only", "stable/2024", None).runs
    assert not config.match("stable-only", "main", None).runs
    assert not config.match("stable-only", "my-stable/1", None).runs  # anchored at the start
    assert config.match("master-variant", "master-old", None).runs  # prefix match, like Zuul


def test_branch_reason_names_definitions(config, files) -> None:
    match = config.match("stable-only", "main", None)
    assert match.reasons == [
        f"branches: no definition of job 'stable-only' matches branch 'main' "
        f"(stable-only (job at {files.root / 'osci.yaml'}:7) branches ['stable/.*'])"
    ]


def test_parent_without_matching_variant_excludes_child(config) -> None:
    match = config.match("child", "main", None)
    assert not match.runs
    assert "parent job 'stable-only'" in match.reasons[0]
    assert config.match("child", "stable/1", None).runs


def test_variant_selection_for_match(config) -> None:
    job = config.freeze_job("master-variant", "master")
    assert job.voting is False
    assert config.freeze_job("master-variant", "main").voting is True
    assert config.match(job, "master", None).reasons[0].startswith("branches: branch 'master' selects")


def test_no_branch_applies_only_unrestricted_variants(config) -> None:
    assert config.freeze_job("master-variant", None).voting is True
    assert config.match("stable-only", None, None).runs  # unknown branch: not excluded


def test_match_accepts_a_frozen_job_with_overridden_files(config) -> None:
    job = config.freeze_job("unit", "main")
    job.files = ["^src/"]
    assert config.match(job, "main", ["src/x"]).runs
    assert not config.match(job, "main", ["lib/x"]).runs
