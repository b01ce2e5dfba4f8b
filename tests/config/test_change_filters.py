"""Pipelines' `require` / `reject` and the trigger `approval` are checked at load time."""

from __future__ import annotations


def test_requirements_and_approvals_load(files) -> None:
    files.write(
        "osci.yaml",
        r"""
        - connection: {name: upstream, driver: gerrit, server: review.example.org}
        - pipeline:
            name: gate
            require:
              upstream:
                open: true
                current-patchset: true
                status: [NEW]
                approval:
                  - {Code-Review: 2, username: ^core}
                  - {Workflow: 1}
            reject:
              upstream:
                approval: [{Verified: [-1, -2]}]
            trigger:
              upstream:
                - event: comment-added
                  approval: [{Workflow: 1}]
        """,
    )
    gate = files.load().pipelines["gate"]
    assert gate.require["upstream"]["approval"][0] == {"Code-Review": 2, "username": "^core"}
    assert gate.reject == {"upstream": {"approval": [{"Verified": [-1, -2]}]}}
    assert gate.triggers["upstream"][0].options["approval"] == [{"Workflow": 1}]


def test_bad_requirements_name_the_line(files, where) -> None:
    files.write(
        "osci.yaml",
        r"""
        - connection: {name: upstream, driver: gerrit, server: review.example.org}
        - pipeline:
            name: gate
            require:
              upstream:
                opne: true
                current-patchset: yes please
                approval: [{Code-Review: two}]
            reject:
              upstream: [nope]
            trigger:
              upstream:
                - event: comment-added
                  approval: {username: "(", Verified: 1}
        """,
    )
    errors = files.errors()
    assert where(errors, "unknown key 'opne'") == [("osci.yaml", 6)]
    assert where(errors, "'current-patchset': expected true or false") == [("osci.yaml", 7)]
    assert where(errors, "label 'Code-Review': expected a vote") == [("osci.yaml", 8)]
    assert where(errors, "reject 'upstream': expected a mapping") == [("osci.yaml", 10)]
    # a trigger's `approval` is the driver's to check (the gerrit connection does, at start)
    assert where(errors, "bad regular expression") == []
