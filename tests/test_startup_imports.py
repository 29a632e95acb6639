"""Plumbing start-up stays light: what a command imports, not how long it takes (issue 13.5).

Each command runs as the `pacha` console script does (the entry point in pyproject.toml)
under `python -X importtime`, and the modules it imported are read from that report.
Heavy third-party libraries are imported lazily by the commands that need them, so no
plumbing command may import one; nor may it import porcelain beyond what the dispatcher
itself imports (`pacha --version`). typer is not on the list: every command parses its
arguments with it. A failure names the chain of imports that pulled the module in.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
# Measured with `python -X importtime -c 'import X'` (cumulative, warm cache, this machine):
# scipy 105 ms, matplotlib 153 ms, boto3 137 ms, numpy 96 ms, gnupg 23 ms, pathspec 25 ms,
# tomlkit 20 ms, pyfastcdc 20 ms, pyzstd 17 ms, semver 15 ms, prov 12 ms, obstore 12 ms,
# rich 9 ms; cryptography and pydantic pull in large trees once used.
HEAVY = (
    "rich", "scipy", "matplotlib", "prov", "gnupg", "numpy", "boto3", "botocore", "obstore",
    "cryptography", "pydantic", "tomlkit", "semver", "pathspec", "pyfastcdc", "pyzstd",
    "safetensors", "gguf", "onnx",
)  # fmt: skip
ROW = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$")


def entry_point() -> str:
    """The `pacha` script's "module:function" from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return str(project["project"]["scripts"]["pacha"])


def imports_of(cli: Cli, *args: str, input: bytes = b"") -> dict[str, list[str]]:
    """Every module a command imported -> the chain that imported it (importer first)."""
    module, function = entry_point().split(":")
    code = f"import sys; sys.argv = ['pacha', *sys.argv[1:]]; from {module} import {function}; {function}()"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        input=input,
        capture_output=True,
        cwd=cli.cwd,
        env=cli.env,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, f"pacha {' '.join(args)} exited {proc.returncode}: {err[-2000:]}"
    rows = [(len(m[1]), m[2]) for line in err.splitlines() if (m := ROW.match(line))]
    # importtime prints a module after everything it imported, indented one step deeper
    chains: dict[str, list[str]] = {}
    for k, (depth, name) in enumerate(rows):
        chain, level = [], depth
        for later_depth, later in rows[k + 1 :]:
            if later_depth < level:
                chain.append(later)
                level = later_depth
        chains.setdefault(name, chain[::-1])
    return chains


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("startup")
    cli = Cli(tmp / "registry", tmp)
    cli("init", "-q")
    (tmp / "folder").mkdir()
    (tmp / "folder" / "a.txt").write_text("a file\n")
    (tmp / "big").write_bytes(bytes(range(256)) * 40_000)  # 10 MB: chunked when stored
    tree = cli("write-tree", tmp / "folder").text.strip()
    blob = cli("hash-object", "-w", tmp / "folder" / "a.txt").text.strip()
    cli("write-ref", "models/m/1.0.0", tree)
    pack = next((cli.registry / "objects" / "pack").glob("*.pack")).name
    return cli, {"TREE": tree, "BLOB": blob, "PACK": pack}


# Commands porcelain replaces with an edition of its own (rev-parse also resolves
# NAME:VERSION and NAME@STAGE): they may import porcelain.
PORCELAIN_EDITIONS = {"rev-parse", "gc"}
PLUMBING = [
    "--version",
    "--help",
    "cat-object -t BLOB",
    "cat-object -p TREE",
    "cat-object blob BLOB",
    "cat-object --batch-check",
    "hash-object big",
    "hash-object -w folder/a.txt",
    "write-tree folder",
    "ls-tree -r TREE",
    "rev-parse models/m/1.0.0",
    "read-ref models/m/1.0.0",
    "for-each-ref",
    "reflog models/m/1.0.0",
    "update-ref models/m/2.0.0 TREE",
    "verify-object BLOB",
    "verify-pack",
    "show-index PACK",
    "count-objects -v",
    "config core.compression_level",
    "fsck",
]


@pytest.mark.parametrize("command", PLUMBING)
def test_plumbing_imports_no_heavy_module(registry: tuple[Cli, dict[str, str]], command: str) -> None:
    cli, names = registry
    args = [names.get(word, word) for word in command.split()]
    chains = imports_of(cli, *args, input=f"{names['BLOB']}\n".encode())
    heavy = {m: chain for m, chain in chains.items() if m.split(".")[0] in HEAVY}
    shown = {m: " -> ".join([*chain, m]) for m, chain in heavy.items() if "." not in m}
    assert not heavy, f"pacha {command} imports heavy modules; import them where they are used: {shown}"
    if command.startswith("-") or command.split()[0] in PORCELAIN_EDITIONS:
        return
    baseline = imports_of(cli, "--version")
    porcelain = {m: chain for m, chain in chains.items() if m.startswith("porcelain") and m not in baseline}
    shown = {m: " -> ".join([*chain, m]) for m, chain in porcelain.items()}
    assert not porcelain, f"plumbing `pacha {command}` imports porcelain: {shown}"


def test_the_report_is_read(registry: tuple[Cli, dict[str, str]]) -> None:
    """The measure sees imports, nested and lazy: storing a large file imports pyfastcdc (to
    cut it into chunks) when it gets there, reading a blob's kind does not; pacha's own
    modules come with the chain that imported them."""
    cli, names = registry
    assert "pyfastcdc" in imports_of(cli, "hash-object", "-w", "big")
    chains = imports_of(cli, "cat-object", "-t", names["BLOB"])
    assert "pyfastcdc" not in chains
    assert any(chain for m, chain in chains.items() if m.startswith("pacha."))
