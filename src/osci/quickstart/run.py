"""Create the example, start the server in this process, push three commits, show their builds."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import click

from osci.quickstart import content
from osci.server.app import Server, ServerSettings

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Quick Start",
    "GIT_AUTHOR_EMAIL": "quickstart@example.org",
    "GIT_COMMITTER_NAME": "Quick Start",
    "GIT_COMMITTER_EMAIL": "quickstart@example.org",
}


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, **GIT_IDENTITY)
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def write_files(work: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name in content.EXECUTABLE:
            path.chmod(0o755)


def prepare(folder: Path) -> tuple[Path, Path]:
    """The bare repository the server watches, a work tree to push from, and osci.yaml."""
    repos, work = folder / "repos", folder / "work" / "example"
    if (repos / "example.git").exists():
        raise click.ClickException(f"{folder} already holds a quickstart; remove it or name another folder")
    repos.mkdir(parents=True)
    git(folder, "init", "-q", "--bare", "-b", "main", str(repos / "example.git"))
    git(folder, "clone", "-q", str(repos / "example.git"), str(work))
    git(work, "checkout", "-q", "-B", "main")
    config = folder / "osci.yaml"
    config.write_text(content.CENTRAL_CONFIG.format(repos=repos.resolve()))
    return work, config


async def wait_for_builds(server: Server, sha: str, timeout: float = 300) -> list:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        builds = await server.db(server.store.list_builds, project="example", limit=100)
        mine = [b for b in builds if b.newrev == sha]
        if mine and all(b.result for b in mine):
            return mine
        await asyncio.sleep(0.2)
    raise click.ClickException(f"the builds of {sha[:12]} did not finish in {timeout:.0f}s")


async def quickstart(folder: Path, port: int, once: bool) -> int:
    work, config = prepare(folder)
    settings = ServerSettings(config_path=config, data_dir=folder / "data", listen=f"127.0.0.1:{port}")
    server = Server(settings)
    running = asyncio.create_task(server.run())
    started = asyncio.create_task(server.started.wait())
    await asyncio.wait({running, started}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        return running.result()
    git_connection = server.connections["local"]
    results = []
    files = dict(content.BASE_FILES)
    for message, changed, expected in content.COMMITS:
        files.update(changed)
        write_files(work, files)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        sha = git(work, "rev-parse", "HEAD")
        git(work, "push", "-q", "origin", "main")
        click.echo(f"pushed {sha[:12]} {message!r}: expect {expected}")
        await git_connection.notify({"project": "example"})  # what a post-receive hook would do
        for build in await wait_for_builds(server, sha):
            results.append((sha, build))
    click.echo("")
    click.echo(f"{'COMMIT':12}  {'JOB':10}  {'RESULT':11}  {'ATTEMPTS':8}  {'TESTS':18}  LOG")
    for sha, build in results:
        tests = f"{build.tests_passed} passed, {build.tests_failed} failed"
        click.echo(
            f"{sha[:12]}  {build.job:10}  {build.result:11}  {build.attempts_count:<8}  {tests:18}  {build.log_url}"
        )
    click.echo("")
    click.echo(f"osci is serving its dashboard at {settings.public_url()}/  (API: {settings.public_url()}/api/status)")
    click.echo(f"example repository: {work}  (push to it and watch the builds)")
    if once:
        server.stop()
    else:
        click.echo("Ctrl-C stops the server.")
    return await running


@click.command("quickstart")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=Path("osci-quickstart"))
@click.option("--port", type=int, default=8411, show_default=True, help="Port of the server on 127.0.0.1.")
@click.option("--once", is_flag=True, help="Exit after the three builds instead of serving.")
def quickstart_command(folder: Path, port: int, once: bool) -> None:
    """Create an example repository and configuration in FOLDER, start the server, push three
    commits (one passing, one with a failing test, one with a broken setup step) and show their builds."""
    from osci.server.logs import setup

    setup("text")
    folder.mkdir(parents=True, exist_ok=True)
    raise SystemExit(asyncio.run(quickstart(folder.resolve(), port, once)))
