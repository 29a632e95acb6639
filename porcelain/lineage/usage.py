"""Which versions and runs used a version: "which models were trained on this dataset?".

Derived from the records only, through the reverse lineage index (kept in the same
transaction as each registration, rebuilt by `pacha reindex`): a version's users are
the versions that name it as a parent or pin it in their card (a model's
`training_data`, `evaluation_data`, `training_recipe`, a recipe's `train_data`, ...),
and the runs of every recipe among them (the `runs-by-recipe` index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from porcelain.lineage import graph as lineage

if TYPE_CHECKING:
    from porcelain.registry import Registry
    from porcelain.results import Version


@dataclass(frozen=True)
class Use:
    """One user of a version: what it is, and the record field or relation that says so."""

    kind: str  # model, dataset, recipe or run
    label: str  # name:version, or the run's name
    record_id: str
    how: str  # e.g. training_data, derived, fine-tuned; for a run: "ran recipe NAME:VER"
    state: str  # the user's stage, "deleted", or a run's status


def used_by(
    reg: Registry, kind: str, reference: str, version: str | None = None, kinds: set[str] | None = None
) -> tuple[Version, list[Use]]:
    """The version reference names, and every version and run that used it (only kinds, if given).

    Raises what Registry.get raises for the reference.
    """
    from porcelain.runs.records import BY_RECIPE_INDEX

    found = reg.get(kind, reference, version)
    out: list[Use] = []
    recipes: list[tuple[str, str]] = [(found.record_id, found.ref)] if kind == "recipe" else []
    for edge in lineage.children_of(reg, found.record_id):
        node = reg.node(edge.child)
        out.append(Use(node.kind, node.label, node.id, edge.relation, node.state))
        if node.kind == "recipe":
            recipes.append((node.id, node.label))
    refs = reg.plumbing.refs
    for recipe_id, label in recipes:
        for raw in refs.index_values(BY_RECIPE_INDEX, bytes.fromhex(recipe_id)):
            info = reg.get_run(raw.hex())
            out.append(Use("run", info.name, info.record_id, f"ran recipe {label}", info.status))
    if kinds:
        out = [u for u in out if u.kind in kinds]
    return found, out
