"""Typed lineage between versions: a DAG of records named by hash (tamper-evident).

Edges live in three places: in a version's own record (its parents, fixed at
registration, and the versions its card pins as used: training data, recipe, ...;
see USES) and in lineage-edge records added later (`model lineage add`),
each under a ref lineage/<kind>/<name>/<version>/<edge>. The reverse direction
(children of a record) is the LMDB index "lineage", kept in step inside the same
ref transactions and rebuilt by `pacha reindex`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import porcelain.layout as layout
from porcelain.core import Core
from porcelain.errors import InvalidInput
from porcelain.records import ParentEdge, is_pinned
from porcelain.wording import say

INDEX = layout.LINEAGE_INDEX

# relation -> (what the --from versions are, params: name -> kind, required?)
MODEL_RELATIONS: dict[str, tuple[str, dict[str, tuple[str, bool]]]] = {
    "fine-tuned": ("parent", {"recipe": ("ref:recipe", False)}),
    "distilled": ("teacher", {"temperature": ("positive", True)}),
    "merged": ("sources", {"weights": ("weights", True)}),
    "quantized": ("source", {"quantization": ("text", True)}),
    "pruned": ("source", {"sparsity": ("fraction", True)}),
}
DATASET_RELATIONS: dict[str, tuple[str, dict[str, tuple[str, bool]]]] = {
    "derived": ("source", {"transform": ("text", True)}),
}


def relations(kind: str) -> dict[str, tuple[str, dict[str, tuple[str, bool]]]]:
    return MODEL_RELATIONS if kind == "model" else DATASET_RELATIONS


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {pair!r}: use NAME=VALUE, e.g. temperature=2.0")  # CLI only
        out[key.strip()] = value.strip()
    return out


def build_edges(
    kind: str, relation: str, parent_ids: list[str], raw: dict[str, str], resolve_recipe: Any = None
) -> list[ParentEdge]:
    """Validate a relation and its parameters; one edge per parent."""
    table = relations(kind)
    if relation not in table:
        raise InvalidInput(f"unknown relation {relation!r}: use {', '.join(table)}")
    role, spec = table[relation]
    if not parent_ids:
        raise InvalidInput(f"a {relation} edge needs {_from()} (the {role})")
    if relation == "merged":
        if len(parent_ids) < 2:
            raise InvalidInput(f"a merged model needs at least two sources in {_from()}")
    elif len(parent_ids) != 1:
        raise InvalidInput(f"a {relation} edge takes exactly one source in {_from()} (the {role})")
    for key in raw:
        if key not in spec:
            allowed = ", ".join(spec) or "none"
            raise InvalidInput(f"{relation} does not take {_param(key)}; it takes: {allowed}")
    params: dict[str, Any] = {}
    for key, (kind_of, required) in spec.items():
        if key not in raw:
            if required:
                raise InvalidInput(f"a {relation} edge needs {_param(key)}=... ({_hint(kind_of)})")
            continue
        params[key] = _convert(relation, key, kind_of, raw[key], len(parent_ids), resolve_recipe)
    if relation == "merged":
        weights = params.pop("weights")
        return [ParentEdge(relation, pid, {"weight": w}) for pid, w in zip(parent_ids, weights, strict=True)]
    return [ParentEdge(relation, parent_ids[0], params)]


def _from() -> str:
    return say("--from", "parents")


def _param(key: str) -> str:
    return say(f"--param {key}", f"params[{key!r}]")


def _hint(kind_of: str) -> str:
    return {
        "positive": "a number > 0",
        "fraction": "a number from 0 to 1",
        "weights": "one comma-separated number per source",
        "text": "a non-empty text",
        "ref:recipe": "a registered recipe NAME:VER",
    }[kind_of]


def _number(relation: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{relation}: {_param(key)}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{relation}: {_param(key)} must be a finite number")
    return value


def _convert(relation: str, key: str, kind_of: str, text: str, sources: int, resolve_recipe: Any) -> Any:
    if kind_of == "positive":
        value = _number(relation, key, text)
        if value <= 0:
            raise InvalidInput(f"{relation}: {key} must be > 0, not {text}")
        return value
    if kind_of == "fraction":
        value = _number(relation, key, text)
        if not 0 <= value <= 1:
            raise InvalidInput(f"{relation}: {key} must be between 0 and 1, not {text}")
        return value
    if kind_of == "weights":
        weights = [_number(relation, key, part) for part in text.split(",") if part.strip()]
        if len(weights) != sources:
            raise InvalidInput(
                f"merged: {len(weights)} weight(s) for {sources} sources; give one per source in {_from()}"
            )
        if any(w < 0 for w in weights):
            raise InvalidInput("merged: weights must not be negative")
        return weights
    if kind_of == "ref:recipe":
        if resolve_recipe is None:
            raise InvalidInput(f"{relation}: cannot resolve recipe {text!r}")
        return resolve_recipe(text)
    if not text:
        raise InvalidInput(f"{relation}: {_param(key)} must not be empty")
    return text


@dataclass(frozen=True)
class Edge:
    child: str  # record id
    parent: str  # record id
    relation: str
    params: dict[str, Any] = field(default_factory=dict)
    holder: str = ""  # the record that states the edge (the child, or a lineage-edge record)


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    name: str
    version: str
    state: str  # stage, or "deleted" when no ref names this record any more

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass
class Graph:
    root: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


# Card fields that pin another version (models: Model Card; recipes: their data): the
# record's own statement that it used that version. Their edges carry the field's name
# as relation. Runs (card "run", "generated_by") are not versions: provenance shows them.
USES = (
    "training_data",
    "evaluation_data",
    "training_recipe",
    "parent_model",
    "derived_from",
    "train_data",
    "validation_data",
)


def uses_of(record: Any) -> list[tuple[str, str]]:
    """(card field, record id) for every version record's card pins, in USES order."""
    out = []
    for key in USES:
        value = record.card.get(key)
        for item in value if isinstance(value, list) else [value]:
            if is_pinned(item):
                out.append((key, str(item["id"])))
    return out


