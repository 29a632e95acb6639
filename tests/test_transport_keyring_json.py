"""push, fetch, pull and clone --json list the key slot changes of an encrypted remote's keyring
(`keyring`: one entry per change set, as its keyring.log line, without the time); before, only
stderr and keyring.log said them. A directory remote and a real SeaweedFS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import test_key_sync
from tests.conftest import Cli
from tests.test_key_sync import LAPTOP, Place, _cli, _published, _with

place = test_key_sync.place  # the fixture: a directory remote and a SeaweedFS bucket


def _json(cli: Cli, *args: str | Path) -> dict[str, Any]:
    return json.loads(cli(*args, "--json").text)


def _logged(cli: Cli) -> list[dict[str, Any]]:
    """keyring.log's entries, without their time."""
    lines = (cli.registry / "keyring.log").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "when_ns"} for line in lines]


def _change(entry: dict[str, Any]) -> tuple[str, str, list[str], list[str]]:
    return entry["op"], entry["direction"], entry["added"], entry["removed"]


def test_push_fetch_and_pull_json_list_the_keyring_changes_they_carry(tmp_path: Path, place: Place) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    pushed = _json(ada, "push")
    assert [_change(e) for e in pushed["keyring"]] == [("push", "out", ["laptop"], [])]
    assert pushed["keyring"] == _logged(ada)[-1:]  # the same as keyring.log says
    assert pushed["keyring"][0]["where"] == place.url and pushed["up_to_date"] is True

    fetched = _json(bob, "fetch")
    assert [_change(e) for e in fetched["keyring"]] == [("fetch", "in", ["laptop"], [])]
    assert fetched["keyring"][0]["author"] == "ada <ada@example.com>"
    assert fetched["keyring"] == _logged(bob)[-1:]
    assert _json(bob, "fetch")["keyring"] == []  # nothing new: nothing listed

    ada("key", "remove", "laptop")
    assert [_change(e) for e in _json(ada, "push")["keyring"]] == [("push", "out", [], ["laptop"])]
    pulled = _json(bob, "pull")
    assert [_change(e) for e in pulled["keyring"]] == [("fetch", "in", [], ["laptop"])]


def test_clone_json_lists_the_keyring_it_adopts_and_a_plain_remote_lists_none(
    tmp_path: Path, place: Place
) -> None:
    _published(tmp_path, place)
    carl = _cli(tmp_path, "carl", place)
    cloned = _json(carl, "clone", place.url, carl.registry)
    adopted = [(e["op"], e["direction"], e["added"]) for e in cloned["keyring"]]
    assert adopted == [("adopt", "in", ["default"])]
    plain = Cli(tmp_path / "plain", tmp_path)
    plain.env.update(place.env)
    plain("init")
    (tmp_path / "p.bin").write_bytes(b"plain")
    plain("model", "register", "p", tmp_path / "p.bin", "-v", "1.0.0")
    plain("remote", "add", "origin", str(tmp_path / "plain-remote"), "--default")
    assert _json(plain, "push")["keyring"] == []
