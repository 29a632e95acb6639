"""Reading registered recipes back: the parsed document and the TOML text as registered."""

from __future__ import annotations

from typing import Any

from porcelain.core import Core
from porcelain.errors import NotFound
from porcelain.recipes.schema import normalize
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.wording import list_hint


def recipe_text(core: Core, found: Version) -> str:
    """The recipe's TOML exactly as it was registered.

    Args: found: a recipe version (from get or recipe_doc).
    Returns the text.
    Raises ObjectNotFound if its artifact is not stored.
    """
    data: bytes = core.plumbing.objects.read(found.record.artifact)
    return data.decode("utf-8")


def recipe_doc(core: Core, reference: str, version: str | None = None) -> tuple[Version, dict[str, Any]]:
    """A recipe version and its parsed document (the specification's field names read as the short
    ones, see recipes.schema.normalize).

    Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
    prefix. version: the version, if reference is a bare NAME.
    Returns (the version, the document).
    Raises NotFound for an unknown recipe.
    """
    try:
        found = resolve(core, "recipe", reference, version)
    except NotFound:
        raise NotFound(f"no recipe {reference!r}; {list_hint('recipe')} shows what exists") from None
    return found, normalize(found.record.card["recipe"])[0]
