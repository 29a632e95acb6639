"""A registry never stores itself; .pachaignore and --exclude (issue 11 item 4).

The registry's directory is left out of any folder that holds it, however it is
reached; a path inside the registry is refused; `.pachaignore` (gitignore syntax)
and repeatable `--exclude` leave paths out, and the same rules apply when a folder
is only hashed (re-registering, pre-commit hooks), so a folder has one id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pathspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacha import trees
from pacha.ignore import IgnoreRules
from tests.conftest import Cli
from tests.conftest import snapshot as registry_snapshot


def _paths(registry, tree_id: str, prefix: str = "") -> set[str]:  # type: ignore[no-untyped-def]
    out: set[str] = set()
    for entry in trees.read_tree(registry.objects, tree_id).entries:
        if entry.mode == "040000":
            out |= _paths(registry, entry.id, f"{prefix}{entry.name}/")
        else:
            out.add(prefix + entry.name)
    return out


def _record(cli: Cli, ref: str, cwd: Path | None = None) -> dict:  # type: ignore[type-arg]
    return json.loads(cli("model", "get", ref, "--json", cwd=cwd).text)["record"]


@pytest.fixture
def proj(tmp_path: Path) -> tuple[Cli, Path]:
    """A project folder with its registry inside it (`pacha init` in the folder)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"weights" * 100)
    (folder / "config.json").write_text('{"layers": 2}\n')
    runner = Cli(folder / ".pacha", folder)
    runner.env.pop("PACHA_DIR")  # found as a user's would be: ./.pacha
    runner("init", "-q")
    return runner, folder


