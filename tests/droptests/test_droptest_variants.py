"""Variants files: a matrix or a list of combinations; errors name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from osci.executor.droptest_variants import VariantsError, load_variants, variant_label


def test_matrix_is_a_cartesian_product_with_sorted_keys(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("PARAM: [v1, v2]\nOTHER: [a, b]\n")
    variants = load_variants(str(path))
    assert [variant_label(v) for v in variants] == [
        "OTHER=a,PARAM=v1",
        "OTHER=a,PARAM=v2",
        "OTHER=b,PARAM=v1",
        "OTHER=b,PARAM=v2",
    ]


def test_values_are_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("PY: [3.10, 3.9]\nFLAG: yes\nEMPTY: ''\n")
    assert load_variants(str(path)) == [
        {"EMPTY": "", "FLAG": "yes", "PY": "3.10"},
        {"EMPTY": "", "FLAG": "yes", "PY": "3.9"},
    ]


def test_list_of_combinations(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("- {DB: sqlite}\n- DB: postgres\n  PY: '3.12'\n")
    assert load_variants(str(path)) == [{"DB": "sqlite"}, {"DB": "postgres", "PY": "3.12"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"v.yaml: the variants file is empty"),
        ("just text\n", r"v.yaml:1: expected a mapping .* or a list of mappings"),
        ("A: [1, 2]\nB: []\n", r"v.yaml:2: parameter B has an empty list of values"),
        ("A: [1, 2]\nB: [x, {y: 1}]\n", r"v.yaml:2: the value of B must be a plain value, not a mapping"),
        ("A: [1]\n2B: [1]\n", r"v.yaml:2: parameter name '2B' is not a valid environment variable name"),
        ("A: [1, 1]\n", r"v.yaml:1: parameter A repeats '1'"),
        ("OSCI_TEST_NAME: [x]\n", r"v.yaml:1: parameter name OSCI_TEST_NAME is reserved"),
        ("- {A: 1}\n- {A: 1}\n", r"v.yaml:2: combination \[A=1\] repeats the one on line 1"),
        ("- {A: 1}\n- 7\n", r"v.yaml:2: each combination must be a mapping"),
        ("- {A: 1}\n- {}\n", r"v.yaml:2: a combination must set at least one parameter"),
        ("A: [1, 2\nB: [3]\n", r"v.yaml:\d+: not valid YAML"),
        ("A: [1]\nA: [2]\n", r"v.yaml:2: parameter A is given twice"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(text)
    with pytest.raises(VariantsError, match=message):
        load_variants(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VariantsError, match=r"nope.yaml: cannot read the variants file"):
        load_variants(str(tmp_path / "nope.yaml"))
