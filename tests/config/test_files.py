"""Finding configuration files and loading several of them."""

from __future__ import annotations

from osci.config import discover_config_files


def test_discover_in_a_folder_sorted_within_each(files) -> None:
    for name in ("osci.d/b.yaml", "osci.d/a.yaml", "osci.yaml", ".osci.d/z.yaml", ".osci.yaml"):
        files.write(name, "[]\n")
    files.write("osci.d/notes.txt", "x")
    found = [p.relative_to(files.root).as_posix() for p in discover_config_files(files.root)]
    assert found == ["osci.yaml", "osci.d/a.yaml", "osci.d/b.yaml", ".osci.yaml", ".osci.d/z.yaml"]


def test_discover_a_file_is_itself(files) -> None:
    path = files.write("custom.yaml", "[]\n")
    assert discover_config_files(path) == [path]


def test_jobs_from_several_files_are_variants_in_file_order(files) -> None:
    files.write("osci.yaml", "- job: {name: a, timeout: 10}\n")
    files.write("osci.d/1.yaml", "- job: {name: a, timeout: 20}\n")
    config = files.load()
    assert config.freeze_job("a").timeout == 20
    assert [d.location.file.split("/")[-1] for d in config.jobs["a"]] == ["osci.yaml", "1.yaml"]


def test_empty_file_is_an_empty_configuration(files) -> None:
    files.write("osci.yaml", "")
    assert files.load().jobs == {}


def test_in_repo_project_may_omit_its_name(files) -> None:
    files.write(".osci.yaml", "- job: {name: unit}\n- project:\n    check:\n      jobs: [unit]\n")
    config = files.load()
    assert [j.name for j in config.project_jobs(None, "check", "main")] == ["unit"]


def test_central_project_needs_a_name(files) -> None:
    files.write("osci.yaml", "- job: {name: unit}\n- project:\n    check:\n      jobs: [unit]\n")
    errors = files.errors()
    assert errors[0][:2] == ("osci.yaml", 2)
    assert "missing required key 'name'" in errors[0][2]


def test_anchors_and_merge_keys_across_job_definitions(files) -> None:
    files.write(
        "osci.yaml",
        """
        - job:
            name: unit
            vars: &common {python: "3.11", db: {user: ci}}
            run: &run scripts/run.sh
        - job:
            name: functional
            run: *run
            vars:
              <<: *common
              python: "3.12"
        """,
    )
    config = files.load()
    job = config.freeze_job("functional")
    assert job.vars == {"python": "3.12", "db": {"user": "ci"}}
    assert [s.label for s in job.run] == ["scripts/run.sh"]


def test_connections_and_providers_keep_driver_settings(files) -> None:
    files.write(
        "osci.yaml",
        """
        - connection: {name: upstream, driver: gerrit, server: review.example.org, port: 29418}
        - provider: {name: lab, driver: static, hosts: [{name: h1, host: h1.example.org, label: x}]}
        - secret: {name: token, data: {value: s3cret}}
        """,
    )
    config = files.load()
    assert config.connections["upstream"].driver == "gerrit"
    assert config.connections["upstream"].data == {"server": "review.example.org", "port": 29418}
    assert config.providers["lab"].data["hosts"][0]["name"] == "h1"
    assert config.providers["lab"].spec.hosts[0].host == "h1.example.org"
    assert config.secrets["token"].data == {"value": "s3cret"}