def test_registering_the_folder_that_holds_the_registry_leaves_it_out(proj, tmp_path: Path) -> None:
    cli, folder = proj
    cli("model", "register", "m", ".", "-v", "1.0.0")
    record = _record(cli, "m:1.0.0")
    import pacha

    registry = pacha.open_registry(folder / ".pacha")
    assert _paths(registry, record["artifact"]) == {"model.bin", "config.json"}
    assert record["size"] == 700 + len('{"layers": 2}\n')
    # hashing alone (re-registering the same version) names it the same: nothing changes
    assert "already registered" in cli("model", "register", "m", ".", "-v", "1.0.0").text
    assert cli("write-tree", ".").text.strip() == record["artifact"]
    cli("model", "download", "m:1.0.0", "-o", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json", "model.bin"]


def test_a_registry_deeper_in_the_folder_or_linked_is_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("a\n1\n")
    deep = folder / "state" / "reg"
    deep.parent.mkdir()
    cli = Cli(deep, tmp_path)  # PACHA_DIR points deep inside the folder
    cli("init", "-q")
    (folder / "link-to-registry").symlink_to(deep)
    cli("model", "register", "m", folder, "-v", "1.0.0")
    import pacha

    registry = pacha.open_registry(deep)
    assert _paths(registry, _record(cli, "m:1.0.0")["artifact"]) == {"data/train.csv"}
    # --registry finds the same registry: the same exclusion, the same id
    explicit = cli("write-tree", folder, "--registry", deep).text.strip()
    assert explicit == _record(cli, "m:1.0.0")["artifact"]


@pytest.mark.parametrize("inside", [".pacha", ".pacha/config.toml", ".pacha/objects", ".pacha/refs/.."])
def test_a_path_inside_the_registry_is_refused(proj, inside: str) -> None:
    cli, folder = proj
    before = registry_snapshot(folder / ".pacha")
    failed = cli.fails("model", "register", "m", inside, "-v", "1.0.0")
    assert "is inside the registry" in failed.err and len(failed.err.strip().splitlines()) == 1
    if Path(folder / inside).is_dir():
        assert "is inside the registry" in cli.fails("write-tree", inside).err
    assert registry_snapshot(folder / ".pacha") == before


def test_a_link_into_the_registry_is_refused(proj) -> None:
    cli, folder = proj
    (folder / "sneaky").symlink_to(folder / ".pacha" / "config.toml")
    assert "is inside the registry" in cli.fails("data", "register", "d", "sneaky", "-v", "1.0.0").err


def test_pachaignore_and_exclude(proj) -> None:
    cli, folder = proj
    (folder / "logs").mkdir()
    (folder / "logs" / "train.log").write_text("loss 1\n")
    (folder / "keep.log").write_text("kept\n")
    (folder / "debug.log").write_text("dropped\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "top.txt").write_text("kept: the pattern is anchored\n")
    (folder / "top.txt").write_text("dropped\n")
    (folder / "ckpt").mkdir()
    (folder / "ckpt" / "step-1.pt").write_text("old\n")
    (folder / ".pachaignore").write_text("# scratch\n*.log\n!keep.log\nlogs/\n/top.txt\n")
    cli("model", "register", "m", ".", "-v", "1.0.0", "--exclude", "ckpt/", "--exclude", "!debug.log")
    import pacha

    registry = pacha.open_registry(folder / ".pacha")
    stored = _paths(registry, _record(cli, "m:1.0.0")["artifact"])
    assert stored == {".pachaignore", "model.bin", "config.json", "keep.log", "debug.log", "sub/top.txt"}
    # the same rules when only hashing: write-tree gives the same id, and re-registering is a no-op
    same = cli("write-tree", ".", "--exclude", "ckpt/", "--exclude", "!debug.log").text.strip()
    assert same == _record(cli, "m:1.0.0")["artifact"]
    again = cli("model", "register", "m", ".", "-v", "1.0.0", "--exclude", "ckpt/", "--exclude", "!debug.log")
    assert "already registered" in again.text
    # without the --exclude options it is other content
    assert "different content" in cli.fails("model", "register", "m", ".", "-v", "1.0.0").err


def test_a_pre_commit_hook_hashes_with_the_same_exclusions(proj) -> None:
    cli, folder = proj
    hooks = folder / ".pacha" / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    (hooks / "pre-commit").chmod(0o755)
    (folder / "scratch.tmp").write_text("x\n")
    cli("model", "register", "m", ".", "-v", "1.0.0", "--exclude", "*.tmp")
    expected = cli("write-tree", ".", "--exclude", "*.tmp").text.strip()
    assert _record(cli, "m:1.0.0")["artifact"] == expected


def test_weights_info_counts_only_files_the_tree_holds(proj) -> None:
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    cli, folder = proj
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(folder / "a.safetensors"))
    save_file({"w": np.zeros((10, 10), dtype=np.float32)}, str(folder / "old.safetensors"))
    cli("model", "register", "m", ".", "-v", "1.0.0", "--exclude", "old.*")
    assert _record(cli, "m:1.0.0")["card"]["weights"]["parameter_count"] == 4


def test_bad_ignore_input_is_one_line(proj) -> None:
    cli, folder = proj
    before = registry_snapshot(folder / ".pacha")
    failed = cli.fails("model", "register", "m", ".", "-v", "1.0.0", "--exclude", "a\\")
    assert "ignore pattern 'a\\\\'" in failed.err and len(failed.err.strip().splitlines()) == 1
    (folder / "file.bin").write_bytes(b"x")
    failed = cli.fails("model", "register", "f", "file.bin", "-v", "1.0.0", "--exclude", "*.log")
    assert "--exclude applies to folders" in failed.err
    (folder / ".pachaignore").write_bytes(b"\xff\xfe*.log\n")
    assert "not UTF-8" in cli.fails("model", "register", "m", ".", "-v", "1.0.0").err
    assert registry_snapshot(folder / ".pacha") == before


_FOLDERS = st.sampled_from(["", "sub/", "sub/deep/", "d/"])
_NAMES = st.sampled_from(["a.txt", "b.log", "c.bin", "keep.log", "d"])
_PATTERNS = st.sampled_from(["*.log", "!keep.log", "d/", "/a.txt", "sub/", "*.bin", "sub/**/c.bin", "!sub/"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.sets(
        st.tuples(st.sampled_from(["", "sub/", "sub/deep/", "d/"]), _NAMES), min_size=1, max_size=10
    ),
    patterns=st.lists(_PATTERNS, max_size=4),
)
def test_stored_paths_are_those_gitignore_keeps(registry, tmp_path_factory, files, patterns) -> None:
    """Property: a tree holds exactly the files that gitignore's rules keep (an excluded
    directory's files stay out even if a later pattern re-includes them, as in Git)."""
    root = tmp_path_factory.mktemp("f")
    made = set()
    for folder, name in files:
        path = root / folder / name
        if any(p.is_file() for p in [path, *path.parents]) or path.is_dir():
            continue  # "d" as both a file and a folder: keep the first
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        made.add(f"{folder}{name}")
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)

    def kept(path: str) -> bool:
        parts = path.split("/")
        dirs = ["/".join(parts[: i + 1]) + "/" for i in range(len(parts) - 1)]
        return not any(spec.match_file(d) for d in dirs) and not spec.match_file(path)

    expected = {p for p in made if kept(p)}
    rules = IgnoreRules(patterns)
    if not expected and not made:
        return
    tree_id = trees.write_tree(registry.objects, root, ignore=rules)
    assert _paths(registry, tree_id) == expected
    assert trees.write_tree(None, root, ignore=rules) == tree_id
    assert {str(p.relative_to(root)) for p in rules.walk(root)} == expected


def test_default_rules_skip_the_stores_registry(registry, tmp_path: Path) -> None:
    """pacha.write_tree with a store and no rules still never stores that store's registry."""
    root = registry.root.parent
    (root / "x.txt").write_text("x")
    tree_id = trees.write_tree(registry.objects, root)
    assert registry.root.name not in {p.split("/")[0] for p in _paths(registry, tree_id)}
    assert os.path.exists(registry.root)
