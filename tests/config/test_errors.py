"""Every class of configuration error, each at the offending file and line; all are collected."""

from __future__ import annotations

from osci.config import ConfigErrors, load_config


def test_unknown_object_type_with_suggestion(files, where) -> None:
    files.write("osci.yaml", "- job: {name: a}\n- jbo: {name: b}\n")
    errors = files.errors()
    assert where(errors, "unknown object type 'jbo' (did you mean 'job'?)") == [("osci.yaml", 2)]


def test_unknown_key_with_suggestion(files, where) -> None:
    files.write("osci.yaml", "- job:\n    name: a\n    tiemout: 10\n")
    assert where(files.errors(), "unknown key 'tiemout' (did you mean 'timeout'?)") == [("osci.yaml", 3)]


def test_wrong_types_say_what_was_expected(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job:
            name: a
            files: {x: 1}
            voting: maybe
            attempts: 0
            timeout: soon
            vars: [1]
            tags: {a: b}
            run: [{script: 3}]
        """,
    )
    errors = files.errors()
    expected = "expected a regular expression or a list of regular expressions, got a mapping"
    assert where(errors, expected) == [("osci.yaml", 3)]
    assert where(errors, "'voting': expected true or false, got a string") == [("osci.yaml", 4)]
    assert where(errors, "'attempts' must be at least 1, got 0") == [("osci.yaml", 5)]
    assert where(errors, "'timeout': expected a number, got a string") == [("osci.yaml", 6)]
    assert where(errors, "'vars': expected a mapping, got a list") == [("osci.yaml", 7)]
    assert where(errors, "'tags': expected a list of tags, got a mapping") == [("osci.yaml", 8)]
    assert where(errors, "'script': expected a non-empty string, got an integer") == [("osci.yaml", 9)]


def test_missing_required_keys(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job:
            description: nameless
        - connection:
            name: gerrit
        - nodeset:
            name: n
            nodes: [{name: a}]
        - secret:
            name: s
        """,
    )
    errors = files.errors()
    assert where(errors, "job: missing required key 'name'") == [("osci.yaml", 1)]
    assert where(errors, "connection: missing required key 'driver'") == [("osci.yaml", 4)]
    assert where(errors, "missing required key 'label'") == [("osci.yaml", 7)]
    assert where(errors, "secret: missing required key 'data'") == [("osci.yaml", 9)]


def test_duplicate_names(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - nodeset: {name: n, nodes: []}
        - project-template: {name: t}
        - pipeline: {name: check}
        - connection: {name: c, driver: git}
        - secret: {name: s, data: {}}
        """,
    )
    files.write(
        "osci.d/more.yaml",
        """
        - nodeset: {name: n, nodes: []}
        - project-template: {name: t}
        - pipeline: {name: check}
        - connection: {name: c, driver: git}
        - secret: {name: s, data: {}}
        """,
    )
    errors = files.errors()
    for line, what in enumerate(
        ("nodeset 'n'", "project-template 't'", "pipeline 'check'", "connection 'c'"), 1
    ):
        assert where(errors, f"{what} is already defined at ") == [("more.yaml", line)]
    assert where(errors, "secret 's' is already defined at ") == [("more.yaml", 5)]


def test_parent_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: a, parent: b}
        - job: {name: b, parent: a}
        - job: {name: c, parent: bse}
        - job: {name: base, final: true}
        - job: {name: d, parent: base}
        - job: {name: e}
        - job: {name: e, parent: base}
        """,
    )
    errors = files.errors()
    assert where(errors, "cyclic parents") == [("osci.yaml", 1), ("osci.yaml", 2)]
    assert where(errors, "parent job 'bse' is not defined (did you mean 'base'?)") == [("osci.yaml", 3)]
    assert where(errors, "parent job 'base' is final") == [("osci.yaml", 5)]
    assert where(errors, "a variant cannot change the parent") == [("osci.yaml", 7)]


def test_final_job_cannot_get_later_variants(files, where) -> None:
    files.write("osci.yaml", "- job: {name: a, final: true}\n- job: {name: a, voting: false}\n")
    assert where(files.errors(), "job 'a' is final") == [("osci.yaml", 2)]


