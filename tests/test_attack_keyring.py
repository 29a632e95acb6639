"""Attacks on the keyring sync of encrypted remotes (issue 15), through the CLI, with directory
remotes: a passphrase removed (or replaced by `key rotate`) must not come back into a registry
that dropped it through a remote it never synced with (a stale mirror or backup, the same place
under another name), and must not travel from there back to the other remotes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.test_key_sync import LAPTOP, PASS, Place, _cli, _opens, _published, _slots, _with

OLD = "the old default passphrase"


def _dir_place(tmp_path: Path, name: str) -> Place:
    root = tmp_path / name
    return Place(str(root), {}, lambda: (root / "keyring").read_bytes(), lambda _d: None)


def _backup(tmp_path: Path) -> tuple[Cli, Cli, Place]:
    """ada's registry published to origin and (once) to backup, with a `laptop` slot; bob's clone
    of origin, which has seen that slot."""
    origin = _dir_place(tmp_path, "origin")
    ada, bob = _published(tmp_path, origin)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    ada("remote", "add", "backup", tmp_path / "backup")
    ada("push")
    ada("push", "backup")
    bob("fetch")
    assert _opens(bob, LAPTOP, tmp_path)
    return ada, bob, _dir_place(tmp_path, "backup")


def test_a_removed_slot_does_not_come_back_from_a_remote_never_synced_with(tmp_path: Path) -> None:
    ada, bob, backup = _backup(tmp_path)
    ada("key", "remove", "laptop")
    ada("push")  # origin only: the backup keeps the old keyring, laptop and all
    assert "'laptop' removed" in bob("fetch").err
    # bob adds the backup (never synced with it here) and fetches from it
    bob("remote", "add", "backup", backup.url)
    bob("fetch", "backup")
    assert _slots(bob) == ["default"] and not _opens(bob, LAPTOP, tmp_path)
    bob("push")  # nothing of the stale copy travels back to origin
    assert json.loads((tmp_path / "origin" / "keyring").read_bytes())["slots"][0]["name"] == "default"
    assert len(json.loads((tmp_path / "origin" / "keyring").read_bytes())["slots"]) == 1
    bob("push", "backup")  # and the backup now loses it too
    assert backup.slots() == ["default"]
    # an older copy put back on origin, reached under another name (a symbolic link): no base
    ada("key", "add", "--name", "laptop2", env=_with(ada, PACHA_NEW_PASSPHRASE="laptop passphrase 2"))
    ada("push")
    bob("fetch")
    with_laptop2 = (tmp_path / "origin" / "keyring").read_bytes()
    ada("key", "remove", "laptop2")
    ada("push")
    bob("fetch")
    (tmp_path / "origin" / "keyring").unlink()
    (tmp_path / "origin" / "keyring").write_bytes(with_laptop2)
    assert "older copy" in bob.fails("fetch", code=128).err
    (tmp_path / "alias").symlink_to(tmp_path / "origin")
    bob("remote", "add", "alias", tmp_path / "alias")
    bob("fetch", "alias")
    assert _slots(bob) == ["default"]


def test_an_old_passphrase_replaced_by_rotate_does_not_come_back(tmp_path: Path) -> None:
    origin = _dir_place(tmp_path, "origin")
    ada, bob = _published(tmp_path, origin)
    ada("remote", "add", "backup", tmp_path / "backup")
    ada("push", "backup")
    ada("key", "rotate", env=_with(ada, PACHA_NEW_PASSPHRASE=OLD + " is gone"))
    new = _with(ada, PACHA_PASSPHRASE=OLD + " is gone")
    ada("push", env=new)
    bob_new = _with(bob, PACHA_PASSPHRASE=OLD + " is gone")
    assert "'default' given a new passphrase" in bob("fetch", env=bob_new).err
    bob("remote", "add", "backup", tmp_path / "backup", env=bob_new)
    bob("fetch", "backup", env=bob_new)  # the backup holds default's old wrapping: not a conflict
    assert not _opens(bob, PASS, tmp_path)
    ada("fetch", "backup", env=new)
    assert not _opens(ada, PASS, tmp_path)
    # carl clones origin afresh with the new passphrase and never held the old wrapping
    carl = _cli(tmp_path, "carl", origin, passphrase=OLD + " is gone")
    carl("clone", origin.url, carl.registry)
    assert _opens(carl, OLD + " is gone", tmp_path)
