"""fsck after a fetch: `pacha fetch` brings a remote's refs and records, not its artifact bytes
(docs/remotes.md), so what only remote-tracking refs reach may be absent by design. fsck says
so in a note and exits 0, as for a lazy registry; what a local ref reaches is still checked
whole, and its loss is a problem (exit 1)."""

from __future__ import annotations

from pathlib import Path

from tests.remotes import Shared, artifact, member


def _pushed(tmp_path: Path) -> tuple[Shared, str]:
    place = Shared(kind="file", url=str(tmp_path / "remote"), root=tmp_path / "remote")
    ada = member(tmp_path, "ada", place)
    ada("model", "register", "m", artifact(tmp_path, "a", 3 << 20), "-v", "1.0.0")  # chunked
    ada("model", "register", "small", artifact(tmp_path, "b"), "-v", "1.0.0")
    ada("push")
    return place, ada("rev-parse", "m:1.0.0").text.strip()


def test_fsck_after_a_fetch_notes_what_only_tracking_refs_reach_and_passes(tmp_path: Path) -> None:
    place, _ = _pushed(tmp_path)
    bob = member(tmp_path, "bob", place)
    bob("fetch")
    result = bob("fsck")  # exit 0
    said = result.text + result.err
    assert "not fetched" in said and "missing object" not in said
    bob("pull", "origin", "small:1.0.0")
    assert bob("fsck").code == 0
    bob("pull")
    result = bob("fsck")
    assert "not fetched" not in result.text + result.err


def test_what_a_local_ref_reaches_must_be_whole_even_if_a_tracking_ref_reaches_it_too(tmp_path: Path) -> None:
    """The same fetched record, named by a local ref as well: its absent artifact is a problem."""
    place, record = _pushed(tmp_path)
    bob = member(tmp_path, "bob", place)
    bob("fetch")
    assert bob("fsck").code == 0
    bob("write-ref", "experiments/m", record, "--create")
    result = bob.fails("fsck", code=1)
    assert "missing object" in result.text + result.err
