"""Which versions and runs used a version: "which models were trained on this dataset?".

Derived from the records only, through the reverse lineage index (kept in the same
transaction as each registration, rebuilt by `pacha reindex`): a version's users are
the versions that name it as a parent or pin it in their card (a model's
`training_data`, `evaluation_data`, `training_recipe`, a recipe's `train_data`, ...),
and the runs of every recipe among them (the `runs-by-recipe` index).
"""

from __future__ import annotations

from dataclasses import dataclass

from porcelain.core import Core
from porcelain.lineage.graph import children_of, node
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.runs.lookup import get_run
from porcelain.runs.records import BY_RECIPE_INDEX


@dataclass(frozen=True)
class Use:
    """One user of a version: what it is, and the record field or relation that says so."""

    kind: str  # model, dataset, recipe or run
    label: str  # name:version, or the run's name
    record_id: str
    how: str  # e.g. training_data, derived, fine-tuned; for a run: "ran recipe NAME:VER"
    state: str  # the user's stage, "deleted", or a run's status


def used_by(
    core: Core, kind: str, reference: str, version: str | None = None, kinds: set[str] | None = None
) -> tuple[Version, list[Use]]:
    """The version reference names, and every version and run that used it (only kinds, if given).

    Raises what Registry.get raises for the reference.
    """
    found = resolve(core, kind, reference, version)
    out: list[Use] = []
    recipes: list[tuple[str, str]] = [(found.record_id, found.ref)] if kind == "recipe" else []
    for edge in children_of(core, found.record_id):
        user = node(core, edge.child)
        out.append(Use(user.kind, user.label, user.id, edge.relation, user.state))
        if user.kind == "recipe":
            recipes.append((user.id, user.label))
    refs = core.plumbing.refs
    for recipe_id, label in recipes:
        for raw in refs.index_values(BY_RECIPE_INDEX, bytes.fromhex(recipe_id)):
            info = get_run(core, raw.hex())
            out.append(Use("run", info.name, info.record_id, f"ran recipe {label}", info.status))
    if kinds:
        out = [u for u in out if u.kind in kinds]
    return found, out
