"""YAML loading that remembers where every mapping key, value and list item was written.

Mappings load as `PosDict` and lists as `PosList`: plain dict/list subclasses carrying
`SourceLocation`s (1-based line and column). Anchors, aliases and `<<` merge keys work
as in PyYAML's SafeLoader; duplicate keys in one mapping are reported, not silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from osci.config.errors import ErrorList
from osci.model import SourceLocation


class PosDict(dict):
    """A mapping with the location of itself, each key and each value."""

    loc: SourceLocation
    key_locs: dict[Any, SourceLocation]
    value_locs: dict[Any, SourceLocation]


class PosList(list):
    """A list with the location of itself and of each item."""

    loc: SourceLocation
    item_locs: list[SourceLocation]


def _location(node: yaml.Node, filename: str) -> SourceLocation:
    mark = node.start_mark
    return SourceLocation(filename, mark.line + 1, mark.column + 1)


class _PositionLoader(yaml.SafeLoader):
    filename: str = "<string>"
    load_errors: ErrorList

    def construct_pos_mapping(self, node: yaml.MappingNode) -> PosDict:
        self._report_duplicate_keys(node)
        self.flatten_mapping(node)
        result = PosDict()
        result.loc = _location(node, self.filename)
        result.key_locs = {}
        result.value_locs = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                self.load_errors.add(_location(key_node, self.filename), "a mapping key must be a scalar")
                continue
            result[key] = self.construct_object(value_node, deep=True)
            result.key_locs[key] = _location(key_node, self.filename)
            result.value_locs[key] = _location(value_node, self.filename)
        return result

    def construct_pos_sequence(self, node: yaml.SequenceNode) -> PosList:
        result = PosList(self.construct_object(child, deep=True) for child in node.value)
        result.loc = _location(node, self.filename)
        result.item_locs = [_location(child, self.filename) for child in node.value]
        return result

    def _report_duplicate_keys(self, node: yaml.MappingNode) -> None:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                self.load_errors.add(
                    _location(key_node, self.filename), f"duplicate key '{key_node.value}' in this mapping"
                )
            seen.add(key_node.value)


_PositionLoader.add_constructor("tag:yaml.org,2002:map", _PositionLoader.construct_pos_mapping)
_PositionLoader.add_constructor("tag:yaml.org,2002:seq", _PositionLoader.construct_pos_sequence)


def load_yaml(text: str, filename: str, errors: ErrorList) -> Any:
    """Parse YAML text; syntax errors go to `errors` with their position and None is returned."""
    loader = _PositionLoader(text)
    loader.filename = filename
    loader.load_errors = errors
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        if (
            exc.context_mark is not None
            and exc.problem_mark is not None
            and exc.context_mark.line != mark.line
        ):
            problem += f" (the construct started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        label = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        errors.add(SourceLocation(filename, line, column), f"{label}: {problem}")
    except yaml.YAMLError as exc:
        errors.add(SourceLocation(filename, 1, 1), f"YAML error: {exc}")
    finally:
        loader.dispose()
    return None


def load_yaml_file(path: Path, errors: ErrorList) -> Any:
    """Read and parse one file; unreadable files are reported as errors too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.add(SourceLocation(str(path), 1, 1), f"cannot read file: {exc}")
        return None
    return load_yaml(text, str(path), errors)


def plain(value: Any) -> Any:
    """The same data as plain dicts and lists (no positions), e.g. for vars and JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
