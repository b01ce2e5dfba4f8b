"""Running git from asyncio code without stalling the event loop.

asyncio's own subprocesses fork from the loop's thread; with hundreds of git calls a
second (a busy server) that fork cost alone saturates the loop. Here each call runs
`subprocess.run` in a worker thread instead, so the loop only awaits the result.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="osci-git")


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


class GitFailed(RuntimeError):
    def __init__(self, args: tuple[str, ...], returncode: int | None, stderr: str) -> None:
        self.args_ = args
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(stderr)


def _run(
    args: tuple[str, ...], cwd: str | None, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-c", "core.quotePath=false", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={**git_env(), **(env or {})},
        timeout=timeout,
    )


async def run_git(
    *args: str, cwd: str | Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> bytes:
    """stdout of `git args...`; raises GitFailed (with git's stderr) or TimeoutError.

    `env` is added to git's environment (credentials a connection gives for one fetch, say)."""
    loop = asyncio.get_running_loop()
    try:
        done = await loop.run_in_executor(_POOL, _run, args, str(cwd) if cwd else None, timeout, env)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"git {args[0]} timed out after {timeout:g}s") from None
    if done.returncode != 0:
        raise GitFailed(args, done.returncode, done.stderr.decode(errors="replace"))
    return done.stdout