def test_dependency_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: a, dependencies: [b]}
        - job: {name: b, dependencies: [{name: c, soft: true}]}
        - job: {name: c, dependencies: a}
        - job: {name: d, dependencies: [nosuch]}
        """,
    )
    errors = files.errors()
    cycle = where(errors, "dependency cycle: a -> b -> c -> a")
    assert cycle == [("osci.yaml", 3)]
    assert where(errors, "depends on unknown job 'nosuch'") == [("osci.yaml", 4)]


def test_unknown_nodeset(files, where) -> None:
    files.write("osci.yaml", "- nodeset: {name: small, nodes: []}\n- job: {name: a, nodeset: smal}\n")
    assert where(files.errors(), "nodeset 'smal' is not defined (did you mean 'small'?)") == [
        ("osci.yaml", 2)
    ]


def test_steps_must_exist_and_be_files(files, where) -> None:
    files.script("scripts/ok.sh")
    (files.root / "scripts" / "folder").mkdir()
    files.write(
        "osci.yaml",
        """
        - job:
            name: a
            pre-run: scripts/ok.sh
            run:
              - scripts/missing.sh
              - scripts/folder
              - script: echo inline is fine
        """,
    )
    errors = files.errors(project_dir=files.root)
    assert where(errors, "step 'scripts/missing.sh' does not exist") == [("osci.yaml", 5)]
    assert where(errors, "step 'scripts/folder' is not a file") == [("osci.yaml", 6)]
    assert len(errors) == 2
    files.load()  # without a project folder, steps are not checked


def test_bad_regexes_carry_the_regex_error(files, where) -> None:
    files.write("osci.yaml", "- job:\n    name: a\n    branches: ['stable/(']\n    irrelevant-files: '[x'\n")
    errors = files.errors()
    assert where(errors, "bad regular expression 'stable/(': missing )") == [("osci.yaml", 3)]
    assert where(errors, "bad regular expression '[x': unterminated character set") == [("osci.yaml", 4)]


def test_yaml_syntax_error(files) -> None:
    files.write("osci.yaml", "- job:\n    name: a\n  - bad\n")
    ((name, line, message),) = files.errors()
    assert (name, line) == ("osci.yaml", 3)
    assert message.startswith("YAML syntax error")


def test_top_level_must_be_a_list_of_one_key_mappings(files, where) -> None:
    files.write("osci.yaml", "- job: {name: a}\n  nodeset: {name: b}\n- 5\n")
    files.write("osci.d/x.yaml", "job: {name: a}\n")
    errors = files.errors()
    assert where(errors, "got a mapping with 2 keys") == [("osci.yaml", 1)]
    assert where(errors, "got an integer") == [("osci.yaml", 3)]
    assert where(errors, "expected a list of objects") == [("x.yaml", 1)]


def test_project_errors(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: base, abstract: true}
        - job: {name: unit, parent: base}
        - pipeline: {name: check}
        - project:
            name: p
            templates: [tmpl]
            chek:
              jobs: [unit]
            check:
              jobs:
                - base
                - unti
                - unit: {parent: base}
        """,
    )
    errors = files.errors()
    assert where(errors, "project-template 'tmpl' is not defined") == [("osci.yaml", 6)]
    assert where(errors, "unknown pipeline 'chek' (did you mean 'check'?)") == [("osci.yaml", 7)]
    assert where(errors, "job 'base' is abstract") == [("osci.yaml", 11)]
    assert where(errors, "unknown job 'unti' (did you mean 'unit'?)") == [("osci.yaml", 12)]
    assert where(errors, "'parent' cannot be set in a project pipeline") == [("osci.yaml", 13)]


def test_all_errors_are_collected_and_formatted(files) -> None:
    path = files.write("osci.yaml", "- job: {name: a, tiemout: 1}\n- jbo: {}\n- job: {name: b, voting: 1}\n")
    try:
        load_config(path)
    except ConfigErrors as exc:
        lines = [str(e) for e in exc.errors]
    else:
        raise AssertionError("should not load")
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:1:18: job 'a': unknown key 'tiemout'")
    assert lines[1].startswith(f"{path}:2:3: unknown object type 'jbo'")
    assert lines[2].startswith(f"{path}:3:26: job 'b': 'voting'")


def test_missing_path_is_an_error_not_a_traceback(tmp_path) -> None:
    try:
        load_config(tmp_path / "nope.yaml")
    except ConfigErrors as exc:
        assert "no such file or folder" in str(exc)
    else:
        raise AssertionError("should not load")


def test_final_job_cannot_be_overridden_in_a_project(files, where) -> None:
    files.write(
        "osci.yaml",
        """
        - job: {name: locked, final: true}
        - project:
            name: p
            check:
              jobs:
                - locked
                - locked: {voting: false}
        """,
    )
    assert where(files.errors(), "job 'locked' is final and cannot be overridden") == [("osci.yaml", 7)]


def test_duplicate_key_in_a_job(files, where) -> None:
    files.write("osci.yaml", "- job:\n    name: a\n    run: x.sh\n    run: y.sh\n")
    assert where(files.errors(), "duplicate key 'run'") == [("osci.yaml", 4)]
