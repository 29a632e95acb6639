"""Lineage operations of the registry: edges after the fact, graphs, the reverse index."""

from __future__ import annotations

import time
from typing import Any

import pacha
from porcelain import layout, lineage
from porcelain.errors import InvalidInput, NotFound
from porcelain.records import commit_subject


class LineageMixin:
    """Adding and reading lineage edges; pinning card references."""

    def read_edge(self, edge_id: str) -> dict[str, Any]:
        import msgspec

        doc = msgspec.json.decode(self.plumbing.objects.read(edge_id))
        if doc.get("type") != "lineage-edge":
            raise InvalidInput(f"object {edge_id} is not a lineage edge")
        return doc

    def node(self, record_id: str) -> lineage.Node:
        record = self.read_record(record_id)
        kind = next(k for k, t in layout.RECORD_TYPES.items() if t == record.type)
        current = self.plumbing.refs.get(layout.version_ref(kind, record.name, record.version))
        state = self.stage_of(kind, record.name, record.version) if current == record_id else "deleted"
        return lineage.Node(record_id, kind, record.name, record.version, state)

    def resolve_parents(self, kind: str, references: list[str]) -> list[str]:
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
        """Record edges from an existing version to its parents after the fact (no cycles)."""
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
        def resolve(text: str) -> dict[str, str]:
            try:
                found = self.get("recipe", text)
            except NotFound:
                raise NotFound(f"recipe {text!r} is not registered; register it first") from None
            return {"ref": found.ref, "id": found.record_id}

        return resolve

    def reindex(self) -> int:
        """Rebuild the derived lineage index from records and lineage refs."""

        def pairs() -> Any:
            for kind in layout.KINDS:
                for _, record_id in self.plumbing.refs.iter(layout.plural(kind) + "/"):
                    for edge in lineage.parents_of(self, record_id):
                        yield bytes.fromhex(edge.parent), bytes.fromhex(record_id)

        return self.plumbing.refs.index_rebuild(lineage.INDEX, pairs())
