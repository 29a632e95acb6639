"""What porcelain operations return: versions, registrations, stage transitions."""

from __future__ import annotations

from dataclasses import dataclass

import porcelain.records as records


@dataclass(frozen=True)
class Version:
    """One registered version, as found through its refs."""

    kind: str
    name: str
    version: str
    record_id: str
    record: records.VersionRecord
    stage: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Registered:
    version: Version
    created: bool  # False: the same bytes were already registered under this version


@dataclass(frozen=True)
class Transition:
    """One stage change of one version (from_stage None: registration)."""

    name: str
    version: str
    from_stage: str | None
    to_stage: str | None  # None: deleted
    who: str
    when_ns: int
    why: str
