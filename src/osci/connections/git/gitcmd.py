"""Running git without blocking the event loop, with secrets kept out of messages."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

# user:password@ in a URL; kept out of logs and exceptions.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """`text` with any URL credentials (`https://user:token@host`) replaced by `***`."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class GitError(RuntimeError):
    """A git command failed; the message holds git's own explanation (credentials redacted)."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a poll
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


async def git(*args: str, cwd: Path | None = None, timeout: float = 300) -> bytes:
    """Run `git args...` and return its stdout; raise GitError on failure or timeout."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "core.quotePath=false",
        *args,
        cwd=str(cwd) if cwd else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        raise GitError(f"git {args[0]} timed out after {timeout:g}s") from None
    finally:
        if proc.returncode is None:  # timed out or cancelled: leave no git behind
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {proc.returncode}"
        raise GitError(redact(f"git {args[0]}: {detail}"))
    return out


def nul_split(out: bytes) -> list[str]:
    """Names from `-z` output, in order, without empties or repeats."""
    seen: dict[str, None] = {}
    for name in out.decode(errors="surrogateescape").split("\0"):
        name = name.strip("\n")
        if name:
            seen.setdefault(name, None)
    return list(seen)
