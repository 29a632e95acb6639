"""Provenance and lineage say what the records say (issue 11, item 13).

A model registered inside a run of recipe R on dataset D: its provenance shows the
run that generated it, the recipe and data the run used, and the data it was trained
on; an edge added later is stated as a derivation only (no activity "used" it); and
"which models used this dataset?" is answered by `data used-by` and by
`data lineage --descendants`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import prov.model
import pytest

from tests.test_recipes import prepare_recipe


@pytest.fixture
def trained(cli, tmp_path: Path) -> dict[str, str]:
    """transactions:1.0.0 -> recipe bert-finetune:1.0.0 -> run-001 -> model clf:1.0.0."""
    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip()
    cli("run", "log", run, "loss=0.5", "--step", "1")
    (tmp_path / "w.bin").write_bytes(os.urandom(3000))
    cli("model", "register", "clf", tmp_path / "w.bin", "-v", "1.0.0", "--run", run)
    cli("run", "finish", run)  # after the model pinned the run's record as it was then
    (tmp_path / "base.bin").write_bytes(os.urandom(3000))
    cli("model", "register", "base", tmp_path / "base.bin", "-v", "1.0.0")
    return {"run": run}


def prov_doc(cli, noun: str, ref: str) -> prov.model.ProvDocument:
    text = cli(noun, "provenance", ref, "--format", "prov-json").text
    return prov.model.ProvDocument.deserialize(content=text, format="json")


def used_pairs(doc: prov.model.ProvDocument) -> set[tuple[str, str]]:
    out = set()
    for usage in doc.get_records(prov.model.ProvUsage):
        attrs = dict(usage.formal_attributes)
        out.add((str(attrs[prov.model.PROV_ATTR_ACTIVITY]), str(attrs[prov.model.PROV_ATTR_ENTITY])))
    return out


def test_provenance_of_a_model_made_in_a_run(cli, trained) -> None:
    lines = cli("model", "provenance", "clf:1.0.0").lines
    assert any(line.startswith("clf:1.0.0 wasGeneratedBy run-001") for line in lines), lines
    assert "run-001 used recipe bert-finetune:1.0.0" in lines
    assert "run-001 used transactions:1.0.0" in lines
    assert "run-001 wasAssociatedWith Test User <test@example.com>" in lines
    assert "clf:1.0.0 wasDerivedFrom transactions:1.0.0 (training_data)" in lines
    assert "clf:1.0.0 wasInfluencedBy recipe bert-finetune:1.0.0 (training_recipe)" in lines
    assert "entity    transactions:1.0.0" in lines and "entity    recipe bert-finetune:1.0.0" in lines
    doc = prov_doc(cli, "model", "clf:1.0.0")
    assert used_pairs(doc) == {
        ("pacha:run/run-001", "pacha:recipe/bert-finetune/1.0.0"),
        ("pacha:run/run-001", "pacha:dataset/transactions/1.0.0"),
    }
    (run,) = doc.get_records(prov.model.ProvActivity)
    attrs = dict(run.formal_attributes)
    assert attrs[prov.model.PROV_ATTR_STARTTIME] and attrs[prov.model.PROV_ATTR_ENDTIME]  # the run's latest
    assert "completed" in str(run.get_attribute("pacha:status"))


def test_an_edge_added_later_is_not_something_the_run_used(cli, trained) -> None:
    cli("model", "lineage", "add", "clf:1.0.0", "--from", "base:1.0.0", "--relation", "fine-tuned")
    lines = cli("model", "provenance", "clf:1.0.0").lines
    assert "clf:1.0.0 wasDerivedFrom base:1.0.0 (fine-tuned) (stated later)" in lines
    assert not any("used base:1.0.0" in line for line in lines), lines
    doc = prov_doc(cli, "model", "clf:1.0.0")
    assert all("base" not in entity for _, entity in used_pairs(doc))
    (derivation,) = [
        d
        for d in doc.get_records(prov.model.ProvDerivation)
        if str(dict(d.formal_attributes)[prov.model.PROV_ATTR_USED_ENTITY]) == "pacha:model/base/1.0.0"
    ]
    assert dict(derivation.formal_attributes).get(prov.model.PROV_ATTR_ACTIVITY) is None
    # a model registered with --from and no run: its registration used the parent
    cli(
        "model",
        "register",
        "q8",
        cli.cwd / "w.bin",
        "-v",
        "1.0.0",
        "--from",
        "base:1.0.0",
        "--relation",
        "quantized",
        "--param",
        "quantization=int8",
    )
    q8 = cli("model", "provenance", "q8:1.0.0").lines
    assert any(line.startswith("q8:1.0.0 wasGeneratedBy") for line in q8)
    assert sum(" used base:1.0.0" in line for line in q8) == 1


def test_which_models_used_this_dataset(cli, trained, tmp_path: Path) -> None:
    # a second model whose card names the data it was trained on (no run)
    card = tmp_path / "card.toml"
    card.write_text('training_data = "transactions:1.0.0"\nevaluation_data = "transactions:latest"\n')
    (tmp_path / "x.bin").write_bytes(os.urandom(3000))
    cli("model", "register", "other", tmp_path / "x.bin", "-v", "2.0.0", "--card", card)
    out = json.loads(cli("data", "used-by", "transactions:1.0.0", "--json").text)
    found = {(u["kind"], u["ref"], u["how"]) for u in out["used_by"]}
    assert found == {
        ("model", "clf:1.0.0", "training_data"),
        ("model", "other:2.0.0", "training_data"),
        ("model", "other:2.0.0", "evaluation_data"),
        ("recipe", "bert-finetune:1.0.0", "train_data"),
        ("run", "run-001", "ran recipe bert-finetune:1.0.0"),
    }
    models = cli("data", "used-by", "transactions:1.0.0", "--kind", "model").text
    assert "clf:1.0.0" in models and "other:2.0.0" in models and "run-001" not in models
    tree = cli("data", "lineage", "transactions:1.0.0", "--descendants").text
    assert "model clf:1.0.0" in tree and "model other:2.0.0" in tree and "recipe bert-finetune:1.0.0" in tree
    graph = json.loads(cli("data", "lineage", "transactions:1.0.0", "--format", "json").text)
    assert {n["name"] for n in graph["nodes"] if n["kind"] == "model"} == {"clf", "other"}
    # a deleted user is listed as deleted; the index is derived (reindex rebuilds it)
    cli("model", "delete", "other:2.0.0")
    after = json.loads(cli("data", "used-by", "transactions:1.0.0", "--json").text)["used_by"]
    assert ("other:2.0.0", "deleted") in {(u["ref"], u["state"]) for u in after}
    cli("reindex")
    again = json.loads(cli("data", "used-by", "transactions:1.0.0", "--json").text)["used_by"]
    assert ("clf:1.0.0", "development") in {(u["ref"], u["state"]) for u in again}
    assert "nothing recorded" in cli("model", "used-by", "base:1.0.0").text


def test_provenance_without_a_run_claims_no_activity(cli, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    cli("data", "register", "d", tmp_path / "d.csv")
    card = tmp_path / "card.toml"
    card.write_text('training_data = "d:1.0.0"\n')
    (tmp_path / "m.bin").write_bytes(os.urandom(3000))
    cli("model", "register", "m", tmp_path / "m.bin", "--card", card)
    lines = cli("model", "provenance", "m:1.0.0").lines
    assert "m:1.0.0 wasDerivedFrom d:1.0.0 (training_data)" in lines
    assert not any(
        line.startswith(("activity", "m:1.0.0 wasGeneratedBy")) or " used " in line for line in lines
    )
