"""Lineage edges after the fact (`model lineage add`), the graph around a version, the reverse index.

Also how registration resolves what a version names: its parents, and the recipes and
versions its card pins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pacha
import porcelain.layout as layout
from porcelain.core import Core, RefUpdate
from porcelain.errors import InvalidInput, NotFound
from porcelain.lineage.graph import (
    INDEX,
    Edge,
    Graph,
    ancestors,
    build_edges,
    edge_ref_prefix,
    node,
    parents_of,
    walk,
)
from porcelain.records import ParentEdge, commit_subject
from porcelain.resolve import resolve
from porcelain.results import Version


def resolve_parents(core: Core, kind: str, references: list[str]) -> list[str]:
    """The record ids of lineage sources (NAME:VER references or record ids), in order.

    Raises NotFound for an unknown version.
    """
    return [resolve(core, kind, ref).record_id for ref in references]


def recipe_pin(core: Core) -> Callable[[str], dict[str, str]]:
    """A function that pins a recipe reference: text -> {"ref": NAME:VER, "id": record id}.

    The function raises NotFound for an unknown recipe (used for a fine-tuned edge's recipe
    parameter and a card's training_recipe).
    """

    def pin(text: str) -> dict[str, str]:
        try:
            found = resolve(core, "recipe", text)
        except NotFound:
            raise NotFound(f"recipe {text!r} is not registered; register it first") from None
        return {"ref": found.ref, "id": found.record_id}

    return pin


def card_reference(core: Core, kind: str, text: str) -> tuple[str, str]:
    """(NAME:VER, record id) of a version a card names (cards.fields.pin_references' resolve).

    Raises NotFound, saying the card names it, for an unknown version.
    """
    if kind == "recipe":
        pinned = recipe_pin(core)(text)
        return pinned["ref"], pinned["id"]
    try:
        found = resolve(core, kind, text)
        return found.ref, found.record_id
    except NotFound as exc:
        raise NotFound(f"the card names {kind} {text!r}, which is not registered: {exc}") from None


def add_lineage(
    core: Core,
    kind: str,
    child_ref: str,
    parent_refs: list[str],
    relation: str,
    params: dict[str, str],
    why: str = "",
) -> list[Edge]:
    """Record, after the fact, that an existing version was made from others (no cycles).

    Args: kind: "model", "dataset" or "recipe". child_ref: the derived version (a reference).
    parent_refs: its sources (references). relation: fine-tuned, distilled, merged, quantized, pruned
    (models) or derived (datasets). params: the relation's parameters as texts, e.g. {"temperature":
    "2"}. why: the reason, kept in the reflog.
    Returns the new edges (lineage.graph.Edge), one per source.
    Raises NotFound for an unknown version; InvalidInput for a bad relation or parameter, an edge that
    would make a cycle, or one that is already recorded.
    """
    child = resolve(core, kind, child_ref, change=True)  # explicit, registered
    parent_ids = resolve_parents(core, kind, parent_refs)
    edges = build_edges(kind, relation, parent_ids, params, recipe_pin(core))
    _refuse_cycles(core, child, edges, relation)
    existing = {(e.parent, e.relation) for e in parents_of(core, child.record_id)}
    added: list[Edge] = []
    plan: list[RefUpdate] = []
    index_ops: list[tuple[bytes, bytes]] = []
    blobs: list[bytes] = []
    for edge in edges:
        if (edge.record, edge.relation) in existing:
            continue
        data = _edge_record(core, child.record_id, edge, why)
        edge_id = pacha.hash_bytes(data)
        blobs.append(data)
        prefix = edge_ref_prefix(kind, child.name, child.version)
        plan.append(RefUpdate("create", prefix + edge_id[:16], edge_id, None))
        index_ops.append((bytes.fromhex(edge.record), bytes.fromhex(child.record_id)))
        added.append(Edge(child.record_id, edge.record, edge.relation, dict(edge.params), edge_id))
    if not added:
        raise InvalidInput(f"{child.ref} already has this {relation} edge")
    subject = commit_subject(kind, child.name, child.version, child.record_id, child.record)
    subject["edges"] = [{"parent": e.parent, "relation": e.relation, "params": e.params} for e in added]

    def write_objects() -> None:
        for data in blobs:
            core.plumbing.objects.put_bytes(data, "record")

    message = why or f"lineage {child.ref} {relation}"
    core.commit("lineage", message, plan, subject, index_ops=index_ops, write_objects=write_objects)
    return added


def _refuse_cycles(core: Core, child: Version, edges: list[ParentEdge], relation: str) -> None:
    for edge in edges:
        if edge.record == child.record_id or child.record_id in ancestors(core, edge.record):
            parent = node(core, edge.record)
            raise InvalidInput(
                f"{child.ref} cannot be {relation} from {parent.label}: "
                f"{parent.label} already descends from {child.ref} (lineage must stay acyclic)"
            )


def _edge_record(core: Core, child: str, edge: ParentEdge, why: str) -> bytes:
    """The lineage-edge record stating that child was made from edge.record."""
    doc = {
        "child": child,
        "parent": edge.record,
        "relation": edge.relation,
        "params": dict(edge.params),
        "author": core.plumbing.identity(),
        "created_ns": time.time_ns(),
        "why": why,
    }
    return pacha.make_record("lineage-edge", doc, [child, edge.record])


def lineage_graph(
    core: Core,
    kind: str,
    reference: str,
    *,
    ancestors: bool = True,
    descendants: bool = True,
    depth: int | None = None,
    version: str | None = None,
) -> Graph:
    """The lineage graph around a version.

    Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
    (with version) or a record id or unique prefix. ancestors: include where it came from.
    descendants: include what was made from it. depth: at most this many edges away (None: all).
    version: the version, if reference is a bare NAME.
    Returns a lineage.graph.Graph (nodes and typed edges).
    Raises NotFound for an unknown version.
    """
    found = resolve(core, kind, reference, version)
    return walk(core, found.record_id, ancestors, descendants, depth)


def reindex(core: Core) -> int:
    """Rebuild the derived lineage index from records and lineage refs.

    Returns the number of edges indexed.
    Raises PachaError only for errors of the registry itself (e.g. read-only).
    """

    def pairs() -> Iterator[tuple[bytes, bytes]]:
        for kind in layout.KINDS:
            for _, record_id in core.plumbing.refs.iter(layout.plural(kind) + "/"):
                for edge in parents_of(core, record_id):
                    yield bytes.fromhex(edge.parent), bytes.fromhex(record_id)

    count: int = core.plumbing.refs.index_rebuild(INDEX, pairs())
    return count
