"""Finding registered versions: listing them, and re-checking one by hash (`pacha verify`)."""

from __future__ import annotations

import porcelain.layout as layout
from pacha.verify import verify_closure
from porcelain.core import Core
from porcelain.names import check_name
from porcelain.policies.enforce import readable_names, require
from porcelain.references import Reference
from porcelain.resolve import Target, kind_cli, resolve, resolve_target
from porcelain.results import Version


def readable(
    core: Core, kind: str, reference: str | Reference, version: str | None = None, *, change: bool = False
) -> Version:
    """resolve(), for a name the acting principal may read (Registry.get; `model get`).

    Raises NotFound, InvalidInput as resolve; PolicyRefused if the access policy forbids reading it.
    """
    found = resolve(core, kind, reference, version, change=change)
    require(core.plumbing, "read", found.name, "get")
    return found


def list_versions(core: Core, kind: str, name: str | None = None, stage: str | None = None) -> list[Version]:
    """Registered versions, by name then SemVer order.

    Args: kind: "model", "dataset" or "recipe". name: only this name (None: every name). stage: only
    versions in this stage (models and datasets).
    Returns the versions (empty if none).
    Names the access policy does not let the acting principal read are left out.
    Raises InvalidInput for a bad name or stage; PolicyRefused for a name it may not read.
    """
    out = []
    if name:
        require(core.plumbing, "read", check_name(name), "list")
    for each in [name] if name else readable_names(core.plumbing, core.names(kind)):
        for version in core.versions_of(kind, each):
            record_id = core.plumbing.refs.get(layout.version_ref(kind, each, version))
            if record_id is None:
                continue
            found = core.version(kind, each, version, record_id)
            if stage is None or found.stage == stage:
                out.append(found)
    return out


def verify(
    core: Core, kind: str | None, reference: str, version: str | None = None
) -> tuple[Version | Target, int, list[str]]:
    """Re-check the record, its artifact and every ancestor and pinned reference, by hash.

    Args: kind: "model", "dataset", "recipe", or None for whatever the reference names (a model,
    dataset or recipe version, or a run). reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with
    version) or a record id or unique prefix. version: the version, if reference is a bare NAME.
    Returns (the version or run target, the number of objects checked, the problems found; empty if
    sound).
    Raises NotFound for an unknown version; InvalidInput for an ambiguous reference.
    """
    found: Version | Target
    if kind:
        found = resolve(core, kind, reference, version)
    else:
        found = resolve_target(
            core,
            reference,
            version,
            kinds=("model", "dataset", "recipe", "run"),
            pick=lambda t: (
                f"pacha {kind_cli(t.kind)} verify {t.label}"
                if t.kind != "run"
                else f"pacha verify {t.record_id[:12]}"
            ),
        )
    count, problems = verify_closure(core.plumbing.objects, [found.record_id])
    return found, count, problems
