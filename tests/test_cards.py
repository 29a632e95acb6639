"""Model Cards: pinned references, header facts of weights files, rendering."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from porcelain.cards.weights_info import describe

CARD = """
description = "Detects fraudulent card transactions"
training_data = "transactions:1.0.0"
evaluation_data = "transactions:latest"
training_date = 2026-03-01T10:00:00Z
training_duration = "3h 20m"
primary_uses = ["Score card transactions for fraud review"]
out_of_scope_uses = ["Credit decisions"]
limitations = ["Trained on 2025 data only"]
ethical_considerations = ["False positives block legitimate customers"]
license = "apache-2.0"
tags = ["fraud", "tabular"]
[metrics]
auc = 0.93
"""


def write_safetensors(path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((30, 40), dtype=np.float32), "b": np.zeros(40, dtype=np.float16)}, str(path))


def write_gguf(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_file_type(15)  # MOSTLY_Q4_K_M
    writer.add_tensor("a", np.zeros((2, 5), dtype=np.float32))
    writer.add_tensor("b", np.zeros(7, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = [
        numpy_helper.from_array(np.ones((3, 4), np.float32), "W"),
        numpy_helper.from_array(np.ones(4, np.int64), "B"),
    ]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        initializer=weights,
    )
    onnx.save(helper.make_model(graph, producer_name="pacha-test"), str(path))


def test_header_facts_of_real_weights_files(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "m.safetensors")
    write_gguf(tmp_path / "m.gguf")
    write_onnx(tmp_path / "m.onnx")
    assert describe(tmp_path / "m.safetensors") == {
        "format": "safetensors",
        "tensor_count": 2,
        "parameter_count": 1240,
        "dtypes": ["F16", "F32"],
    }
    gguf_info = describe(tmp_path / "m.gguf")
    assert gguf_info["tensor_count"] == 2 and gguf_info["parameter_count"] == 17
    assert gguf_info["quantization"] == "MOSTLY_Q4_K_M" and gguf_info["architecture"] == "llama"
    onnx_info = describe(tmp_path / "m.onnx")
    assert onnx_info["tensor_count"] == 2 and onnx_info["parameter_count"] == 16
    assert onnx_info["dtypes"] == ["FLOAT", "INT64"] and onnx_info["producer"] == "pacha-test"


@pytest.mark.parametrize("name", ["x.safetensors", "x.gguf", "x.onnx"])
def test_garbage_with_a_weights_name_is_not_described(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"GGUF" + b"\xff" * 64 if name.endswith("gguf") else b"\xff" * 64)
    assert describe(path) is None


@pytest.fixture
def dataset(cli, tmp_path: Path) -> None:
    data = tmp_path / "tx.csv"
    data.write_text("a,b\n1,2\n")
    cli("data", "register", "transactions", data)


def test_card_references_are_pinned_and_weights_described(cli, tmp_path: Path, dataset) -> None:
    model = tmp_path / "model.safetensors"
    write_safetensors(model)
    card = tmp_path / "card.toml"
    card.write_text(CARD)
    record = json.loads(cli("model", "register", "fraud-detector", model, "--card", card, "--json").text)
    data_id = json.loads(cli("data", "get", "transactions:1.0.0", "--json").text)["id"]
    fields = record["record"]["card"]
    assert fields["training_data"] == {"ref": "transactions:1.0.0", "id": data_id}
    assert fields["evaluation_data"] == {"ref": "transactions:1.0.0", "id": data_id}  # latest, pinned
    assert data_id in record["record"]["links"]
    assert fields["weights"]["parameter_count"] == 1240
    assert record["record"]["metrics"] == {"auc": 0.93}
    assert "ok" in cli("verify", "fraud-detector:1.0.0").text


def test_unregistered_references_are_refused(cli, tmp_path: Path) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"m")
    card = tmp_path / "card.toml"
    card.write_text('training_data = "ghost:1.0.0"\n')
    assert "not registered" in cli.fails("model", "register", "m", model, "--card", card, code=1).err
    card.write_text('training_recipe = "bert-finetune:1.0.0"\n')
    assert "recipe" in cli.fails("model", "register", "m", model, "--card", card, code=1).err


def test_folder_weights_are_summed(cli, tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    write_safetensors(folder / "model-00001-of-00002.safetensors")
    write_safetensors(folder / "model-00002-of-00002.safetensors")
    (folder / "config.json").write_text("{}")
    record = json.loads(cli("model", "register", "hf", folder, "--json").text)
    weights = record["record"]["card"]["weights"]
    assert weights["files"] == 2 and weights["parameter_count"] == 2480


def test_card_renders(cli, tmp_path: Path, dataset) -> None:
    model = tmp_path / "model.gguf"
    write_gguf(model)
    card = tmp_path / "card.toml"
    card.write_text(CARD)
    cli("model", "register", "fraud-detector", model, "--card", card)
    md = cli("model", "card", "fraud-detector:1.0.0", "--format", "md").text
    front, body = md.split("---\n")[1], md.split("---\n", 2)[2]
    assert 'license: "apache-2.0"' in front and "model-index:" in front and 'type: "auc"' in front
    assert "value: 0.93" in front
    for heading in (
        "# fraud-detector 1.0.0",
        "## Uses",
        "### Out-of-Scope Use",
        "## Bias, Risks, and Limitations",
        "## Training Details",
        "## Evaluation",
        "quantization MOSTLY_Q4_K_M",
    ):
        assert heading in body
    as_toml = tomllib.loads(cli("model", "card", "fraud-detector:1.0.0").text)
    assert as_toml["training_data"] == "transactions:1.0.0" and as_toml["metrics"] == {"auc": 0.93}
    again = tmp_path / "again.toml"
    exported = cli("model", "card", "fraud-detector:1.0.0").text.replace(
        'version = "1.0.0"', 'version = "1.1.0"'
    )
    again.write_text(exported)
    model.write_bytes(model.read_bytes() + b"\0")
    second = json.loads(cli("model", "register", "fraud-detector", model, "--card", again, "--json").text)
    assert second["version"] == "1.1.0"  # an exported card registers again as is
    assert (
        json.loads(cli("model", "card", "fraud-detector:1.1.0", "--format", "json").text)["card"]["license"]
        == "apache-2.0"
    )
    cli.fails("model", "card", "fraud-detector:1.0.0", "--format", "pdf", code=128)


def test_only_weights_files_in_a_folder_are_opened(tmp_path: Path) -> None:
    from porcelain.versions.artifacts import weights_info

    folder = tmp_path / "f"
    folder.mkdir()
    write_gguf(folder / "model.bin")  # GGUF bytes under another name: not looked at inside a folder
    (folder / "notes.txt").write_text("x")
    assert weights_info(folder) is None
    write_safetensors(folder / "w.safetensors")
    assert weights_info(folder)["files"] == 1
    assert describe(folder / "model.bin")["format"] == "gguf v3"  # a single file is sniffed by magic
