"""gc keeps a version's signatures exactly as long as the version's record, and deletes their
refs (no dangling attached/ ref) when it removes the record; signatures keep nothing alive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Key, Keys


@pytest.fixture
def signer(cli: Cli) -> Iterator[Key]:
    keys = Keys()
    key = keys.make("Ada Signer <ada@example.com>")
    cli.env["GNUPGHOME"] = str(key.home)
    yield key
    keys.close()


def stored(cli: Cli, object_id: str) -> bool:
    return cli("cat-object", "-t", object_id, ok=False).code == 0


def test_gc_keeps_signatures_while_their_version_lives_and_drops_them_with_it(
    cli: Cli, signer: Key, tmp_path: Path
) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"one")
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.email)
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "staging", "--sign", signer.email)
    model.write_bytes(b"two")
    cli("model", "register", "m", model, "-v", "1.5.0", "--sign", signer.email)
    model.write_bytes(b"three")
    cli("model", "register", "m", model, "-v", "2.0.0", "--sign", signer.email)
    first = cli("rev-parse", "models/m/1.0.0").text.strip()
    middle = cli("rev-parse", "models/m/1.5.0").text.strip()
    signatures = {line.split()[0] for line in cli("for-each-ref", f"attached/{first}/").lines}
    (middle_signature,) = [line.split()[0] for line in cli("for-each-ref", f"attached/{middle}/").lines]
    assert len(signatures) == 2
    cli("gc", "--prune", "now")
    assert len(cli("for-each-ref", "attached/").lines) == 4  # nothing signed went
    assert "good signature on m:1.0.0" in cli("verify", "m:1.0.0").text
    # deleted, 1.0.0's record stays restorable (the reflog keeps it): so do its signatures
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "archived")
    cli("model", "delete", "m:1.0.0")
    cli("gc", "--prune", "now")
    assert len(cli("for-each-ref", f"attached/{first}/").lines) == 2
    assert all(stored(cli, i) for i in signatures)
    cli("model", "restore", "m:1.0.0")
    assert "good signature on m:1.0.0 by" in cli("verify", "m:1.0.0").text
    # 1.5.0 expired and pruned: its record goes, and its signature with it, ref and objects
    expired = json.loads(cli("gc", "--keep-last", "1", "--prune", "now", "--json").text)
    assert middle in expired["removed"] and middle_signature in expired["removed"]
    assert cli("for-each-ref", f"attached/{middle}/").lines == []
    assert not stored(cli, middle_signature)
    cli("fsck")
    # 2.0.0 and its signature are untouched
    assert "good signature on m:2.0.0" in cli("verify", "m:2.0.0").text


def test_a_signature_alone_keeps_nothing_alive(cli: Cli, signer: Key, tmp_path: Path) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"one")
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.email)
    record = cli("rev-parse", "models/m/1.0.0").text.strip()
    (signature,) = [line.split()[0] for line in cli("for-each-ref", "attached/").lines]
    cli("delete-ref", "--expire", "models/m/1.0.0")
    cli("delete-ref", "--expire", "stages/models/m/development/1.0.0")
    dry = json.loads(cli("gc", "--prune", "now", "--dry-run", "--json").text)
    assert record in dry["removed"] and signature in dry["removed"]
    assert dry["detached"] == [f"attached/{record}/signature-{signature}"]
    assert len(cli("for-each-ref", "attached/").lines) == 1  # a dry run changes nothing
    cli("gc", "--prune", "now")
    assert not stored(cli, record) and not stored(cli, signature)
    assert cli("for-each-ref", "attached/").lines == []
