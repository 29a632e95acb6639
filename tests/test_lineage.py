"""Typed lineage: edges at registration and after the fact, refusals, cycles, formats, verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import damage_object, snapshot


def register(cli, tmp_path: Path, name: str, *extra: str) -> dict:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(os.urandom(500))
    return json.loads(cli("model", "register", name, path, *extra, "--json").text)


@pytest.fixture
def family(cli, tmp_path: Path) -> dict[str, dict]:
    base = register(cli, tmp_path, "base")
    tuned = register(cli, tmp_path, "tuned", "--from", "base:1.0.0", "--relation", "fine-tuned")
    small = register(
        cli,
        tmp_path,
        "small",
        "--from",
        "tuned:1.0.0",
        "--relation",
        "distilled",
        "--param",
        "temperature=2.5",
    )
    q8 = register(
        cli, tmp_path, "q8", "--from", "small", "--relation", "quantized", "--param", "quantization=int8"
    )
    return {"base": base, "tuned": tuned, "small": small, "q8": q8}


def lineage_json(cli, ref: str, *extra: str) -> dict:
    return json.loads(cli("model", "lineage", ref, "--format", "json", *extra).text)


def test_edges_are_recorded_in_the_record_by_id(family) -> None:
    edges = family["small"]["record"]["parents"]
    assert edges == [
        {"relation": "distilled", "record": family["tuned"]["id"], "params": {"temperature": 2.5}}
    ]
    assert family["tuned"]["id"] in family["small"]["record"]["links"]


def test_ancestors_descendants_depth(cli, family) -> None:
    up = lineage_json(cli, "q8:1.0.0", "--ancestors")
    names = {n["name"] for n in up["nodes"]}
    assert names == {"q8", "small", "tuned", "base"}
    assert {(e["relation"]) for e in up["edges"]} == {"quantized", "distilled", "fine-tuned"}
    down = lineage_json(cli, "base:1.0.0", "--descendants", "--depth", "2")
    assert {n["name"] for n in down["nodes"]} == {"base", "tuned", "small"}
    tree = cli("model", "lineage", "small:1.0.0").text
    assert "← distilled (temperature=2.5): tuned:1.0.0 [development]" in tree
    assert "→ quantized (quantization=int8): q8:1.0.0" in tree
    assert "← fine-tuned: base:1.0.0" in tree


def test_dot_and_mermaid(cli, family) -> None:
    dot = cli("model", "lineage", "small:1.0.0", "--format", "dot").text
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert f'"{family["tuned"]["id"][:12]}" -> "{family["small"]["id"][:12]}"' in dot
    mermaid = cli("model", "lineage", "small:1.0.0", "--format", "mermaid").text
    assert mermaid.startswith("graph LR")
    assert (
        f'n{family["tuned"]["id"][:12]} -->|"distilled (temperature=2.5)"| n{family["small"]["id"][:12]}'
        in mermaid
    )


def test_merged_needs_one_weight_per_source(cli, tmp_path: Path, family) -> None:
    merged = register(
        cli,
        tmp_path,
        "merged",
        "--from",
        "base:1.0.0",
        "--from",
        "q8:1.0.0",
        "--relation",
        "merged",
        "--param",
        "weights=0.25,0.75",
    )
    assert [e["params"]["weight"] for e in merged["record"]["parents"]] == [0.25, 0.75]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--from", "base:1.0.0", "--relation", "distilled"], "needs --param temperature"),
        (["--from", "base:1.0.0", "--relation", "distilled", "--param", "temperature=-1"], "> 0"),
        (["--from", "base:1.0.0", "--relation", "pruned", "--param", "sparsity=1.5"], "between 0 and 1"),
        (["--from", "base:1.0.0", "--relation", "pruned", "--param", "sparsity=lots"], "not a number"),
        (["--from", "base:1.0.0", "--relation", "quantized"], "needs --param quantization"),
        (
            ["--from", "base:1.0.0", "--from", "q8:1.0.0", "--relation", "merged", "--param", "weights=1"],
            "1 weight(s) for 2 sources",
        ),
        (["--from", "base:1.0.0", "--relation", "merged", "--param", "weights=1"], "at least two"),
        (["--from", "base:1.0.0", "--relation", "cloned"], "unknown relation"),
        (
            ["--from", "base:1.0.0", "--relation", "pruned", "--param", "sparsity=0.1", "--param", "x=1"],
            "does not take --param x",
        ),
        (["--from", "ghost:1.0.0", "--relation", "fine-tuned"], "not found"),
        (["--relation", "fine-tuned"], "needs --from"),
        (["--from", "base:1.0.0"], "needs --relation"),
        (["--from", "base:1.0.0", "--relation", "fine-tuned", "--param", "recipe=bert:1.0.0"], "recipe"),
    ],
)
def test_malformed_edges_refused_and_nothing_changes(cli, tmp_path: Path, family, extra, words) -> None:
    path = tmp_path / "child.bin"
    path.write_bytes(b"child")
    before = snapshot(cli.registry)
    result = cli.fails("model", "register", "child", path, *extra)
    assert words in result.err, result.err
    assert snapshot(cli.registry) == before


def test_add_after_the_fact_and_cycles_refused(cli, family) -> None:
    out = cli(
        "model",
        "lineage",
        "add",
        "q8:1.0.0",
        "--from",
        "base:1.0.0",
        "--relation",
        "pruned",
        "--param",
        "sparsity=0.3",
        "-m",
        "forgot this",
    ).text
    assert "q8:1.0.0 pruned from base:1.0.0" in out
    up = lineage_json(cli, "q8:1.0.0", "--ancestors", "--depth", "1")
    assert {e["relation"] for e in up["edges"]} == {"quantized", "pruned"}
    down = lineage_json(cli, "base:1.0.0", "--descendants", "--depth", "1")
    assert {n["name"] for n in down["nodes"]} == {"base", "tuned", "q8"}
    before = snapshot(cli.registry)
    cycle = cli.fails(
        "model", "lineage", "add", "base:1.0.0", "--from", "q8:1.0.0", "--relation", "fine-tuned", code=128
    )
    assert "acyclic" in cycle.err
    self_loop = cli.fails(
        "model", "lineage", "add", "base:1.0.0", "--from", "base:1.0.0", "--relation", "fine-tuned", code=128
    )
    assert "acyclic" in self_loop.err
    again = cli.fails(
        "model",
        "lineage",
        "add",
        "q8:1.0.0",
        "--from",
        "base:1.0.0",
        "--relation",
        "pruned",
        "--param",
        "sparsity=0.3",
    )
    assert "already has" in again.err
    assert snapshot(cli.registry) == before


def test_reindex_rebuilds_descendants(cli, family) -> None:
    import lmdb

    env = lmdb.open(str(cli.registry / "refs"), max_dbs=16)
    db = env.open_db(b"index:lineage", dupsort=True)
    with env.begin(write=True) as txn:
        txn.drop(db, delete=False)
    env.close()
    assert len(lineage_json(cli, "base:1.0.0", "--descendants")["nodes"]) == 1  # index lost
    assert "3 edge(s)" in cli("reindex").text
    assert len(lineage_json(cli, "base:1.0.0", "--descendants")["nodes"]) == 4


def test_verify_detects_tampering_anywhere_in_the_ancestry(cli, family) -> None:
    assert "ok" in cli("verify", "q8:1.0.0").text
    base_artifact = family["base"]["record"]["artifact"]
    damage_object(cli.registry, base_artifact, from_end=1)
    result = cli.fails("verify", "q8:1.0.0", code=1)
    assert base_artifact in result.err
    assert base_artifact in cli.fails("verify", "tuned", "-v", "1.0.0", code=1).err


def test_rev_parse_understands_version_references(cli, family) -> None:
    cli("model", "stage", "q8:1.0.0", "-t", "production")
    assert cli("rev-parse", "q8@production").text.strip() == family["q8"]["id"]
    assert cli("rev-parse", "base:latest", "models/tuned/1.0.0").lines == [
        family["base"]["id"],
        family["tuned"]["id"],
    ]
    cli.fails("rev-parse", "ghost:1.0.0", code=1)
