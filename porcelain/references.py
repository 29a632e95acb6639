"""Parsing what users type to name a version.

name:1.2.0        that version
name:latest       the highest release (pre-releases only when there is no release)
name@production   the version in that stage (the highest, if several)
name              with -v VERSION, that version; alone, as name:latest
<id or prefix>    a version record by object id
"""

from __future__ import annotations

from dataclasses import dataclass

from pacha.errors import UsageError
from pacha.ids import MIN_PREFIX_LEN, is_hex
from porcelain.errors import InvalidInput
from porcelain.names import name_problem
from porcelain.stages.rules import STAGES
from porcelain.wording import say


@dataclass(frozen=True)
class Reference:
    text: str
    name: str | None = None
    version: str | None = None  # a version, "latest", or None
    stage: str | None = None
    object_id: str | None = None  # id or id prefix
    implied: bool = False  # a bare NAME: "latest" was not asked for (state changes refuse it)


def parse_reference(text: str, version: str | None = None) -> Reference:
    """Split a reference; validation of the name and version happens on lookup."""
    if version is not None:
        if ":" in text or "@" in text:
            how = say(f"-v {version}", f"version={version!r}")
            raise UsageError(f"give either {text!r} or {how}, not both")
        return Reference(text, name=text, version=version)
    if ":" in text:
        name, _, ver = text.partition(":")
        if not ver:
            raise InvalidInput(f"{text!r} has no version after ':' (e.g. {name}:1.0.0 or {name}:latest)")
        return Reference(text, name=name, version=ver)
    if "@" in text:
        name, _, stage = text.rpartition("@")
        if stage not in STAGES:
            raise InvalidInput(f"unknown stage {stage!r} in {text!r}: use {', '.join(STAGES)}")
        return Reference(text, name=name, stage=stage)
    if len(text) >= MIN_PREFIX_LEN and is_hex(text) and name_problem(text) is not None:
        return Reference(text, object_id=text.lower())
    if len(text) >= MIN_PREFIX_LEN and is_hex(text):
        # could be either a name made of hex digits or an id prefix: the caller tries both
        return Reference(text, name=text, version="latest", object_id=text.lower(), implied=True)
    return Reference(text, name=text, version="latest", implied=True)
