"""YAML loading keeps file, line and column of keys, values and items."""

from __future__ import annotations

from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict, PosList, load_yaml


def _load(text: str):
    errors = ErrorList()
    return load_yaml(text, "f.yaml", errors), errors


def test_keys_values_and_items_have_positions() -> None:
    data, errors = _load("- job:\n    name: a\n    tags: [x, y]\n")
    assert not errors
    assert isinstance(data, PosList)
    job = data[0]["job"]
    assert isinstance(job, PosDict)
    assert str(job.key_locs["name"]) == "f.yaml:2:5"
    assert str(job.value_locs["name"]) == "f.yaml:2:11"
    assert [str(loc) for loc in job["tags"].item_locs] == ["f.yaml:3:12", "f.yaml:3:15"]
    assert str(data.item_locs[0]) == "f.yaml:1:3"


def test_anchors_aliases_and_merge_keys() -> None:
    text = (
        "- job:\n"
        "    name: a\n"
        "    vars: &common {x: 1, y: {z: 2}}\n"
        "- job:\n"
        "    name: b\n"
        "    vars:\n"
        "      <<: *common\n"
        "      x: 3\n"
        "- job:\n"
        "    name: c\n"
        "    vars: *common\n"
    )
    data, errors = _load(text)
    assert not errors
    assert data[1]["job"]["vars"] == {"x": 3, "y": {"z": 2}}
    assert data[2]["job"]["vars"] == {"x": 1, "y": {"z": 2}}
    merged = data[1]["job"]["vars"]
    assert merged.key_locs["x"].line == 8  # its own key wins and keeps its own position
    assert merged.key_locs["y"].line == 3  # merged key points at the anchor


def test_duplicate_keys_are_reported() -> None:
    _, errors = _load("- job:\n    name: a\n    name: b\n")
    assert [(e.location.line, e.message) for e in errors.items] == [
        (3, "duplicate key 'name' in this mapping")
    ]


def test_syntax_error_has_a_position_and_no_traceback() -> None:
    data, errors = _load("- job:\n    name: a\n   bad: x\n")
    assert data is None
    (error,) = errors.items
    assert error.location.file == "f.yaml"
    assert error.location.line == 3
    assert error.message.startswith("YAML syntax error:")
