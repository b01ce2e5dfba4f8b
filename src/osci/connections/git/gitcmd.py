"""Running git without blocking the event loop, with secrets kept out of messages."""

from __future__ import annotations

import re
from pathlib import Path

from osci.gitproc import GitFailed, run_git

# user:password@ in a URL; kept out of logs and exceptions.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """`text` with any URL credentials (`https://user:token@host`) replaced by `***`."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class GitError(RuntimeError):
    """A git command failed; the message holds git's own explanation (credentials redacted)."""


async def git(*args: str, cwd: Path | None = None, timeout: float = 300) -> bytes:
    """Run `git args...` and return its stdout; raise GitError on failure or timeout."""
    try:
        return await run_git(*args, cwd=cwd, timeout=timeout)
    except TimeoutError:
        raise GitError(f"git {args[0]} timed out after {timeout:g}s") from None
    except GitFailed as exc:
        message = exc.stderr.strip().splitlines()
        detail = message[-1] if message else f"exit status {exc.returncode}"
        raise GitError(redact(f"git {args[0]}: {detail}")) from None


def nul_split(out: bytes) -> list[str]:
    """Names from `-z` output, in order, without empties or repeats."""
    seen: dict[str, None] = {}
    for name in out.decode(errors="surrogateescape").split("\0"):
        name = name.strip("\n")
        if name:
            seen.setdefault(name, None)
    return list(seen)
