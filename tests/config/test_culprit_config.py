"""culprit-finding and promote keys of a pipeline (osci's additions): defaults, errors with file:line."""

from __future__ import annotations


def test_culprit_finding_and_promote(files) -> None:
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: post
            culprit-finding: {max-parallel: 2, confirm-failures: 4}
            trigger: {timer: [{time: "0 4 * * *"}]}
        - pipeline:
            name: periodic
            culprit-finding: true
            trigger: {timer: [{time: "0 5 * * *"}]}
        - pipeline:
            name: promote
            promote: {from: staging, to: main, cherry-pick-after-culprit: true}
            trigger: {timer: [{time: "0 6 * * *"}]}
        - pipeline:
            name: check
            trigger: {timer: [{time: "0 7 * * *"}]}
        """,
    )
    config = files.load()
    post, periodic = config.pipelines["post"].culprit_finding, config.pipelines["periodic"].culprit_finding
    assert (post.max_parallel, post.confirm_failures, post.confirm_passes) == (2, 4, 3)
    assert (periodic.max_parallel, periodic.confirm_failures, periodic.confirm_passes) == (4, 3, 3)
    promote = config.pipelines["promote"]
    assert (promote.promote.from_branch, promote.promote.to_branch) == ("staging", "main")
    assert promote.promote.cherry_pick_after_culprit is True
    assert promote.culprit_finding is not None  # a promotion bisects a red batch
    assert config.pipelines["check"].culprit_finding is None and config.pipelines["check"].promote is None


def test_culprit_and_promote_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - pipeline:
            name: post
            culprit-finding: {max-parallel: 0, confirm-passes: many, bisect: yes}
            trigger: {timer: [{time: "0 4 * * *"}]}
        - pipeline:
            name: promote
            promote: {from: main, to: main}
            trigger: {timer: [{time: "0 6 * * *"}]}
        - pipeline:
            name: promote2
            promote: {to: main}
            trigger: {timer: [{time: "0 6 * * *"}]}
        - pipeline:
            name: promote3
            promote: staging
            trigger: {timer: [{time: "0 6 * * *"}]}
        """,
    )
    errors = files.errors()
    messages = "\n".join(str(e) for e in errors)
    assert all(line == 3 for _, line in where(errors, "culprit-finding")), messages
    assert len(where(errors, "culprit-finding")) == 3, messages
    assert where(errors, "'from' and 'to' must be different branches") == [("osci.yaml", 7)]
    assert where(errors, "missing required key 'from'") == [("osci.yaml", 11)]
    assert where(errors, "promote: expected a mapping") == [("osci.yaml", 15)]
