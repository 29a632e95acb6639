"""Registering a recipe (its TOML stored as is, a checked and pinned record) and validating one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import porcelain.signing as signing
from pacha.documents import read_text
from porcelain.core import Core
from porcelain.errors import CheckFailed, InvalidInput
from porcelain.recipes.check import Report, check, lock_hash, parse_text, pin_data
from porcelain.recipes.lookup import recipe_text
from porcelain.resolve import resolve
from porcelain.results import Registered
from porcelain.signatures.verify import verify_version
from porcelain.versions.register import register
from porcelain.versions.request import RegisterRequest


def register_recipe(
    core: Core, path: str | Path, *, message: str = "", sign: str | None = None
) -> Registered:
    """Store the TOML as is and a checked, pinned record; errors refuse the registration.

    Args: path: the recipe TOML file. message: why, for the reflog. sign: a GnuPG key (id, fingerprint
    or email) to sign the record with (it names the TOML's bytes by id; porcelain.signatures).
    Returns Registered(version, created).
    Raises InvalidInput for unreadable TOML or any validation error (the first is named);
    VersionExists when the version exists with another text; InvalidInput if gpg cannot sign.
    """
    path = Path(path)
    text = read_text(path, "recipe")  # bounded, strict UTF-8
    doc = parse_text(text, str(path))
    report = check(doc, core)
    if report.errors:
        more = (
            f" (+{len(report.errors) - 1} more: run `pacha recipe validate {path}`)"
            if report.errors[1:]
            else ""
        )
        raise InvalidInput(f"{path}: {report.errors[0]}{more}")
    card: dict[str, Any] = {"recipe": doc}
    for key, pinned in pin_data(core, doc).items():
        card[f"{key}_data"] = pinned
    digest = lock_hash(doc, path.parent)
    if digest:
        card["lock_hash"] = digest
    request = RegisterRequest(
        kind="recipe",
        name=doc["name"],
        path=str(path),
        version=doc["version"],
        description=str(doc.get("description", "")),
        card=card,
        message=message,
        sign=sign,
    )
    return register(core, request)


def validate_recipe(core: Core, reference: str, version: str | None = None) -> tuple[str, Report]:
    """Check a recipe file, or a registered recipe (including that its data did not change).

    Args: reference: a recipe file path, or NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or
    a record id or unique prefix. version: the version, if reference is a bare NAME.
    Returns (what was checked, Report with errors, warnings and notes).
    Raises NotFound for an unknown registered recipe; InvalidInput for a TOML syntax error.
    """
    if version is None and Path(reference).is_file():
        doc = parse_text(read_text(reference, "recipe"), reference)
        return reference, check(doc, core)
    found = resolve(core, "recipe", reference, version)
    card = found.record.card
    pinned = {k: card[f"{k}_data"] for k in ("train", "validation") if f"{k}_data" in card}
    report = check(card["recipe"], core, pinned)
    if "lock_hash" not in card and not any("lock file" in w for w in report.warnings):
        report.warnings.append("no lock file hash was recorded")
    checks, problems = verify_version(core, found)  # signatures attached to the record
    report.notes.extend(c.text for c in checks if c.ok)
    report.errors.extend(problems)
    if "signature" in card:  # recipes signed before signatures were attachments pinned one here
        try:
            signer = signing.verify(core, card["signature"], recipe_text(core, found).encode("utf-8"))
            report.notes.append(f"good signature by {signer}")
        except CheckFailed as exc:
            report.errors.append(str(exc))
    return found.ref, report
