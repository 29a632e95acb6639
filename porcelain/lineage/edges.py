"""Lineage operations of the registry: edges after the fact, graphs, the reverse index."""

from __future__ import annotations

import time
from typing import Any

import pacha
import porcelain.layout as layout
from porcelain.errors import InvalidInput, NotFound
from porcelain.lineage import graph as lineage
from porcelain.records import commit_subject


class LineageMixin:
    """Adding and reading lineage edges; pinning card references."""

    def read_edge(self, edge_id: str) -> dict[str, Any]:
        """A lineage-edge record (child, parent, relation, params, author, created_ns, why).

        Args: edge_id: the edge record's id.
        Returns the record as a dict.
        Raises ObjectNotFound if it is not stored; InvalidInput if it is not an edge record.
        """
        import msgspec

        doc = msgspec.json.decode(self.plumbing.objects.read(edge_id))
        if doc.get("type") != "lineage-edge":
            raise InvalidInput(f"object {edge_id} is not a lineage edge")
        return doc

    def node(self, record_id: str) -> lineage.Node:
        """The lineage node a version record stands for.

        Args: record_id: a full record id.
        Returns a lineage.Node (id, kind, name, version, state: its stage, or "deleted").
        Raises ObjectNotFound if the record is not stored; InvalidInput if it is not a version record.
        """
        record = self.read_record(record_id)
        kind = next(k for k, t in layout.RECORD_TYPES.items() if t == record.type)
        current = self.plumbing.refs.get(layout.version_ref(kind, record.name, record.version))
        state = self.stage_of(kind, record.name, record.version) if current == record_id else "deleted"
        return lineage.Node(record_id, kind, record.name, record.version, state)

    def resolve_parents(self, kind: str, references: list[str]) -> list[str]:
        """The record ids of lineage sources.

        Args: kind: "model", "dataset" or "recipe". references: NAME:VER references (or record ids).
        Returns the record ids, in order.
        Raises NotFound for an unknown version.
        """
        return [self.get(kind, ref).record_id for ref in references]

    def add_lineage(
        self,
        kind: str,
        child_ref: str,
        parent_refs: list[str],
        relation: str,
        params: dict[str, str],
        why: str = "",
    ) -> list[lineage.Edge]:
        """Record, after the fact, that an existing version was made from others (no cycles).

        Args: kind: "model", "dataset" or "recipe". child_ref: the derived version (a reference).
        parent_refs: its sources (references). relation: fine-tuned, distilled, merged, quantized, pruned
        (models) or derived (datasets). params: the relation's parameters as texts, e.g. {"temperature":
        "2"}. why: the reason, kept in the reflog.
        Returns the new edges (lineage.Edge), one per source.
        Raises NotFound for an unknown version; InvalidInput for a bad relation or parameter, an edge that
        would make a cycle, or one that is already recorded.
        """
        child = self.get(kind, child_ref, change=True)  # explicit, registered
        parent_ids = self.resolve_parents(kind, parent_refs)
        edges = lineage.build_edges(kind, relation, parent_ids, params, self.recipe_resolver())
        for edge in edges:
            if edge.record == child.record_id or child.record_id in lineage.ancestors(self, edge.record):
                parent = self.node(edge.record)
                raise InvalidInput(
                    f"{child.ref} cannot be {relation} from {parent.label}: "
                    f"{parent.label} already descends from {child.ref} (lineage must stay acyclic)"
                )
        existing = {(e.parent, e.relation) for e in lineage.parents_of(self, child.record_id)}
        added, plan, index_ops, blobs = [], [], [], []
        for edge in edges:
            if (edge.record, edge.relation) in existing:
                continue
            doc = {
                "child": child.record_id,
                "parent": edge.record,
                "relation": edge.relation,
                "params": dict(edge.params),
                "author": self.plumbing.identity(),
                "created_ns": time.time_ns(),
                "why": why,
            }
            data = pacha.make_record("lineage-edge", doc, [child.record_id, edge.record])
            edge_id = pacha.hash_bytes(data)
            blobs.append(data)
            prefix = lineage.edge_ref_prefix(kind, child.name, child.version)
            plan.append(("create", prefix + edge_id[:16], edge_id, None))
            index_ops.append((bytes.fromhex(edge.record), bytes.fromhex(child.record_id)))
            added.append(
                lineage.Edge(child.record_id, edge.record, edge.relation, dict(edge.params), edge_id)
            )
        if not added:
            raise InvalidInput(f"{child.ref} already has this {relation} edge")
        subject = commit_subject(kind, child.name, child.version, child.record_id, child.record)
        subject["edges"] = [{"parent": e.parent, "relation": e.relation, "params": e.params} for e in added]

        def write_objects() -> None:
            for data in blobs:
                self.plumbing.objects.put_bytes(data, "record")

        self._commit(
            "lineage", why or f"lineage {child.ref} {relation}", plan, subject, index_ops, write_objects
        )
        return added

    def lineage_graph(
        self,
        kind: str,
        reference: str,
        *,
        ancestors: bool = True,
        descendants: bool = True,
        depth: int | None = None,
        version: str | None = None,
    ) -> lineage.Graph:
        """The lineage graph around a version.

        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. ancestors: include where it came from.
        descendants: include what was made from it. depth: at most this many edges away (None: all).
        version: the version, if reference is a bare NAME.
        Returns a lineage.Graph (nodes and typed edges).
        Raises NotFound for an unknown version.
        """
        found = self.get(kind, reference, version)
        return lineage.walk(self, found.record_id, ancestors, descendants, depth)

    def _resolve_card_reference(self, kind: str, text: str) -> tuple[str, str]:
        if kind == "recipe":
            pinned = self.recipe_resolver()(text)
            return pinned["ref"], pinned["id"]
        try:
            found = self.get(kind, text)
            return found.ref, found.record_id
        except NotFound as exc:
            raise NotFound(f"the card names {kind} {text!r}, which is not registered: {exc}") from None

    def recipe_resolver(self) -> Any:
        """A function that pins a recipe reference: text -> {"ref": NAME:VER, "id": record id}.

        Returns the function; it raises NotFound for an unknown recipe (used for a fine-tuned edge's
        recipe parameter).
        Raises nothing itself.
        """

        def resolve(text: str) -> dict[str, str]:
            try:
                found = self.get("recipe", text)
            except NotFound:
                raise NotFound(f"recipe {text!r} is not registered; register it first") from None
            return {"ref": found.ref, "id": found.record_id}

        return resolve

    def reindex(self) -> int:
        """Rebuild the derived lineage index from records and lineage refs.

        Returns the number of edges indexed.
        Raises PachaError only for errors of the registry itself (e.g. read-only).
        """

        def pairs() -> Any:
            for kind in layout.KINDS:
                for _, record_id in self.plumbing.refs.iter(layout.plural(kind) + "/"):
                    for edge in lineage.parents_of(self, record_id):
                        yield bytes.fromhex(edge.parent), bytes.fromhex(record_id)

        return self.plumbing.refs.index_rebuild(lineage.INDEX, pairs())
