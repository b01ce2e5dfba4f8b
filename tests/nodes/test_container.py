"""The container provider with a real podman (tests/nodes/containers.py makes it and its image;
without a podman that can run containers here, these tests skip and say why)."""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osci.config import ConfigErrors, load_config
from osci.model import BuildRecord, FrozenJob, NodeRequest, Nodeset, Result, Step
from osci.nodes import model as nm
from osci.nodes.pool import NodePool
from osci.nodes.providers.container import ContainerProvider
from osci.scheduler.ports import BuildOrder
from osci.scheduler.state import ACTIVE, BuildState, ItemState

from .conftest import Repo, wait_for
from .containers import Podman, make_podman


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    made = make_podman(tmp_path_factory.mktemp("podman"))
    if isinstance(made, str):
        pytest.skip(made)
    saved = {k: os.environ.get(k) for k in made.env}
    os.environ.update(made.env)  # the provider's engine commands (and servers started) inherit it
    yield made
    made.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def provider_yaml(name: str, image: str, engine: str = "podman", min_ready: int = 0, most: int = 2,
                  options: tuple[str, ...] = ("--network=none",), probe: float = 0.2) -> str:  # fmt: skip
    return textwrap.dedent(
        f"""
        - provider:
            name: {name}
            driver: container
            engine: {engine}
            probe-interval: {probe}
            images:
              - {{label: box, image: "{image}", provides: [root]}}
            labels: [{{name: box, min-ready: {min_ready}, max: {most}}}]
            options: [{", ".join(options)}]
        """
    )


def make_pool(tmp_path: Path, text: str) -> NodePool:
    (tmp_path / "osci.yaml").write_text(text)
    config = load_config(tmp_path / "osci.yaml")
    specs = [p.spec for p in config.providers.values()]
    return NodePool.from_specs(
        specs, slots=1, build_dir=lambda u: tmp_path / "builds" / u, workspace_root=tmp_path / "ws"
    )


def item_for(job: FrozenJob, n: int = 0) -> ItemState:
    item = ItemState(uuid=f"i{n}", pipeline="check", project="p", branch="main", ref=None, newrev=None)
    item.state = ACTIVE
    item.builds = {job.name: BuildState(uuid=f"b{n}", job=job)}
    return item


def box_job(*run: Step, **fields: Any) -> FrozenJob:
    return FrozenJob(name="j", nodeset=Nodeset(nodes=(NodeRequest("main", "box"),)), run=list(run), **fields)


async def build(pool: NodePool, source: Path, job: FrozenJob, n: int = 0) -> BuildRecord:
    item = item_for(job, n)
    while not pool.select([(item, job.name)]):
        await asyncio.sleep(0.05)
    return await pool.run(BuildOrder(item=item, build=item.builds[job.name], source=source, ref=None))


def run_builds(pool: NodePool, source: Path, jobs: list[FrozenJob]) -> list[BuildRecord]:
    async def go() -> list[BuildRecord]:
        await pool.start()
        return list(await asyncio.gather(*(build(pool, source, job, n) for n, job in enumerate(jobs))))

    try:
        return asyncio.run(go())
    finally:
        pool.close()


def output(tmp_path: Path, n: int = 0) -> str:
    return (tmp_path / "builds" / f"b{n}" / "job-output.txt").read_text()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "check.sh").write_text("#!/bin/bash\necho checking in $OSCI_WORKSPACE as $OSCI_NODE\n")
    (folder / "check.sh").chmod(0o755)
    return folder


