"""Registering and checking recipes in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from porcelain.errors import InvalidInput, NotFound
from porcelain.recipes import check as recipes
from porcelain.results import Registered, Version


class RecipesMixin:
    """register_recipe, validate_recipe, recipe_text."""

    def register_recipe(self, path: str | Path, *, message: str = "", sign: str | None = None) -> Registered:
        """Store the TOML as is and a checked, pinned record; errors refuse the registration.

        Args: path: the recipe TOML file. message: why, for the reflog. sign: a GnuPG key (id, fingerprint
        or email) to sign the TOML with.
        Returns Registered(version, created).
        Raises InvalidInput for unreadable TOML or any validation error (the first is named);
        VersionExists when the version exists with another text; CheckFailed if signing fails.
        """
        from pacha.documents import read_text

        path = Path(path)
        text = read_text(path, "recipe")  # bounded, strict UTF-8
        doc = recipes.parse_text(text, str(path))
        report = recipes.check(doc, self)  # type: ignore[arg-type]
        if report.errors:
            more = (
                f" (+{len(report.errors) - 1} more: run `pacha recipe validate {path}`)"
                if report.errors[1:]
                else ""
            )
            raise InvalidInput(f"{path}: {report.errors[0]}{more}")
        card: dict[str, Any] = {"recipe": doc}
        for key, pinned in recipes.pin_data(self, doc).items():  # type: ignore[arg-type]
            card[f"{key}_data"] = pinned
        digest = recipes.lock_hash(doc, path.parent)
        if digest:
            card["lock_hash"] = digest
        extra: list[tuple[bytes, str]] = []
        if sign:
            import porcelain.signing as signing

            extra, card["signature"] = signing.sign(text.encode("utf-8"), sign, self.plumbing.identity())  # type: ignore[attr-defined]
        return self.register(  # type: ignore[attr-defined, no-any-return]
            "recipe",
            doc["name"],
            path,
            version=doc["version"],
            description=str(doc.get("description", "")),
            card=card,
            message=message,
            extra_objects=extra,
        )

    def validate_recipe(self, reference: str, version: str | None = None) -> tuple[str, recipes.Report]:
        """Check a recipe file, or a registered recipe (including that its data did not change).

        Args: reference: a recipe file path, or NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or
        a record id or unique prefix. version: the version, if reference is a bare NAME.
        Returns (what was checked, recipes.Report with errors, warnings and notes).
        Raises NotFound for an unknown registered recipe; InvalidInput for a TOML syntax error.
        """
        if version is None and Path(reference).is_file():
            from pacha.documents import read_text

            doc = recipes.parse_text(read_text(reference, "recipe"), reference)
            return reference, recipes.check(doc, self)  # type: ignore[arg-type]
        found = self.get("recipe", reference, version)  # type: ignore[attr-defined]
        card = found.record.card
        pinned = {k: card[f"{k}_data"] for k in ("train", "validation") if f"{k}_data" in card}
        report = recipes.check(card["recipe"], self, pinned)  # type: ignore[arg-type]
        if "lock_hash" not in card and not any("lock file" in w for w in report.warnings):
            report.warnings.append("no lock file hash was recorded")
        if "signature" in card:
            import porcelain.signing as signing
            from porcelain.errors import CheckFailed

            try:
                signer = signing.verify(self, card["signature"], self.recipe_text(found).encode("utf-8"))
                report.notes.append(f"good signature by {signer}")
            except CheckFailed as exc:
                report.errors.append(str(exc))
        return found.ref, report

    def recipe_text(self, found: Version) -> str:
        """The recipe's TOML exactly as it was registered.

        Args: found: a recipe version (from get or recipe_doc).
        Returns the text.
        Raises ObjectNotFound if its artifact is not stored.
        """
        return self.plumbing.objects.read(found.record.artifact).decode("utf-8")  # type: ignore[attr-defined, no-any-return]

    def recipe_doc(self, reference: str, version: str | None = None) -> tuple[Version, dict[str, Any]]:
        """A recipe version and its parsed document (the specification's field names read as the short ones,
        see recipe_schema.normalize).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns (the version, the document).
        Raises NotFound for an unknown recipe.
        """
        try:
            found = self.get("recipe", reference, version)  # type: ignore[attr-defined]
        except NotFound:
            from porcelain.wording import list_hint

            raise NotFound(f"no recipe {reference!r}; {list_hint('recipe')} shows what exists") from None
        # the specification's field names read as the short ones (recipe_schema.normalize)
        return found, recipes.normalize(found.record.card["recipe"])[0]
