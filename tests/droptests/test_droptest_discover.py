"""Which files are tests: executable, not hidden, not __pycache__, in sorted order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from droptests.helpers import write_test
from osci.executor.droptest_discover import DiscoveryError, discover


def test_executable_files_only_sorted_and_recursive(suite: Path) -> None:
    write_test(suite, "b.sh", "exit 0\n")
    write_test(suite, "a/z.py", "#!/usr/bin/env python3\n")
    write_test(suite, "a/notes.txt", "not a test\n", executable=False)
    write_test(suite, ".hidden.sh", "exit 1\n")
    write_test(suite, ".git/hooks/pre-commit", "exit 1\n")
    write_test(suite, "__pycache__/x.pyc", "exit 1\n")
    (suite / "link.sh").symlink_to(suite / "b.sh")  # the same file twice runs once
    names = [test.name for test in discover([str(suite)])]
    assert names == [f"{suite}/a/z.py", f"{suite}/b.sh"]


def test_names_are_relative_to_how_the_path_was_given(suite: Path) -> None:
    write_test(suite, "sub/t.sh", "exit 0\n")
    cwd = os.getcwd()
    try:
        os.chdir(suite)
        assert [test.name for test in discover(["."])] == ["sub/t.sh"]
        assert [test.name for test in discover(["sub/"])] == ["sub/t.sh"]
        assert [test.name for test in discover(["./sub/t.sh"])] == ["sub/t.sh"]
        assert discover(["sub"])[0].path == str(suite / "sub" / "t.sh")
    finally:
        os.chdir(cwd)


def test_a_single_file_and_a_folder_together(suite: Path) -> None:
    one = write_test(suite, "one/t.sh", "exit 0\n")
    write_test(suite, "two/t.sh", "exit 0\n")
    names = [test.name for test in discover([str(suite / "two"), str(one)])]
    assert names == [str(one), str(suite / "two" / "t.sh")]


def test_missing_path_and_non_executable_file_are_errors(suite: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such file or directory: .*nope"):
        discover([str(suite / "nope")])
    plain = write_test(suite, "plain.sh", "exit 0\n", executable=False)
    with pytest.raises(DiscoveryError, match="not an executable file: .*plain.sh .*chmod"):
        discover([str(plain)])


def test_header_is_read_and_a_bad_one_is_kept_as_an_error(suite: Path) -> None:
    write_test(suite, "good.sh", "# osci: tags=fast timeout=3\nexit 0\n")
    write_test(suite, "bad.sh", "# osci: colour=blue\nexit 0\n")
    tests = {Path(test.name).name: test for test in discover([str(suite)])}
    assert tests["good.sh"].header.tags == ("fast",)
    assert tests["good.sh"].header.timeout == 3.0
    assert tests["bad.sh"].header_error.startswith("bad osci header: line 2: unknown key 'colour'")