def unique(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_a_build_passes_in_a_fresh_container_and_its_results_come_back(podman: Podman, tmp_path, source):
    name = unique()
    job = box_job(
        Step(path="check.sh"),
        Step(
            script='echo "<testsuite><testcase name=\\"t\\"/></testsuite>" > out/junit.xml; '
            "echo log > $OSCI_LOG_DIR/l.txt; echo a > $OSCI_ARTIFACTS/a.txt; "
            'echo "init: $(tr "\\0" " " < /proc/1/cmdline)"; echo "var: $GREETING"; echo "to stderr" >&2'
        ),
        pre_run=[Step(script="mkdir -p out")],
        post_run=[Step(script="echo post-run ran")],
        test_results=["**/junit.xml"],
        vars={"GREETING": "hello"},
    )
    pool = make_pool(tmp_path, provider_yaml(name, podman.image))
    [record] = run_builds(pool, source, [job])
    text = output(tmp_path)
    assert record.result is Result.SUCCESS, text
    assert f"checking in /tmp/osci/b0-1/ws as {name}:box" in text
    assert "init: sleep infinity" in text  # in the container: its init is the provider's `sleep`
    assert "var: hello" in text and "to stderr" in text and "post-run ran" in text
    assert "fresh container" in text
    assert [t.name for t in record.tests] == ["t"]
    assert (tmp_path / "builds" / "b0" / "logs" / "l.txt").read_text() == "log\n"
    assert record.artifacts == ["a.txt"]
    assert record.attempts[0].node == f"{name}:box"
    assert podman.containers(name) == []  # removed after the build


def test_a_failing_step_is_a_failure_and_the_container_is_removed(podman: Podman, tmp_path, source):
    name = unique()
    job = box_job(
        Step(script="echo before; exit 3"),
        Step(script="echo never"),
        post_run=[Step(script="echo cleaning up")],
        attempts=3,
    )
    pool = make_pool(tmp_path, provider_yaml(name, podman.image))
    [record] = run_builds(pool, source, [job])
    text = output(tmp_path)
    assert record.result is Result.FAILURE, text
    assert len(record.attempts) == 1  # a test failure is not retried
    assert "exited with 3" in record.reason
    assert "before" in text and "never" not in text and "cleaning up" in text
    assert pool.nodes[f"{name}:box"].state == nm.READY
    assert podman.containers(name) == []


def test_the_job_timeout_kills_the_step_inside_the_container(podman: Podman, tmp_path, source):
    name = unique()
    job = box_job(
        Step(script="echo sleeping; sleep 300; echo woke"), post_run=[Step(script="echo post")], timeout=1
    )
    pool = make_pool(tmp_path, provider_yaml(name, podman.image))
    [record] = run_builds(pool, source, [job])
    text = output(tmp_path)
    assert record.result is Result.TIMED_OUT, text
    assert "| sleeping\n" in text and "| woke\n" not in text and "| post\n" in text
    assert podman.containers(name) == []


def test_two_builds_never_share_a_container(podman: Podman, tmp_path, source):
    name = unique()
    # each build leaves a mark in its container and fails if it finds another build's mark
    step = Step(
        script='ls /tmp/mark-* 2>/dev/null && { echo "shared with another build"; exit 1; }; '
        'touch /tmp/mark-$OSCI_BUILD; echo "container=$OSCI_CONTAINER"; sleep 1'
    )
    pool = make_pool(tmp_path, provider_yaml(name, podman.image, most=2))
    records = run_builds(pool, source, [box_job(step) for _ in range(3)])
    texts = [output(tmp_path, n) for n in range(3)]
    assert [r.result for r in records] == [Result.SUCCESS] * 3, texts
    containers = {line.split("=", 1)[1] for text in texts for line in text.splitlines() if "container=" in line}
    assert len(containers) == 3
    assert podman.containers(name) == []


def test_min_ready_keeps_a_warm_container_ahead(podman: Podman, tmp_path, source):
    name = unique()
    pool = make_pool(tmp_path, provider_yaml(name, podman.image, min_ready=1, most=2))
    provider = pool.providers[name]
    assert isinstance(provider, ContainerProvider)
    job = box_job(Step(script='echo "container=$OSCI_CONTAINER"'))

    async def go() -> tuple[str, BuildRecord, str]:
        await pool.start()
        [warm] = await asyncio.to_thread(wait_for, lambda: provider.warm("box"), 60, what="a warm container")
        assert podman.containers(name) == [warm]  # started ahead, before any build
        record = await build(pool, source, job)
        [again] = await asyncio.to_thread(wait_for, lambda: provider.warm("box"), 60, what="a new warm one")
        return warm, record, again

    try:
        warm, record, again = asyncio.run(go())
    finally:
        pool.close()
    text = output(tmp_path)
    assert record.result is Result.SUCCESS, text
    assert f"warm container {warm[:12]}" in text and f"container={warm}" in text
    assert again != warm  # the used one was removed, a new one keeps min-ready
    assert podman.containers(name) == []  # closing the pool removes the warm ones


def test_a_missing_image_is_an_infrastructure_error_retried_not_a_failure(podman: Podman, tmp_path, source):
    name = unique()
    text = provider_yaml(name, "localhost/osci-no-such-image:1", options=("--network=none", "--pull=never"))
    pool = make_pool(tmp_path, text)
    [record] = run_builds(pool, source, [box_job(Step(script="echo never"), attempts=2)])
    assert record.result is Result.RETRY_LIMIT, output(tmp_path)
    assert [a.result for a in record.attempts] == [Result.ERROR, Result.ERROR]
    assert "cannot start a container from localhost/osci-no-such-image:1" in record.attempts[0].reason
    assert "infrastructure error" in output(tmp_path)
    assert pool.nodes[f"{name}:box"].failures == 2
    assert podman.containers(name) == []


def test_an_engine_that_is_not_there_is_an_error(podman: Podman, tmp_path, source):
    name = unique()
    pool = make_pool(tmp_path, provider_yaml(name, podman.image, engine=str(tmp_path / "no-podman")))
    [record] = run_builds(pool, source, [box_job(Step(script="echo never"), attempts=1)])
    assert record.result is Result.RETRY_LIMIT
    assert "is not installed" in record.attempts[0].reason
    assert pool.nodes[f"{name}:box"].state == nm.OFFLINE


def test_an_engine_lost_during_a_build_is_an_error_and_the_retry_passes(podman: Podman, tmp_path, source):
    """The step breaks the engine (through a shared folder the wrapper watches): the next engine
    command fails, the attempt is ERROR, the node offline until the engine answers again."""
    name = unique()
    shared = tmp_path / "shared"
    shared.mkdir()
    engine = tmp_path / "engine"
    engine.write_text(
        "#!/bin/bash\n"
        f'if [ -e {shared}/broken ] && [ "$1" != rm ]; then echo "Error: the engine is gone" >&2; exit 125; fi\n'
        'exec podman "$@"\n'
    )
    engine.chmod(0o755)
    options = ("--network=none", f"--volume={shared}:/shared")
    pool = make_pool(tmp_path, provider_yaml(name, podman.image, engine=str(engine), options=options))
    job = box_job(
        Step(script='echo "attempt $OSCI_ATTEMPT"; if [ "$OSCI_ATTEMPT" = 1 ]; then touch /shared/broken; fi'),
        Step(script="echo second step"),
        attempts=2,
    )
    node = f"{name}:box"

    async def go() -> BuildRecord:
        await pool.start()
        running = asyncio.create_task(build(pool, source, job))
        await asyncio.to_thread(wait_for, lambda: pool.nodes[node].state == nm.OFFLINE, 60, what="offline")
        assert pool.nodes[node].detail  # says why
        (shared / "broken").unlink()  # the engine is back: the probe sees it, the retry runs
        return await running

    try:
        record = asyncio.run(go())
    finally:
        pool.close()
    text = output(tmp_path)
    assert [a.result for a in record.attempts] == [Result.ERROR, Result.SUCCESS], text
    assert "the container stopped during run step" in record.attempts[0].reason
    assert record.result is Result.SUCCESS
    assert pool.nodes[node].state == nm.READY
    assert podman.containers(name) == []


def test_a_server_runs_a_pushed_change_in_a_container(podman: Podman, make_server, repo: Repo, tmp_path):
    name = unique()
    repo.write("README", "demo\n")
    repo.write("test.sh", "#!/bin/bash\necho \"testing $(cat README) in $OSCI_CONTAINER\"\n")
    repo.commit("initial")
    repo.push()
    server = make_server(
        provider_yaml(name, podman.image)
        + textwrap.dedent(
            """
            - connection:
                name: local
                driver: git
                baseurl: @ROOT@/repos
                poll-interval: 0.3
            - pipeline:
                name: check
                manager: independent
                trigger:
                  local:
                    - event: ref-updated
                      branch: ^main$
            - job:
                name: boxed
                nodeset: {nodes: [{name: main, label: box}]}
                run: test.sh
            - project:
                name: demo
                check: {jobs: [boxed]}
            """
        )
    )
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    repo.write("code.py", "x = 1\n")
    repo.commit("change")
    repo.push()
    [done] = server.wait_builds(1, timeout=120)
    assert done["result"] == "SUCCESS", server.log()
    nodes = {n["name"]: n for n in server.client.get("/api/nodes").json()["nodes"]}
    assert nodes[f"{name}:box"]["label"] == "box" and nodes[f"{name}:box"]["capabilities"] == ["root"]
    assert server.terminate() == 0
    assert podman.containers(name) == []


def test_container_settings_are_checked_with_their_line(tmp_path: Path):
    path = tmp_path / "osci.yaml"
    path.write_text(
        textwrap.dedent(
            """
            - provider:
                name: boxes
                driver: container
                engine: lxc
                images:
                  - {label: box, image: debian:12}
                  - {label: box, image: debian:13}
                labels: [{name: box, min-ready: 3, max: 2}, {name: other}]
                workdir: relative
            """
        ).lstrip()
    )
    with pytest.raises(ConfigErrors) as caught:
        load_config(path)
    text = str(caught.value)
    assert "osci.yaml:4" in text and "'engine': 'lxc' is not one of auto, podman, docker" in text
    assert "osci.yaml:7" in text and "two images for label 'box'" in text
    assert "'min-ready' is above 'max'" in text and "label 'other' has no image" in text
    assert "osci.yaml:9" in text and "'workdir': an absolute path" in text


def test_container_settings_load(tmp_path: Path):
    path = tmp_path / "osci.yaml"
    path.write_text(provider_yaml("boxes", "docker.io/library/python:3.11-slim", engine="auto", min_ready=1))
    spec = load_config(path).providers["boxes"].spec
    assert (spec.engine, spec.options, spec.workdir) == ("auto", ["--network=none"], "/tmp/osci")
    assert [(i.label, i.image, i.provides) for i in spec.images] == [
        ("box", "docker.io/library/python:3.11-slim", ["root"])
    ]
    assert (spec.labels[0].min_ready, spec.labels[0].max) == (1, 2)


def test_a_reload_changes_min_ready_max_and_options_in_place(podman: Podman, tmp_path, source):
    name = unique()
    pool = make_pool(tmp_path, provider_yaml(name, podman.image, min_ready=0, most=1))
    provider = pool.providers[name]
    assert isinstance(provider, ContainerProvider)

    async def reload(text: str) -> list[str]:
        (tmp_path / "osci.yaml").write_text(text)
        return await pool.reconfigure([p.spec for p in load_config(tmp_path / "osci.yaml").providers.values()])

    async def go() -> tuple[str, str, BuildRecord]:
        await pool.start()
        assert await reload(provider_yaml(name, podman.image, min_ready=1, most=3)) == [f"{name}: labels, ~{name}:box"]
        assert pool.nodes[f"{name}:box"].slots == 3
        [warm] = await asyncio.to_thread(wait_for, lambda: provider.warm("box"), 60, what="a warm container")
        # new `run` options: the warm container started with the old ones is replaced
        options = ("--network=none", "--env=RELOADED=yes")
        assert await reload(provider_yaml(name, podman.image, min_ready=1, most=3, options=options)) == [
            f"{name}: options"
        ]
        [again] = await asyncio.to_thread(
            wait_for, lambda: [c for c in provider.warm("box") if c != warm], 60, what="a warm container of the new options"
        )
        await asyncio.to_thread(wait_for, lambda: warm not in podman.containers(name), 30, what="the old one removed")
        record = await build(pool, source, box_job(Step(script='echo "reloaded=$RELOADED"')))
        (tmp_path / "osci.yaml").write_text(provider_yaml(name, podman.image, engine="docker"))
        [(_, why)] = pool.refused([p.spec for p in load_config(tmp_path / "osci.yaml").providers.values()])
        assert f"provider '{name}': 'engine' cannot change while the server runs" in why
        return warm, again, record

    try:
        warm, again, record = asyncio.run(go())
    finally:
        pool.close()
    text = output(tmp_path)
    assert record.result is Result.SUCCESS, text
    assert f"warm container {again[:12]}" in text and "reloaded=yes" in text
    assert podman.containers(name) == []