def linked_versions(record: Any) -> list[str]:
    """Every version a record names as a parent or pins as used: the keys of the reverse index."""
    return list(dict.fromkeys([e.record for e in record.parents] + [i for _, i in uses_of(record)]))


def edge_ref_prefix(kind: str, name: str, version: str) -> str:
    return f"lineage/{layout.plural(kind)}/{name}/{version}/"


def kind_of(record: Any) -> str:
    """The kind (model, dataset, recipe) of a version record."""
    return next(k for k, t in layout.RECORD_TYPES.items() if t == record.type)


def read_edge(core: Core, edge_id: str) -> dict[str, Any]:
    """A lineage-edge record (child, parent, relation, params, author, created_ns, why).

    Raises ObjectNotFound if it is not stored; InvalidInput if it is not an edge record.
    """
    return core.read_document(edge_id, "lineage-edge", "a lineage edge")


def node(core: Core, record_id: str) -> Node:
    """The lineage node a version record stands for.

    Args: record_id: a full record id.
    Returns a Node (id, kind, name, version, state: its stage, or "deleted").
    Raises ObjectNotFound if the record is not stored; InvalidInput if it is not a version record.
    """
    record = core.read_record(record_id)
    kind = kind_of(record)
    current = core.plumbing.refs.get(layout.version_ref(kind, record.name, record.version))
    state = core.stage_of(kind, record.name, record.version) if current == record_id else "deleted"
    return Node(record_id, kind, record.name, record.version, state)


def parents_of(core: Core, record_id: str) -> list[Edge]:
    """Every edge from record_id to a parent: its own, then those added later."""
    record = core.read_record(record_id)
    edges = [Edge(record_id, e.record, e.relation, dict(e.params), record_id) for e in record.parents]
    edges += [Edge(record_id, used, key, {}, record_id) for key, used in uses_of(record)]
    kind = kind_of(record)
    for _, edge_id in core.plumbing.refs.iter(edge_ref_prefix(kind, record.name, record.version)):
        doc = read_edge(core, edge_id)
        if doc["child"] == record_id:
            edges.append(
                Edge(record_id, doc["parent"], doc["relation"], dict(doc.get("params", {})), edge_id)
            )
    return edges


def children_of(core: Core, record_id: str) -> list[Edge]:
    """Every edge from a version made from, or using, record_id (from the reverse index).

    A child whose record gc has removed (an expired version) is left out: nothing is
    known about it any more but its reflog (`pacha model get` says what happened)."""
    out = []
    objects = core.plumbing.objects
    for raw in core.plumbing.refs.index_values(INDEX, bytes.fromhex(record_id)):
        child = raw.hex()
        if not objects.has(child):
            continue
        out.extend(e for e in parents_of(core, child) if e.parent == record_id)
    return out


def ancestors(core: Core, record_id: str) -> set[str]:
    seen: set[str] = set()
    frontier = [record_id]
    while frontier:
        current = frontier.pop()
        for edge in parents_of(core, current):
            if edge.parent not in seen:
                seen.add(edge.parent)
                frontier.append(edge.parent)
    return seen


def walk(core: Core, root: str, up: bool, down: bool, depth: int | None) -> Graph:
    """The part of the DAG around root: ancestors (up) and/or descendants (down)."""
    graph = Graph(root)
    graph.nodes[root] = node(core, root)
    seen_edges: set[tuple[str, str, str]] = set()
    for direction, step in (("up", parents_of), ("down", children_of)):
        if (direction == "up" and not up) or (direction == "down" and not down):
            continue
        frontier, level, visited = [root], 0, {root}
        while frontier and (depth is None or level < depth):
            nxt = []
            for current in frontier:
                for edge in step(core, current):
                    key = (edge.child, edge.parent, edge.relation)
                    if key not in seen_edges:
                        seen_edges.add(key)
                        graph.edges.append(edge)
                    other = edge.parent if direction == "up" else edge.child
                    if other not in graph.nodes:
                        graph.nodes[other] = node(core, other)
                    if other not in visited:
                        visited.add(other)
                        nxt.append(other)
            frontier, level = nxt, level + 1
    return graph
