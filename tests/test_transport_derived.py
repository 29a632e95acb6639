"""The derived indices (reverse lineage: `model used-by`; run summaries: `run list`) after a pull
or clone: the entries of what arrives are added in the transaction that moves the refs, not
rebuilt from every record of the registry afterwards (porcelain/remotes/derived.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pacha
import porcelain.remotes.derived as derived
from pacha.store.midx import MIDX_AFTER, MIDX_NAME, MultiPackIndex
from porcelain.remotes.sync import pull
from tests.conftest import PACHA, Cli
from tests.remotes import Shared, artifact, as_member, make_shared, member
from tests.test_recipes import RECIPE


def _pair(tmp_path: Path) -> tuple[Cli, Cli, Shared]:
    shared = make_shared("file", tmp_path, None)
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    ada("model", "register", "base", artifact(tmp_path, "b.bin"), "-v", "1.0.0")
    ada("push")
    bob("pull")
    return ada, bob, shared


def _views(cli: Cli) -> dict[str, object]:
    return {
        "used-by": json.loads(cli("model", "used-by", "base:1.0.0", "--json").text),
        "runs": json.loads(cli("run", "list", "--json").text),
    }


def _grow(ada: Cli, tmp_path: Path) -> None:
    """What a colleague adds: a version made from base, one linked after the fact, and a run."""
    ada("model", "register", "tuned", artifact(tmp_path, "t.bin"), "-v", "1.0.0", "--from", "base:1.0.0",
        "--relation", "fine-tuned")  # fmt: skip
    ada("model", "register", "small", artifact(tmp_path, "s.bin"), "-v", "1.0.0")
    ada("model", "lineage", "add", "small:1.0.0", "--from", "base:1.0.0", "--relation", "pruned",
        "--param", "sparsity=0.5")  # fmt: skip
    (ada.cwd / "t.csv").write_text("a,b\n1,2\n")
    ada("data", "register", "transactions", ada.cwd / "t.csv")
    (ada.cwd / "requirements.txt").write_text("torch==2.3\n")
    (ada.cwd / "recipe.toml").write_text(RECIPE)
    ada("recipe", "register", ada.cwd / "recipe.toml")
    run = ada("run", "start", "bert-finetune:1.0.0").text.strip().split()[-1]
    ada("run", "log", run, "loss=0.5", "--step", "1")
    ada("run", "finish", run)
    ada("push")


def test_a_pull_brings_used_by_and_run_list_as_a_full_reindex_would(tmp_path: Path) -> None:
    ada, bob, _ = _pair(tmp_path)
    _grow(ada, tmp_path)
    bob("pull")
    got = _views(bob)
    assert {u["ref"] for u in got["used-by"]["used_by"]} == {"tuned:1.0.0", "small:1.0.0"}  # type: ignore[index]
    assert len(got["runs"]) == 1  # type: ignore[arg-type]
    assert got == _views(ada)
    bob("reindex")  # what every pull did before: the same answers
    assert _views(bob) == got


def test_a_pull_reads_only_the_records_it_brings(tmp_path: Path, monkeypatch) -> None:
    ada, bob, _ = _pair(tmp_path)
    for i in range(5):  # versions bob has already: a full rebuild would read every one again
        ada("model", "register", f"old{i}", artifact(tmp_path, f"o{i}.bin"), "-v", "1.0.0")
    ada("push")
    bob("pull")
    ada("model", "register", "tuned", artifact(tmp_path, "t.bin"), "-v", "1.0.0", "--from", "base:1.0.0",
        "--relation", "fine-tuned")  # fmt: skip
    ada("push")
    read: list[str] = []
    real = derived.parents_of
    monkeypatch.setattr(derived, "parents_of", lambda core, rid: read.append(rid) or real(core, rid))
    with as_member(bob):
        pull(pacha.open_registry(bob.registry), "origin")
    tuned = json.loads(bob("model", "get", "tuned:1.0.0", "--json").text)["id"]
    assert read == [tuned]
    assert [u["ref"] for u in _views(bob)["used-by"]["used_by"]] == ["tuned:1.0.0"]  # type: ignore[index]


def test_a_pull_killed_right_after_its_refs_moved_leaves_the_indices_whole(tmp_path: Path) -> None:
    ada, bob, _ = _pair(tmp_path)
    _grow(ada, tmp_path)
    killed = bob("pull", env={**bob.env, "PACHA_CRASH_AT": "pull-refs-moved"}, ok=False)
    assert killed.code == -9
    assert _views(bob) == _views(ada)  # the entries moved with the refs (before: none until a reindex)


def _packs(cli: Cli) -> dict[str, int]:
    counted = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    return {"packs": int(counted["packs"]), "outside": int(counted["packs-outside-midx"])}


def test_pulls_keep_their_packs_in_the_multi_pack_index_extending_it(tmp_path: Path) -> None:
    """Each pull installs packs; before, nothing covered them (only a later registration did,
    rebuilding the index from every pack), so lookups tried more packs after every pull."""
    ada, bob, _ = _pair(tmp_path)
    first_index: list[str] = []
    for n in range(2 * MIDX_AFTER):
        ada("model", "register", "m", artifact(tmp_path, f"m{n}.bin"), "-v", f"1.{n}.0")
        ada("push")
        bob("pull")
        counted = _packs(bob)
        assert counted["outside"] < MIDX_AFTER, (n, counted)
        index = bob.registry / "objects" / "pack" / MIDX_NAME
        if index.exists():
            names = MultiPackIndex(index)
            if not first_index:
                first_index = list(names.pack_names)
            assert names.pack_names[: len(first_index)] == first_index  # extended, not rebuilt
            names.close()
    assert first_index, "no multi-pack index after many pulls"
    assert "ok" in bob("multi-pack-index", "verify").text
    bob("fsck")


def test_a_kill_while_the_index_is_written_leaves_a_registry_that_reads_and_is_repaired(
    tmp_path: Path,
) -> None:
    ada, bob, _ = _pair(tmp_path)
    for n in range(MIDX_AFTER + 1):
        ada("model", "register", "m", artifact(tmp_path, f"m{n}.bin"), "-v", f"1.{n}.0")
        ada("push")
        killed = bob("pull", env={**bob.env, "PACHA_CRASH_AT": "midx-written"}, ok=False)
        assert killed.code in (0, -9)  # killed only by the pull that writes the index
    assert _packs(bob)["outside"] >= MIDX_AFTER  # the index was never installed
    for n in range(MIDX_AFTER + 1):  # every version reads whole
        out = tmp_path / f"out{n}.bin"
        bob("model", "download", f"m:1.{n}.0", "-o", out)
        assert out.read_bytes() == (tmp_path / "artifacts" / f"m{n}.bin").read_bytes()
    ada("model", "register", "m", artifact(tmp_path, "last.bin"), "-v", "2.0.0")
    ada("push")
    bob("pull")  # the next command covers what the killed ones left outside
    assert _packs(bob)["outside"] < MIDX_AFTER
    assert "ok" in bob("multi-pack-index", "verify").text
    bob("fsck")


def test_two_pulls_at_once_leave_the_indices_whole(tmp_path: Path) -> None:
    """Two pulls of the same changes into one registry, started together: the ref database
    serialises them (one may be refused as having lost the race, moving nothing); the indices
    then answer as the pusher's do, and the multi-pack index is sound."""
    ada, bob, _ = _pair(tmp_path)
    for n in range(MIDX_AFTER):  # packs enough for a multi-pack index at the pull
        ada("model", "register", "m", artifact(tmp_path, f"m{n}.bin"), "-v", f"1.{n}.0")
        ada("push")
        bob("pull")
    _grow(ada, tmp_path)
    env = {**bob.env, "PACHA_NO_PROGRESS": "1"}
    pulls = [
        subprocess.Popen([*PACHA, "pull"], env=env, cwd=bob.cwd, stderr=subprocess.PIPE) for _ in range(2)
    ]
    for proc in pulls:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 or "another command changed the registry" in err.decode(), err.decode()
    bob("pull")  # up to date, or completes what a refused one left
    assert _views(bob) == _views(ada)
    assert "ok" in bob("multi-pack-index", "verify").text
    bob("fsck")
