"""The post-receive hook that tells an osci server a repository changed.

The hook never fails a push: the refs are already updated when post-receive runs, and a
server that is down only gets a one-line warning on the pusher's terminal (the next poll
catches the change anyway). An existing hook is kept, renamed to
`post-receive.osci-chained`, and run first with the same input.
"""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

MARKER = "# osci post-receive hook"
CHAINED = "post-receive.osci-chained"

_PYTHON_POST = (
    "import sys, urllib.request; "
    "r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), "
    "headers={'Content-Type': 'application/json'}, method='POST'); "
    "urllib.request.urlopen(r, timeout=10).read()"
)


class HookError(ValueError):
    """The hook cannot be installed; the message says why."""


def notify_url(server: str, connection: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HookError(f"--server must be an http(s) URL such as http://127.0.0.1:8080, got {server!r}")
    if not connection:
        raise HookError("--connection must name the server's git connection")
    return f"{server.rstrip('/')}/api/connection/{quote(connection, safe='')}/notify"


def hook_script(url: str, project: str | None) -> str:
    payload = json.dumps({"project": project} if project else {})
    q_url, q_payload = shlex.quote(url), shlex.quote(payload)
    return f"""#!/bin/sh
{MARKER} (written by `osci hook install`; edits are overwritten).
# Notifies {url} so the server polls now; never fails the push.
hookdir=$(dirname "$0")
status=0
if [ -x "$hookdir/{CHAINED}" ]; then
    "$hookdir/{CHAINED}" "$@"
    status=$?
else
    cat >/dev/null
fi
url={q_url}
payload={q_payload}
if command -v curl >/dev/null 2>&1; then
    curl -fsS --connect-timeout 5 --max-time 15 -X POST -H 'Content-Type: application/json' \\
        --data "$payload" "$url" >/dev/null 2>&1 && exit $status
elif command -v python3 >/dev/null 2>&1; then
    python3 -c {shlex.quote(_PYTHON_POST)} "$url" "$payload" >/dev/null 2>&1 && exit $status
fi
echo "osci: could not notify $url; the server will see this push at its next poll" >&2
exit $status
"""


def hooks_dir(repo: Path) -> Path:
    """The hooks folder of `repo` (bare or not; honours core.hooksPath)."""
    if not repo.is_dir():
        raise HookError(f"{repo}: no such folder")
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--git-path", "hooks"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except FileNotFoundError:
        raise HookError("git is not installed") from None
    except subprocess.CalledProcessError:
        raise HookError(f"{repo}: not a git repository") from None
    return (repo / out).resolve()


def install(repo: Path, server: str, connection: str, project: str | None = None) -> Path:
    """Write the osci post-receive hook into `repo`, chaining any hook already there."""
    script = hook_script(notify_url(server, connection), project)
    folder = hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    hook, chained = folder / "post-receive", folder / CHAINED
    if hook.exists() and MARKER not in hook.read_text(errors="replace"):
        if chained.exists():
            raise HookError(f"{hook} is not osci's and {chained} already exists; move one of them away first")
        hook.rename(chained)
        chained.chmod(chained.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp = folder / "post-receive.osci-tmp"
    tmp.write_text(script)
    tmp.chmod(0o755)
    tmp.replace(hook)
    return hook
