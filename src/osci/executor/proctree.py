"""Find and kill every process a step started, daemons included.

Each step runs in its own process group (so `killpg` reaches ordinary children)
and with a marker variable in its environment (so a child that called `setsid`
or double-forked away from the group is still found by scanning `/proc`). This
is the same idea as Jenkins' ProcessTreeKiller, and needs no cgroups or root.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid

MARKER_VAR = "OSCI_TREE"


def new_marker() -> str:
    return uuid.uuid4().hex


def marker_env(marker: str) -> dict[str, str]:
    return {MARKER_VAR: marker}


def _pids_with_marker(marker: str, variable: str = MARKER_VAR) -> list[int]:
    needle = f"{variable}={marker}".encode()
    me = os.getpid()
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(pid)
    return found


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def survivors(marker: str) -> list[int]:
    """Live processes (not zombies) that carry the marker."""
    alive = []
    for pid in _pids_with_marker(marker):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z":
            alive.append(pid)
    return alive


def kill_tree(pgid: int | None, marker: str | None, grace: float = 2.0) -> None:
    """SIGTERM the group and every marked process, then SIGKILL what is left after `grace` seconds."""
    if pgid is not None:
        _signal_group(pgid, signal.SIGTERM)
    if marker is not None:
        _signal_pids(survivors(marker), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        left = survivors(marker) if marker is not None else []
        group_alive = pgid is not None and _group_alive(pgid)
        if not left and not group_alive:
            return
        time.sleep(0.02)
    if pgid is not None:
        _signal_group(pgid, signal.SIGKILL)
    if marker is not None:
        # A process may fork between the scan and the kill: repeat until nothing is left.
        for _ in range(50):
            left = survivors(marker)
            if not left:
                break
            _signal_pids(left, signal.SIGKILL)
            time.sleep(0.01)


def kill_group_now(pgid: int) -> None:
    """SIGKILL a process group without waiting (used after a step that exited normally)."""
    _signal_group(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """True while the group has a live member; zombies (e.g. our own unreaped step) do not count."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = None
    if entries is None:
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


def kill_by_variable(variable: str, value: str) -> int:
    """SIGKILL every process whose environment has `variable=value`; returns how many.

    Used after a crash: a restarted server kills what the interrupted builds left running
    (their steps carry `OSCI_BUILD=<uuid>`), since the old process can no longer do it.
    """
    killed = 0
    for _ in range(50):
        pids = _pids_with_marker(value, variable)
        if not pids:
            break
        _signal_pids(pids, signal.SIGKILL)
        killed += len(pids)
        time.sleep(0.01)
    return killed
