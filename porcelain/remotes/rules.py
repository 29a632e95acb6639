"""The stage rules checked against a remote's ref table, inside its compare-and-swap.

A push replaces the remote's whole ref table by compare-and-swap; transport calls
`StageRules(new_table)` with the table about to be written (again after every
re-read when someone else moved it meanwhile). The rules are the local ones
(porcelain/stage_ops.py) applied to the names the push touches:

- every stage ref names a registered version and points at the same record;
- every version is in exactly one stage;
- production holds at most one version of a name, unless the pusher's own registry
  deliberately holds the same several (`--keep-existing`).

So two people promoting different versions to production through one bucket end with
exactly one of them there: the second push is refused (and `--force`, which overrides a
not-fast-forward, does not override these rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import porcelain.layout as layout
import porcelain.semver as versions
from porcelain.errors import CheckFailed
from porcelain.stages import rules as stages

PLURALS = {plural: kind for kind, plural in layout.KINDS.items()}
NameKey = tuple[str, str]  # (kind, name)


class StageRuleBroken(CheckFailed):
    """A push that would break a stage rule on the remote (exit 1); nothing was moved."""


def name_of(ref: str) -> NameKey | None:
    """(kind, name) of a version ref or stage ref of a staged kind; None for any other ref."""
    head, _, rest = ref.partition("/")
    if head == "stages":
        plural, _, body = rest.partition("/")
        kind = PLURALS.get(plural)
        if kind not in layout.STAGED or body.count("/") < 2:
            return None
        name, stage, _ = layout.split_stage_ref(kind, ref)
        return (kind, name) if stage in stages.STAGES else None
    kind = PLURALS.get(head)
    if kind not in layout.STAGED or "/" not in rest:
        return None
    return kind, layout.split_version_ref(kind, ref)[0]


@dataclass
class NameState:
    """One name's versions and stage refs as a ref table holds them."""

    versions: dict[str, str] = field(default_factory=dict)  # version -> record id
    stages: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # version -> [(stage, id)]

    def in_stage(self, stage: str) -> list[str]:
        return versions.sort(v for v, held in self.stages.items() if any(s == stage for s, _ in held))


def states(table: Mapping[str, str], wanted: set[NameKey]) -> dict[NameKey, NameState]:
    """The state of each wanted name in table (one pass over the table)."""
    out = {key: NameState() for key in wanted}
    for ref, object_id in table.items():
        key = name_of(ref)
        if key is None or key not in out:
            continue
        kind = key[0]
        if ref.startswith("stages/"):
            _, stage, version = layout.split_stage_ref(kind, ref)
            out[key].stages.setdefault(version, []).append((stage, object_id))
        else:
            out[key].versions[layout.split_version_ref(kind, ref)[1]] = object_id
    return out


@dataclass
class StageRules:
    """The check callback of a push: raises StageRuleBroken to refuse the table.

    touched: the names whose refs the push moves. intended: each touched name's versions in
    production in the pusher's registry (several only if kept there on purpose).
    moved_by: ref name -> " (moved by WHO at TIME)" from the remote's audit trail, or "".
    pulling: the table is the local one a pull would leave (intended: the remote's production).
    """

    touched: set[NameKey]
    intended: dict[NameKey, list[str]]
    remote: str
    moved_by: Callable[[str], str] = lambda ref: ""
    pulling: bool = False

    @property
    def where(self) -> str:
        return "here" if self.pulling else f"on {self.remote}"

    def __call__(self, table: Mapping[str, str]) -> None:
        for key, state in sorted(states(table, self.touched).items()):
            self._check_name(key, state)

    def _check_name(self, key: NameKey, state: NameState) -> None:
        kind, name = key
        for version, held in sorted(state.stages.items()):
            what = f"{name}:{version}"
            if len(held) > 1:
                where = " and ".join(s for s, _ in held)
                self._refuse(f"{what} would be in {where} at once {self.where}")
            stage, object_id = held[0]
            if state.versions.get(version) != object_id:
                self._refuse(f"{what} would be in {stage} {self.where} without being registered there")
        for version in state.versions:
            if version not in state.stages:
                self._refuse(f"{name}:{version} would have no stage {self.where}")
        production = state.in_stage(stages.PRODUCTION)
        if len(production) > 1 and sorted(production) != sorted(self.intended.get(key, [])):
            theirs = [v for v in production if v not in self.intended.get(key, [])]
            if self.pulling:
                # not `pacha push`: the remote would then hold two versions in production too
                self._refuse(
                    f"{name} would have {len(production)} versions in production here "
                    f"({', '.join(production)}): {', '.join(theirs)} is in production here but not on "
                    f"{self.remote}",
                    f"take {self.remote}'s stages with `pacha pull {self.remote} --force`, or move yours "
                    f"out first (`pacha {_cli(kind)} stage {name}:{theirs[0]} --to archived`) and pull again",
                )
            who = "".join(self.moved_by(layout.stage_ref(kind, name, stages.PRODUCTION, v)) for v in theirs)
            self._refuse(
                f"{name} would have {len(production)} versions in production on {self.remote} "
                f"({', '.join(production)}): {', '.join(theirs)} was promoted there meanwhile{who}",
                f"run `pacha fetch {self.remote}` and `pacha {_cli(kind)} history {name} --remote "
                f"{self.remote}`, then promote again if still wanted",
            )

    def _refuse(self, why: str, fix: str | None = None) -> None:
        """fix: the commands that resolve it (default: keep one side's stages of the name whole)."""
        action = "pull" if self.pulling else "push"
        if fix is None:
            fix = (
                f"the stages changed here and on {self.remote}: keep yours with `pacha push {self.remote} "
                f"--force`, or take {self.remote}'s with `pacha pull {self.remote} --force`"
            )
        raise StageRuleBroken(f"{action} refused: {why}; {fix}; nothing was changed {self.where}")


def cli_group(kind: str) -> str:
    """The command group of a kind: `pacha model|data|recipe ...`."""
    return "data" if kind == "dataset" else kind


_cli = cli_group


def touched_names(refs: Iterable[str]) -> set[NameKey]:
    return {key for key in map(name_of, refs) if key is not None}
