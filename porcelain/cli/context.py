"""What a porcelain command gets from where it runs: the registry and, in a group, its kind.

The registry is the one the dispatcher chose (`--registry PATH`, $PACHA_DIR or discovery;
see pacha.cli.registry_option). The commands models, datasets and recipes share (porcelain.cli.versions)
are registered once per group; each learns which kind it acts on from the group's context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacha.cli.registry_option import registry_path
from porcelain.registry import Registry

if TYPE_CHECKING:
    import typer


@dataclass(frozen=True)
class Kind:
    """A command group acting on versions: the record kind and the word its commands use."""

    kind: str  # model, dataset or recipe: the kind in refs and records (porcelain.layout)
    noun: str  # model, data or recipe: the group's name on the command line


MODEL = Kind("model", "model")
DATA = Kind("dataset", "data")
RECIPE = Kind("recipe", "recipe")


def open_porcelain() -> Registry:
    """The porcelain registry this command works on."""
    return Registry.open(registry_path())


def kind_of(ctx: typer.Context) -> Kind:
    """The Kind of the group a shared command runs in (set by porcelain.cli.kind_group)."""
    kind = ctx.find_object(Kind)
    if kind is None:  # a shared command registered outside a kind group: a programming error
        raise RuntimeError(f"{ctx.command_path} runs outside a model, data or recipe group")
    return kind
