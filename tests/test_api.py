"""The porcelain Python API, as a training script uses it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pacha
from porcelain import Registry


@pytest.fixture
def reg(tmp_path: Path, monkeypatch) -> Registry:
    pacha.init_registry(tmp_path / ".pacha")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PACHA_DIR", raising=False)
    return Registry.open()


def test_training_script_flow(reg: Registry, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,0\n2,1\n")
    ds = reg.register_dataset("train", data, purpose="toy").version
    assert ds.record.card["instance_count"] == 2
    base = tmp_path / "base.bin"
    base.write_bytes(os.urandom(200))
    v1 = reg.register_model("clf", base, card={"training_data": "train:1.0.0"}, metrics={"auc": 0.8}).version
    assert (v1.version, v1.stage) == ("1.0.0", "development")
    assert v1.record.card["training_data"]["id"] == ds.record_id
    tuned = tmp_path / "tuned.bin"
    tuned.write_bytes(os.urandom(200))
    v2 = reg.register_model("clf-tuned", tuned, parents=["clf:1.0.0"], relation="fine-tuned").version
    merged = tmp_path / "merged.bin"
    merged.write_bytes(os.urandom(200))
    reg.register_model(
        "clf-merged",
        merged,
        parents=["clf:1.0.0", "clf-tuned:1.0.0"],
        relation="merged",
        params={"weights": [0.5, 0.5]},
    )
    moves = reg.stage("clf-tuned:1.0.0", "production", why="ship it")
    assert [(m.from_stage, m.to_stage) for m in moves] == [("development", "production")]
    assert reg.get_model("clf-tuned@production").record_id == v2.record_id
    graph = reg.lineage("clf:1.0.0", ancestors=False)
    assert {n.name for n in graph.nodes.values()} == {"clf", "clf-tuned", "clf-merged"}
    with pytest.raises(pacha.PachaError, match=r"needs params\['temperature'\]"):
        reg.register_model("bad", tuned, parents=["clf:1.0.0"], relation="distilled")
    derived = tmp_path / "clean.csv"
    derived.write_text("x,y\n1,0\n")
    clean = reg.register_dataset("clean", derived, derived_from=["train:1.0.0"], transform="dedupe").version
    assert clean.record.parents[0].record == ds.record_id
