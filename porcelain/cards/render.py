"""Rendering a version's Model Card: TOML (re-registrable), JSON, and Markdown in the
Hugging Face model-card layout (YAML front matter, then the Mitchell et al. sections)."""

from __future__ import annotations

import json
from typing import Any

from porcelain.results import Version


def card_document(v: Version) -> dict[str, Any]:
    """Everything the card says, with the registry's own facts filled in."""
    r = v.record
    doc: dict[str, Any] = {"name": v.name, "version": v.version}
    if r.description:
        doc["description"] = r.description
    doc.update({k: val for k, val in r.card.items() if k not in ("name", "version", "description")})
    # a None metric (non-finite, stored before they were refused) is missing: TOML and
    # the Hugging Face metadata have no value for it
    known = {k: val for k, val in r.metrics.items() if val is not None}
    if known:
        doc["metrics"] = known
    return doc


def _ref_text(value: Any) -> str:
    if isinstance(value, dict) and "ref" in value:
        return f"{value['ref']} ({value['id'][:12]})"
    return str(value)


def to_json(v: Version) -> dict[str, Any]:
    return {"record": v.record_id, "stage": v.stage, "card": card_document(v)}


def to_toml(v: Version) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Model Card of {v.name}:{v.version} (record {v.record_id})"))
    plain = {}
    for key, value in card_document(v).items():
        if isinstance(value, dict) and set(value) == {"ref", "id"}:
            value = value["ref"]  # references are re-pinned when registered again
        elif isinstance(value, list):
            value = [x["ref"] if isinstance(x, dict) and set(x) == {"ref", "id"} else x for x in value]
        plain[key] = value
    for key, value in plain.items():
        if not isinstance(value, dict):
            doc[key] = value
    for key, value in plain.items():
        if isinstance(value, dict):
            doc[key] = value
    return tomlkit.dumps(doc)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid YAML scalar


def to_markdown(v: Version) -> str:
    """The card as a Hugging Face README: YAML metadata, then the Mitchell et al. sections."""
    doc = card_document(v)
    lines = ["---", *_front_matter(v, doc), "---", "", f"# {v.name} {v.version}", ""]
    if doc.get("description"):
        lines += [doc["description"], ""]
    for title, body in _sections(v, doc):
        if body:
            lines.extend([f"## {title}", "", *body, ""])
    return "\n".join(lines).rstrip() + "\n"


def _front_matter(v: Version, doc: dict[str, Any]) -> list[str]:
    """The Hugging Face model-card metadata: license, tags, datasets, metrics and model-index."""
    lines = []
    if doc.get("license"):
        lines.append(f"license: {_yaml_scalar(doc['license'])}")
    tags = list(doc.get("tags", []))
    if tags:
        lines.append("tags:")
        lines.extend(f"- {_yaml_scalar(t)}" for t in tags)
    datasets = [doc[k]["ref"] for k in ("training_data", "evaluation_data") if isinstance(doc.get(k), dict)]
    if datasets:
        lines.append("datasets:")
        lines.extend(f"- {_yaml_scalar(d)}" for d in dict.fromkeys(datasets))
    metrics = doc.get("metrics", {})
    if metrics:
        lines.append("metrics:")
        lines.extend(f"- {_yaml_scalar(m)}" for m in metrics)
        lines += _model_index(v, doc, metrics)
    return lines


def _model_index(v: Version, doc: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    lines = [
        "model-index:",
        f"- name: {_yaml_scalar(v.name)}",
        "  results:",
        "  - task:",
        f"      type: {_yaml_scalar(doc.get('task', 'other'))}",
    ]
    evaluation = doc.get("evaluation_data")
    if isinstance(evaluation, dict):
        lines.append("    dataset:")
        lines.append(f"      name: {_yaml_scalar(evaluation['ref'])}")
        lines.append(f"      type: {_yaml_scalar(evaluation['ref'].split(':')[0])}")
    lines.append("    metrics:")
    for name, value in metrics.items():
        lines.append(f"    - type: {_yaml_scalar(name)}")
        lines.append(f"      value: {_yaml_scalar(value)}")
    return lines


def _sections(v: Version, doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(title, lines) of each Model Card section, in the Hugging Face order (empty ones left out)."""
    details = [
        f"- **Version:** {v.version} ({v.stage})",
        f"- **Registered by:** {v.record.author}",
        f"- **Pacha record:** `{v.record_id}`",
        f"- **Artifact:** `{v.record.artifact}`",
    ]
    weights = doc.get("weights")
    if isinstance(weights, dict):
        details.append(
            f"- **Weights:** {weights.get('format')}, {weights.get('tensor_count')} tensors, "
            f"{weights.get('parameter_count'):,} parameters, dtypes {', '.join(weights.get('dtypes', []))}"
            + (f", quantization {weights['quantization']}" if weights.get("quantization") else "")
        )
    uses = []
    if doc.get("primary_uses"):
        uses += ["### Direct Use", "", *[f"- {u}" for u in doc["primary_uses"]]]
    if doc.get("out_of_scope_uses"):
        uses += [""] if uses else []
        uses += ["### Out-of-Scope Use", "", *[f"- {u}" for u in doc["out_of_scope_uses"]]]
    return [
        ("Model Details", details),
        ("Uses", uses),
        ("Bias, Risks, and Limitations", [f"- {x}" for x in doc.get("limitations", [])]),
        ("Ethical Considerations", [f"- {x}" for x in doc.get("ethical_considerations", [])]),
        ("Training Details", _training(doc)),
        ("Evaluation", _evaluation(doc)),
        ("Lineage", _lineage(v, doc)),
    ]


def _training(doc: dict[str, Any]) -> list[str]:
    out = []
    if doc.get("training_data"):
        out.append(f"- **Training data:** {_ref_text(doc['training_data'])}")
    if doc.get("training_recipe"):
        out.append(f"- **Training recipe:** {_ref_text(doc['training_recipe'])}")
    if doc.get("training_date"):
        out.append(f"- **Training date:** {doc['training_date']}")
    if doc.get("training_duration"):
        out.append(f"- **Training duration:** {doc['training_duration']}")
    return out


def _evaluation(doc: dict[str, Any]) -> list[str]:
    out = []
    if doc.get("evaluation_data"):
        out.append(f"- **Testing data:** {_ref_text(doc['evaluation_data'])}")
    metrics = doc.get("metrics", {})
    if metrics:
        out += ["", "| metric | value |", "|---|---|", *[f"| {k} | {val:g} |" for k, val in metrics.items()]]
    return out


def _lineage(v: Version, doc: dict[str, Any]) -> list[str]:
    out = []
    if doc.get("parent_model"):
        out.append(f"- **Parent model:** {_ref_text(doc['parent_model'])}")
    out += [f"- **Derived from:** {_ref_text(x)}" for x in doc.get("derived_from", [])]
    out += [f"- **{e.relation}** from record `{e.record[:12]}`" for e in v.record.parents]
    return out
