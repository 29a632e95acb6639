"""Command-line behaviour: discovery, help, errors, batch mode, trees, config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import pacha
from pacha.cli import PLUMBING
from tests.conftest import PACHA, Cli, damage_object, snapshot


@pytest.mark.parametrize("command", list(PLUMBING))
def test_every_command_has_help_with_an_example(cli, command: str) -> None:
    out = cli(command, "--help").text
    assert "Example" in out
    assert cli("help", command).text == out


def test_top_level_help_and_unknown_command(cli) -> None:
    out = cli("--help").text
    assert all(name in out for name in PLUMBING)
    result = cli.fails("cat-objects", code=2)
    assert "did you mean 'cat-object'" in result.err
    assert cli("--version").text.startswith("pacha ")


def test_registry_discovery(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    env["HOME"] = str(tmp_path / "home")
    project = tmp_path / "project"
    deep = project / "src" / "deep"
    deep.mkdir(parents=True)
    run = Cli(project / ".pacha", project)
    run.env = env
    missing = run("hash-object", "-w", "--stdin", input=b"x", ok=False, cwd=deep)
    assert missing.code == 128 and "pacha init" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    assert "Initialized empty" in run("init", cwd=project).text
    assert "Reinitialized" in run("init", cwd=project).text
    object_id = run("hash-object", "-w", "--stdin", input=b"x", cwd=deep).text.strip()
    assert (project / ".pacha" / "objects" / object_id[:2]).is_dir()
    other = tmp_path / "other"
    run("init", other)
    run("--registry", other, "hash-object", "-w", "--stdin", input=b"y", cwd=deep)
    run("hash-object", "--registry", other, "-w", "--stdin", input=b"z", cwd=deep)
    assert run("count-objects", cwd=other).text.startswith("2 objects")  # cwd is a registry
    env_run = dict(env, PACHA_DIR=str(tmp_path / "nope"))
    bad = run("count-objects", env=env_run, ok=False, cwd=deep)
    assert bad.code == 128 and "PACHA_DIR" in bad.err


def test_init_refuses_a_non_empty_directory(cli, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    result = cli.fails("init", folder, code=128)
    assert "not empty" in result.err
    assert os.listdir(folder) == ["keep.txt"]


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["cat-object", "-p", "ab" * 32], 1, "not found"),
        (["cat-object", "-t", "bad..name"], 128, "not a valid object name"),
        (["cat-object", "-t", "abc"], 1, "too short for an object id prefix"),
        (["cat-object", "-t", "abcd"], 1, "no object id starts with abcd"),
        (["hash-object", "-w", "no-such-file"], 128, "does not exist"),
        (["hash-object", "-w", "."], 128, "write-tree"),
        (["write-ref", "bad name", "ab" * 32], 128, "invalid ref name"),
        (["write-ref", "models/x", "ab" * 32, "--old", "12"], 128, "not a valid id"),
        (["read-ref", "models/none"], 1, "not found"),
        (["ls-tree", "ab" * 32], 1, "not found"),
        (["cat-object", "-t", "-s", "ab" * 32], 128, "only one"),
        (["config", "core.compression_level", "99"], 128, "1 to 19"),
        (["reflog", "models/none"], 1, "no reflog"),
    ],
)
def test_bad_input_one_line_error_and_no_change(cli, args, code: int, words: str) -> None:
    before = snapshot(cli.registry)
    result = cli.fails(*args, code=code)
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot(cli.registry) == before


def test_usage_errors_exit_2(cli) -> None:
    assert cli.fails("cat-object", "--no-such-flag", code=2).code == 2
    assert cli.fails("write-ref", code=2).code == 2


def test_ambiguous_prefix_is_reported(cli, registry) -> None:
    seen: dict[str, str] = {}
    i = 0
    while True:
        object_id = registry.objects.put_bytes(f"blob {i}".encode())
        if object_id[:4] in seen:
            break
        seen[object_id[:4]] = object_id
        i += 1
    prefix = object_id[:4]
    result = cli.fails("rev-parse", prefix, code=128)
    assert "ambiguous" in result.err and seen[prefix][:16] in result.err
    out = cli("cat-object", "--batch-check", input=f"{prefix}\n{object_id}\n").lines
    assert out == [f"{prefix} ambiguous", f"{object_id} blob {len(f'blob {i}')}"]
    shared = next(n for n in range(4, 64) if object_id[:n] != seen[prefix][:n])
    assert cli("rev-parse", object_id[:shared]).text.strip() == object_id


def test_batch_answers_a_stream_including_missing(cli, tmp_path: Path) -> None:
    ids = [cli("hash-object", "-w", "--stdin", input=f"content {i}").text.strip() for i in range(3)]
    cli("write-ref", "models/m/1.0.0", ids[1])
    query = [ids[0], "ff" * 32, ids[2][:10], "models/m/1.0.0", "not/a/ref", "", "zz"]
    check = cli("cat-object", "--batch-check", input="\n".join(query) + "\n").lines
    assert check == [
        f"{ids[0]} blob 9",
        f"{'ff' * 32} missing",
        f"{ids[2]} blob 9",
        f"{ids[1]} blob 9",
        "not/a/ref missing",
        " missing",
        "zz missing",
    ]
    full = cli("cat-object", "--batch", input=f"{ids[0]}\nnope\n{ids[1]}\n").out
    assert full == (f"{ids[0]} blob 9\ncontent 0\nnope missing\n{ids[1]} blob 9\ncontent 1\n".encode())


def test_batch_is_usable_as_a_coprocess(cli) -> None:
    """One answer per question, flushed at once: a long-running reader in a pipeline."""
    ids = [cli("hash-object", "-w", "--stdin", input=f"c{i}").text.strip() for i in range(3)]
    proc = subprocess.Popen(
        [*PACHA, "cat-object", "--batch-check"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=cli.env,
    )
    assert proc.stdin and proc.stdout
    for object_id in ids:
        proc.stdin.write(object_id.encode() + b"\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == f"{object_id} blob 2\n".encode()
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_pretty_print_and_exists(cli, registry) -> None:
    record = registry.objects.put_bytes(pacha.make_record("note", {"text": "hi"}), "record")
    out = cli("cat-object", "-p", record).text
    assert '"type": "note"' in out and '"text": "hi"' in out
    assert cli("cat-object", "-e", record).code == 0
    assert cli("cat-object", "-e", "ab" * 32, ok=False).code == 1
    result = cli.fails("cat-object", "tree", record, code=128)
    assert "is a record, not a tree" in result.err


def make_folder(root: Path) -> Path:
    folder = root / "bert"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden": 128}')
    (folder / "model.safetensors").write_bytes(os.urandom(100_000))
    (folder / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(folder / "run.sh", 0o755)
    (folder / "empty").mkdir()
    return folder


def test_tree_round_trip(cli, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    tree = cli("write-tree", folder).text.strip()
    assert cli("write-tree", folder).text.strip() == tree  # deterministic
    listing = cli("ls-tree", tree).lines
    names = [line.split("\t")[1] for line in listing]
    assert names == ["config.json", "empty", "model.safetensors", "run.sh", "tokenizer"]
    assert listing[3].startswith("100755 blob")
    assert listing[4].startswith("040000 tree")
    assert cli("ls-tree", "-r", "--name-only", tree).lines == [
        "config.json",
        "model.safetensors",
        "run.sh",
        "tokenizer/vocab.txt",
    ]
    cli("write-ref", "models/bert/1.0.0", tree)
    out = tmp_path / "restored"
    cli("checkout-object", "models/bert/1.0.0", out)
    assert cli("write-tree", out).text.strip() == tree
    assert (out / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    assert os.access(out / "run.sh", os.X_OK) and (out / "empty").is_dir()
    refused = cli.fails("checkout-object", tree, out, code=128)
    assert "--force" in refused.err
    cli("checkout-object", "--force", tree, out)


def test_checkout_of_corrupt_object_leaves_destination_alone(cli, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    tree = cli("write-tree", folder).text.strip()
    blob = cli("hash-object", folder / "model.safetensors").text.strip()
    damage_object(cli.registry, blob)
    dest = tmp_path / "dest"
    result = cli.fails("checkout-object", tree, dest, code=1)
    assert blob in result.err
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest")] == []


def test_config_set_keeps_comments(cli) -> None:
    cli("config", "user.name", "Ada Lovelace")
    cli("config", "core.compression_level", "7")
    text = (cli.registry / "config.toml").read_text()
    assert "# Who is recorded in the reflog" in text
    assert 'name = "Ada Lovelace"' in text and "compression_level = 7" in text
    assert cli("config", "user.name").text == "Ada Lovelace\n"
    assert "core.compression_level=7" in cli("config", "--list").lines
    cli("config", "--unset", "user.name")
    assert cli("config", "user.name", ok=False).code == 1


def test_identity_from_config_lands_in_reflog(cli) -> None:
    cli("config", "user.name", "Grace Hopper")
    cli("config", "user.email", "grace@example.com")
    env = {k: v for k, v in cli.env.items() if not k.startswith("PACHA_AUTHOR")}
    object_id = cli("hash-object", "-w", "--stdin", input=b"v").text.strip()
    cli("write-ref", "models/m/1", object_id, "-m", "why", env=env)
    entry = cli("reflog", "models/m/1").text.split("\t")
    assert entry[4] == "Grace Hopper <grace@example.com>"


def test_count_objects_and_fsck_clean(cli, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    cli("write-tree", folder)
    verbose = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    assert int(verbose["in-pack"]) == 7  # 4 blobs + 3 trees (root, tokenizer, empty), one pack
    assert (int(verbose["packs"]), int(verbose["count"]), int(verbose["garbage"])) == (1, 0, 0)
    result = cli("fsck")
    assert result.out == b"" and "checked 7 objects, 0 refs: ok" in result.err
    (cli.registry / "objects" / "zz").mkdir()
    (cli.registry / "objects" / "zz" / "junk").write_text("x")
    assert "garbage file" in cli.fails("fsck", code=1).text
