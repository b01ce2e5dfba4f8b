"""Variants: run every test once per combination of parameters, read from a YAML file.

Two forms are accepted:

    # a matrix: the cartesian product of the lists
    PYTHON: ["3.11", "3.12"]
    DB: [sqlite, postgres]

    # or a list of explicit combinations
    - {PYTHON: "3.11", DB: sqlite}
    - {PYTHON: "3.12", DB: postgres}

Each parameter becomes an environment variable of the test; its name shows the
combination with the keys sorted: `tests/db.sh[DB=sqlite,PYTHON=3.11]`. Values are
taken as written (`3.10` stays `3.10`, `yes` stays `yes`).
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml

Variant = dict[str, str]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = ("OSCI_TEST_NAME", "OSCI_TEST_TIMEOUT", "OSCI_TREE")


class VariantsError(ValueError):
    """A variants file that cannot be used; the message names the file and line."""


def load_variants(path: str) -> list[Variant]:
    """The combinations in the YAML file at `path`, each a mapping with sorted keys."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise VariantsError(f"{path}: cannot read the variants file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise VariantsError(f"{path}: the variants file is not UTF-8 text") from None
    return parse_variants(text, path)


def parse_variants(text: str, path: str = "<variants>") -> list[Variant]:
    import yaml  # here, not at the top: `osci test` without --variants starts faster

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise VariantsError(f"{path}{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise VariantsError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if root is None:
        raise VariantsError(f"{path}: the variants file is empty")
    if isinstance(root, yaml.MappingNode):
        variants = _matrix(root, path)
    elif isinstance(root, yaml.SequenceNode):
        variants = _explicit(root, path)
    else:
        raise VariantsError(
            f"{_where(path, root)}: expected a mapping of parameters to lists of values (a matrix) "
            "or a list of mappings (explicit combinations)"
        )
    return variants


def variant_label(variant: Variant) -> str:
    """`A=1,B=2`: how a variant appears in a test's name."""
    return ",".join(f"{key}={value}" for key, value in variant.items())


def _matrix(root: yaml.MappingNode, path: str) -> list[Variant]:
    if not root.value:
        raise VariantsError(f"{_where(path, root)}: the matrix has no parameters")
    axes: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for key_node, value_node in root.value:
        key = _key(key_node, path, seen)
        if value_node.id == "sequence":
            if not value_node.value:
                raise VariantsError(
                    f"{_where(path, value_node)}: parameter {key} has an empty list of values"
                )
            values = [_scalar(item, path, key) for item in value_node.value]
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise VariantsError(f"{_where(path, value_node)}: parameter {key} repeats {duplicates[0]!r}")
        else:
            values = [_scalar(value_node, path, key)]  # a single value: a parameter with one value
        axes.append((key, values))
    axes.sort()
    names = [key for key, _ in axes]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]


def _explicit(root: yaml.SequenceNode, path: str) -> list[Variant]:
    if not root.value:
        raise VariantsError(f"{_where(path, root)}: the list of combinations is empty")
    variants: list[Variant] = []
    labels: dict[str, int] = {}
    for item in root.value:
        if item.id != "mapping":
            raise VariantsError(
                f"{_where(path, item)}: each combination must be a mapping such as {{A: 1, B: x}}"
            )
        if not item.value:
            raise VariantsError(f"{_where(path, item)}: a combination must set at least one parameter")
        seen: set[str] = set()
        pairs = [(_key(k, path, seen), _scalar(v, path, k.value)) for k, v in item.value]
        variant = dict(sorted(pairs))
        label = variant_label(variant)
        line = item.start_mark.line + 1
        if label in labels:
            raise VariantsError(
                f"{path}:{line}: combination [{label}] repeats the one on line {labels[label]}"
            )
        labels[label] = line
        variants.append(variant)
    return variants


def _key(node: yaml.Node, path: str, seen: set[str]) -> str:
    if node.id != "scalar" or not _ENV_NAME.match(str(node.value)):
        shown = node.value if node.id == "scalar" else "a " + node.id
        raise VariantsError(
            f"{_where(path, node)}: parameter name {shown!r} is not a valid environment variable name "
            "(letters, digits and _, not starting with a digit)"
        )
    key = str(node.value)
    if key in _RESERVED:
        raise VariantsError(f"{_where(path, node)}: parameter name {key} is reserved by osci")
    if key in seen:
        raise VariantsError(f"{_where(path, node)}: parameter {key} is given twice")
    seen.add(key)
    return key


def _scalar(node: yaml.Node, path: str, key: str) -> str:
    if node.id != "scalar":
        raise VariantsError(
            f"{_where(path, node)}: the value of {key} must be a plain value, not a {node.id}"
        )
    # The text as written: an environment variable is text, and YAML would turn 3.10 into 3.1.
    return str(node.value)


def _where(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"
