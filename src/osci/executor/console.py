"""The console log (`job-output.txt`): timestamped lines, bounded memory, safe with any bytes.

Every line written is prefixed with a UTC timestamp (`2026-11-23 08:40:01.123456 | `)
and handed to an optional `on_output` callback as it is written (for live streams).
Step output is fed as raw bytes through a `LineSplitter`, which keeps at most one
partial line (never more than `MAX_LINE` bytes), so a step printing gigabytes,
a single endless line or binary garbage costs a bounded amount of memory.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

MAX_LINE = 16 * 1024  # bytes; longer lines are split

# Control characters (except tab) are shown escaped, so NUL, ESC, BEL... cannot break a viewer.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x09}


_STAMPED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \| ")


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def clean_line(raw: bytes) -> str:
    """Decode one line of step output into safe text: invalid UTF-8 and control characters escaped."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="backslashreplace").translate(_CONTROL)


def _cut_point(data: bytes | bytearray, limit: int) -> int:
    """Where to cut a too-long line: at `limit`, backed off so a UTF-8 character is not split."""
    cut = limit
    for _ in range(3):
        if cut > 0 and 0x80 <= data[cut] <= 0xBF:  # continuation byte: back off
            cut -= 1
        else:
            break
    return cut if cut > 0 else limit


class LineSplitter:
    """Turns a stream of byte chunks into complete, cleaned lines, holding at most MAX_LINE bytes."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._partial = b""
        self._consumed = 0

    def feed(self, data: bytes) -> list[str]:
        if self._partial:
            data = self._partial + data
        parts = data.split(b"\n")
        rest = parts.pop()
        lines: list[str] = []
        for part in parts:
            lines.extend(self._split_long(part))
            lines.append(clean_line(part[self._consumed :]))
        if len(rest) >= self._max:
            lines.extend(self._split_long(rest))
            rest = rest[self._consumed :]
        self._partial = rest
        return lines

    def flush(self) -> list[str]:
        """Return the partial last line (output that did not end with a newline), if any."""
        rest, self._partial = self._partial, b""
        return [clean_line(rest)] if rest else []

    def _split_long(self, part: bytes) -> list[str]:
        """Lines of at most MAX_LINE bytes cut from the front of `part`; sets how much was consumed."""
        out: list[str] = []
        start = 0
        while len(part) - start > self._max:
            cut = start + _cut_point(part[start : start + self._max + 1], self._max)
            out.append(clean_line(part[start:cut]))
            start = cut
        self._consumed = start
        return out


class Console:
    """Thread-safe writer of the console log; lines go to the file and to `on_output`."""

    def __init__(self, path: Path, on_output: Callable[[str], None] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        self._on_output = on_output
        self._lock = threading.Lock()
        self._callback_failed = False

    def lines(self, lines: list[str]) -> None:
        """Write already-cleaned lines; they share one timestamp (they arrived together)."""
        if not lines:
            return
        stamp = timestamp()
        with self._lock:
            if self._file.closed:
                return
            for line in lines:
                text = f"{stamp} | {line}"
                self._file.write(text + "\n")
                self._emit(text)
            self._file.flush()

    def stamped(self, lines: list[str]) -> None:
        """Write lines that already carry their timestamp (an agent's console, streamed here);
        a line without a well-formed stamp gets one, and control characters are escaped again."""
        if not lines:
            return
        now = timestamp()
        with self._lock:
            if self._file.closed:
                return
            for raw in lines:
                line = clean_line(raw.encode("utf-8", "replace")[: MAX_LINE + 32])
                if not _STAMPED.match(line):
                    line = f"{now} | {line}"
                self._file.write(line + "\n")
                self._emit(line)
            self._file.flush()

    def note(self, text: str) -> None:
        """Write osci's own message (headers, exit statuses, warnings); may span several lines."""
        self.lines([clean_line(part.encode("utf-8", "replace")) for part in text.splitlines() or [""]])

    def _emit(self, text: str) -> None:
        if self._on_output is None or self._callback_failed:
            return
        try:
            self._on_output(text)
        except Exception as exc:  # a broken live stream must not break the build
            self._callback_failed = True
            self._file.write(f"{timestamp()} | osci: live output callback failed, disabled: {exc!r}\n")

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
