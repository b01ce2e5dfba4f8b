"""The `osci:` header: any comment syntax, merged lines, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from osci.executor.droptest_header import (
    EMPTY,
    Header,
    HeaderError,
    parse_duration,
    parse_header,
    read_header,
)


def test_shell_comment_with_all_keys() -> None:
    header = parse_header("#!/bin/sh\n# osci: tags=fast,net requires=root,kvm timeout=30\nexit 0\n")
    assert header == Header(tags=("fast", "net"), requires=("root", "kvm"), timeout=30.0)


@pytest.mark.parametrize(
    "line",
    [
        "// osci: tags=fast",
        "-- osci: tags=fast",
        "; osci: tags=fast",
        "% osci: tags=fast",
        "/* osci: tags=fast */",
        "<!-- osci: tags=fast -->",
        "REM osci: tags=fast",
        "   ##  osci:   tags=fast   ",
    ],
)
def test_any_comment_syntax(line: str) -> None:
    assert parse_header(f"first line\n{line}\n").tags == ("fast",)


def test_several_lines_merge_and_duplicates_go() -> None:
    header = parse_header("# osci: tags=a,b\n# osci: tags=b,c requires=x\n# osci: timeout=5m\n")
    assert header == Header(tags=("a", "b", "c"), requires=("x",), timeout=300.0)


def test_no_header_and_uncommented_text_are_ignored() -> None:
    assert parse_header("#!/bin/sh\necho 'osci: tags=x'\n") == EMPTY
    assert parse_header("") == EMPTY


def test_header_must_be_near_the_top() -> None:
    text = "#!/bin/sh\n" + "echo\n" * 30 + "# osci: tags=late\n"
    assert parse_header(text) == EMPTY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# osci: color=red", "line 1: unknown key 'color'"),
        ("\n# osci: tags", "line 2: expected key=value"),
        ("# osci: timeout=soon", "timeout: expected a number of seconds"),
        ("# osci: timeout=0", "must be above zero"),
        ("# osci: requires=", "requires= needs at least one name"),
        ("# osci: tags=a;b", "bad name 'a;b'"),
    ],
)
def test_bad_headers_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(HeaderError, match=message):
        parse_header(text)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30", 30.0), ("2.5", 2.5), ("500ms", 0.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0)],
)
def test_durations(value: str, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_read_header_from_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"\x7fELF\x00\xff\xfe" * 2000)
    assert read_header(str(path)) == EMPTY
    path.write_bytes(b"#!/usr/bin/env python3\n# osci: requires=gpu\n\xff\xfe\n")
    assert read_header(str(path)).requires == ("gpu",)
