"""The stage rules a push checks on the remote's ref table, and which refs push and pull move."""

from __future__ import annotations

import pytest

from porcelain.errors import CheckFailed, NotFound
from porcelain.remotes import refsync
from porcelain.remotes.rules import StageRuleBroken, StageRules, name_of, touched_names

A, B, C = "a" * 64, "b" * 64, "c" * 64


def table(**stages: tuple[str, str]) -> dict[str, str]:
    """version -> (stage, id): the version refs and stage refs of model m."""
    out = {}
    for version, (stage, oid) in stages.items():
        version = version.removeprefix("v").replace("_", ".")
        out[f"models/m/{version}"] = oid
        out[f"stages/models/m/{stage}/{version}"] = oid
    return out


def rules(intended: list[str] | None = None) -> StageRules:
    key = ("model", "m")
    return StageRules({key}, {key: intended or []}, "origin", moved_by=lambda ref: " (by Ada at noon)")


def test_one_version_in_production_passes() -> None:
    rules(["1.1.0"])(table(v1_0_0=("archived", A), v1_1_0=("production", B)))


def test_two_versions_in_production_are_refused_naming_the_other_and_who() -> None:
    merged = table(v1_0_0=("production", A), v1_1_0=("production", B))
    with pytest.raises(StageRuleBroken) as caught:
        rules(["1.1.0"])(merged)
    message = str(caught.value)
    assert "m would have 2 versions in production on origin" in message
    assert "1.0.0 was promoted there meanwhile (by Ada at noon)" in message
    assert caught.value.exit_code == 1


def test_several_in_production_kept_on_purpose_pass() -> None:
    rules(["1.0.0", "1.1.0"])(table(v1_0_0=("production", A), v1_1_0=("production", B)))


@pytest.mark.parametrize(
    "broken, why",
    [
        ({"models/m/1.0.0": A}, "would have no stage"),
        ({"stages/models/m/production/1.0.0": A}, "without being registered"),
        ({"models/m/1.0.0": A, "stages/models/m/production/1.0.0": B}, "without being registered"),
        (
            {"models/m/1.0.0": A, "stages/models/m/staging/1.0.0": A, "stages/models/m/archived/1.0.0": A},
            "at once",
        ),
    ],
)
def test_inconsistent_stage_refs_are_refused(broken: dict[str, str], why: str) -> None:
    with pytest.raises(StageRuleBroken, match=why):
        rules()(broken)


def test_names_not_touched_are_not_checked() -> None:
    other = {"models/other/1.0.0": A}  # no stage ref: broken, but not this push's business
    rules(["1.0.0"])({**table(v1_0_0=("production", A)), **other})


def test_ref_names_map_to_their_model_or_dataset() -> None:
    assert name_of("models/team/fraud/1.0.0") == ("model", "team/fraud")
    assert name_of("stages/datasets/team/x/production/2.0.0") == ("dataset", "team/x")
    assert name_of("recipes/r/1.0.0") is None  # recipes have no stages
    assert name_of("runs/run-001") is None
    assert touched_names(["models/m/1.0.0", "stages/models/m/development/1.0.0", "runs/x"]) == {
        ("model", "m")
    }


def test_push_moves_only_what_differs_from_the_last_fetch() -> None:
    local = {"models/m/1.0.0": A, "models/m/1.1.0": B}
    tracked = {"models/m/1.0.0": A, "models/m/0.9.0": C}
    moves = refsync.push_moves(local, tracked, set(local) | set(tracked))
    assert moves == [
        refsync.Move("models/m/0.9.0", C, None),  # deleted here: deleted there, if still C
        refsync.Move("models/m/1.1.0", None, B),  # new: must not exist there
    ]


def test_pull_takes_remote_changes_keeps_local_ones_and_refuses_both() -> None:
    before = {"r/same": A, "r/theirs": A, "r/mine": A, "r/both": A}
    local = {"r/same": A, "r/theirs": A, "r/mine": B, "r/both": B}
    after = {"r/same": A, "r/theirs": C, "r/mine": A, "r/both": C, "r/new": C}
    names = {"r/same", "r/theirs", "r/mine", "r/new"}
    assert refsync.pull_moves(local, before, after, names, "origin") == [
        refsync.Move("r/new", None, C),
        refsync.Move("r/theirs", A, C),
    ]
    with pytest.raises(CheckFailed, match="r/both changed here and on origin since the two last agreed"):
        refsync.pull_moves(local, before, after, names | {"r/both"}, "origin")
    forced = refsync.pull_moves(local, before, after, {"r/both", "r/mine"}, "origin", force=True)
    assert forced == [refsync.Move("r/both", B, C), refsync.Move("r/mine", B, A)]


def test_references_resolve_on_a_ref_table_alone() -> None:
    remote = {**table(v1_0_0=("archived", A), v1_1_0=("production", B), v1_2_0=("development", C))}
    (prod,) = refsync.resolve_version(remote, "m@production")
    assert (prod.kind, prod.name, prod.version, prod.record_id) == ("model", "m", "1.1.0", B)
    assert refsync.resolve_version(remote, "m:latest")[0].version == "1.2.0"
    assert refsync.resolve_version(remote, "m:1.0.0")[0].record_id == A
    assert refsync.resolve_version(remote, C)[0].version == "1.2.0"
    assert refsync.resolve_version(remote, "m@staging") == []
    # pulling 1.1.0 into a registry that has 1.0.0 also moves 1.0.0's stage refs
    local = table(v1_0_0=("production", A))
    scope = refsync.version_scope(local, remote, prod)
    assert scope == {
        "models/m/1.0.0",
        "stages/models/m/production/1.0.0",
        "stages/models/m/archived/1.0.0",
        "models/m/1.1.0",
        "stages/models/m/production/1.1.0",
    }


def test_selecting_refs_by_name_prefix_or_ref() -> None:
    local = {**table(v1_0_0=("production", A)), "models/other/1.0.0": B, "runs/run-1": C}
    assert refsync.select([local], ["m@production"]) == {"models/m/1.0.0", "stages/models/m/production/1.0.0"}
    assert refsync.select([local], ["runs/"]) == {"runs/run-1"}
    assert refsync.select([local], ["models/other/1.0.0"]) == {"models/other/1.0.0"}
    with pytest.raises(NotFound, match="'nothing' names no ref"):
        refsync.select([local], ["nothing"])
