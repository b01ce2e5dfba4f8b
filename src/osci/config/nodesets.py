"""Nodesets: the nodes a job needs, by label and required capabilities."""

from __future__ import annotations

from dataclasses import dataclass

from osci.config.check import Section, as_section, item_locations, kind
from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict
from osci.model import NodeRequest, Nodeset, SourceLocation

NODE_KEYS = ("name", "label", "requires")


@dataclass
class NodesetDef:
    nodeset: Nodeset
    location: SourceLocation
    name_location: SourceLocation


def parse_nodes(section: Section) -> tuple[NodeRequest, ...] | None:
    """The `nodes` list of a nodeset mapping (named or inline)."""
    if not section.has("nodes"):
        return ()
    value = section.data["nodes"]
    if not isinstance(value, list):
        section.error("nodes", f"{section.what}: 'nodes': expected a list of nodes, got {kind(value)}")
        return None
    nodes: list[NodeRequest] = []
    seen: set[str] = set()
    ok = True
    for item, loc in zip(value, item_locations(value, section.value_loc("nodes")), strict=True):
        node = as_section(section.errors, item, loc, f"{section.what} node")
        if node is None:
            ok = False
            continue
        node.check_keys(NODE_KEYS, required=("name", "label"))
        name, label = node.str("name"), node.str("label")
        requires = node.str_list("requires", "a capability or a list of capabilities") or []
        if name is None or label is None:
            ok = False
            continue
        if name in seen:
            section.errors.add(node.value_loc("name"), f"{section.what}: duplicate node name '{name}'")
            ok = False
        seen.add(name)
        nodes.append(NodeRequest(name=name, label=label, requires=tuple(requires)))
    return tuple(nodes) if ok else None


def parse_nodeset(errors: ErrorList, body: PosDict, location: SourceLocation) -> NodesetDef | None:
    """A top-level `- nodeset: {name, nodes}` object."""
    section = Section(errors, body, "nodeset")
    section.check_keys(("name", "nodes"), required=("name",))
    name = section.str("name")
    if name is not None:
        section.what = f"nodeset '{name}'"
    nodes = parse_nodes(section)
    if name is None or nodes is None:
        return None
    return NodesetDef(Nodeset(name=name, nodes=nodes), location, section.value_loc("name"))


def parse_inline_nodeset(section: Section, key: str) -> str | Nodeset | None:
    """A job's `nodeset`: the name of a nodeset, or an inline `{nodes: [...]}`."""
    value = section.data[key]
    if isinstance(value, str) and value:
        return value
    if isinstance(value, PosDict):
        inline = Section(section.errors, value, f"{section.what} nodeset")
        inline.check_keys(("nodes",))
        nodes = parse_nodes(inline)
        return None if nodes is None else Nodeset(name=None, nodes=nodes)
    section.error(
        key, f"{section.what}: '{key}': expected a nodeset name or a mapping with 'nodes', got {kind(value)}"
    )
    return None
