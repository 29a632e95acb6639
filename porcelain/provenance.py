"""W3C PROV-DM provenance of a version, built with the `prov` package.

Every version in the ancestry is an entity; each derivation is an activity that
used the source(s) and generated the derived version (wasDerivedFrom with the
transformation, wasGeneratedBy with its time, used), and every version is
attributed to the agent who registered it (wasAttributedTo).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from porcelain import lineage

if TYPE_CHECKING:
    from porcelain.registry import Registry

NAMESPACE = ("pacha", "urn:pacha:")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unknown"


def _value(value: Any) -> Any:
    if isinstance(value, dict) and "ref" in value:
        return str(value["ref"])
    if isinstance(value, list | dict):
        return str(value)
    return value


def build(reg: Registry, kind: str, reference: str) -> Any:
    """A prov.model.ProvDocument for the version and its whole ancestry."""
    from prov.model import ProvDocument

    found = reg.get(kind, reference)
    graph = lineage.walk(reg, found.record_id, up=True, down=False, depth=None)
    doc = ProvDocument()
    doc.add_namespace(*NAMESPACE)
    entities: dict[str, Any] = {}
    agents: dict[str, Any] = {}
    records = {}
    for node in graph.nodes.values():
        record = reg.read_record(node.id)
        records[node.id] = record
        entity = doc.entity(
            f"pacha:{node.kind}/{node.name}/{node.version}",
            {
                "prov:label": node.label,
                "prov:type": f"pacha:{node.kind}-version",
                "pacha:record": node.id,
                "pacha:artifact": record.artifact,
                "pacha:state": node.state,
            },
        )
        entities[node.id] = entity
        agent = agents.get(record.author)
        if agent is None:
            agent = doc.agent(f"pacha:agent/{_slug(record.author)}", {"prov:label": record.author})
            agents[record.author] = agent
        doc.wasAttributedTo(entity, agent)
    by_child: dict[str, list[lineage.Edge]] = {}
    for edge in graph.edges:
        by_child.setdefault(edge.child, []).append(edge)
    for child, edges in by_child.items():
        record = records[child]
        when = datetime.fromtimestamp(record.created_ns / 1e9, UTC)
        relations = sorted({e.relation for e in edges})
        label = "; ".join(
            str(e.params["transform"]) if "transform" in e.params else e.relation for e in edges
        )
        activity = doc.activity(
            f"pacha:activity/{'+'.join(relations)}/{child[:16]}",
            endTime=when,
            other_attributes={"prov:label": label, "prov:type": f"pacha:{'+'.join(relations)}"},
        )
        doc.wasGeneratedBy(entities[child], activity, when)
        for edge in edges:
            doc.used(activity, entities[edge.parent])
            attributes = {"pacha:relation": edge.relation}
            attributes.update({f"pacha:{k}": _value(v) for k, v in edge.params.items()})
            doc.wasDerivedFrom(entities[child], entities[edge.parent], activity, other_attributes=attributes)
    return doc


def summary(doc: Any) -> list[str]:
    """People-readable lines: one per PROV statement, grouped by kind."""
    from prov.model import (
        ProvActivity,
        ProvAgent,
        ProvAttribution,
        ProvDerivation,
        ProvEntity,
        ProvGeneration,
        ProvUsage,
    )

    def label(qn: Any) -> str:
        record = doc.get_record(qn)
        if record:
            labels = list(record[0].get_attribute("prov:label"))
            if labels:
                return str(labels[0])
        return str(qn)

    lines = []
    order = [ProvEntity, ProvActivity, ProvAgent, ProvDerivation, ProvGeneration, ProvUsage, ProvAttribution]
    for kind in order:
        for record in doc.get_records(kind):
            attrs = dict(record.formal_attributes)
            if kind is ProvEntity:
                lines.append(f"entity    {label(record.identifier)}")
            elif kind is ProvActivity:
                lines.append(f"activity  {label(record.identifier)}")
            elif kind is ProvAgent:
                lines.append(f"agent     {label(record.identifier)}")
            elif kind is ProvDerivation:
                extra = {str(k): v for k, v in record.extra_attributes}
                how = extra.get("pacha:relation", "")
                lines.append(
                    f"{label(attrs[_q('prov:generatedEntity')])} wasDerivedFrom "
                    f"{label(attrs[_q('prov:usedEntity')])} ({how})"
                )
            elif kind is ProvGeneration:
                lines.append(
                    f"{label(attrs[_q('prov:entity')])} wasGeneratedBy {label(attrs[_q('prov:activity')])}"
                    f" at {attrs[_q('prov:time')]}"
                )
            elif kind is ProvUsage:
                lines.append(f"{label(attrs[_q('prov:activity')])} used {label(attrs[_q('prov:entity')])}")
            else:
                lines.append(
                    f"{label(attrs[_q('prov:entity')])} wasAttributedTo {label(attrs[_q('prov:agent')])}"
                )
    return lines


def _q(name: str) -> Any:
    from prov.constants import PROV

    return PROV[name.split(":", 1)[1]]
