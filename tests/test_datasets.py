"""Datasets: datasheets, schema inference for CSV/TSV/JSON Lines, PROV-DM provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porcelain.cards.schema_infer import infer


def data_json(cli, *args: str) -> dict:
    return json.loads(cli("data", *args, "--json").text)


def test_csv_schema_and_count_are_filled(cli, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("id,amount,fraud,city\n1,10.5,true,Lima\n2,3,false,Cusco\n3,,false,\n")
    card = data_json(cli, "register", "tx", path, "-p", "fraud training data")["record"]["card"]
    assert card["instance_count"] == 3
    assert card["feature_schema"] == {"id": "int", "amount": "float", "fraud": "bool", "city": "string"}
    assert card["purpose"] == "fraud training data"


def test_datasheet_overrides_inference(cli, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"x": 1, "y": "a"}\n{"x": 2.5, "y": null, "z": [1]}\n')
    sheet = tmp_path / "sheet.toml"
    sheet.write_text(
        'purpose = "benchmark"\ncreators = ["Ada", "Grace"]\nlicense = "CC-BY-4.0"\n'
        'sensitive_features = ["y"]\ninstance_count = 1000\ncollection_start = 2026-01-01\n'
        '[label_schema]\nx = "float"\n'
    )
    card = data_json(cli, "register", "rows", path, "--datasheet", sheet)["record"]["card"]
    assert card["instance_count"] == 1000  # the user's word wins
    assert card["feature_schema"] == {"x": "float", "y": "string", "z": "list"}
    assert card["creators"] == ["Ada", "Grace"] and card["license"] == "CC-BY-4.0"
    assert card["collection_start"] == "2026-01-01"
    assert card["label_schema"] == {"x": "float"}


@pytest.mark.parametrize(
    "sheet, words",
    [
        ('purpose = "x"\ncolour = "blue"\n', "unknown field 'colour'"),
        ("instance_count = -3\n", "non-negative integer"),
        ("creators = 'just one'\n", "list of strings"),
        ("[feature_schema]\nx = 1\n", "column"),
    ],
)
def test_bad_datasheets_refused(cli, tmp_path: Path, sheet: str, words: str) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(b"data")
    sheet_path = tmp_path / "sheet.toml"
    sheet_path.write_text(sheet)
    assert words in cli.fails("data", "register", "d", path, "--datasheet", sheet_path, code=128).err


def test_tsv_and_empty_and_other_files(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text("a\tb\n1\tx\n2\t\n")
    assert infer(tsv) == {
        "instance_count": 2,
        "feature_schema": {"a": "int", "b": "string"},
        "missing_values": {"a": 0, "b": 1},
        "missing_values_rows": 2,
    }
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert infer(empty) == {
        "instance_count": 0,
        "feature_schema": {},
        "missing_values": {},
        "missing_values_rows": 0,
    }
    assert infer(tmp_path / "model.bin") is None


@given(
    st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=30),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=30),
)
def test_inferred_types_hold_for_every_row(tmp_path_factory, ints: list[int], floats: list[float]) -> None:
    path = tmp_path_factory.mktemp("csv") / "n.csv"
    rows = max(len(ints), len(floats))
    lines = ["i,f"] + [
        f"{ints[k] if k < len(ints) else ''},{repr(floats[k]) if k < len(floats) else ''}"
        for k in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    result = infer(path)
    assert result["instance_count"] == rows
    assert result["feature_schema"]["i"] == "int"
    assert result["feature_schema"]["f"] in ("int", "float")


def test_provenance_prov_json_loads_and_names_the_chain(cli, tmp_path: Path) -> None:
    import prov.model

    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n3,4\n")
    cli("data", "register", "raw", raw, "-p", "collected")
    clean = tmp_path / "clean.csv"
    clean.write_text("a,b\n1,2\n")
    cli("data", "register", "clean", clean, "--derived-from", "raw:1.0.0", "--transform", "dedupe")
    feats = tmp_path / "feats.csv"
    feats.write_text("a\n1\n")
    cli("data", "register", "feats", feats, "--derived-from", "clean:latest", "--transform", "select a")
    text = cli("data", "provenance", "feats:latest", "--format", "prov-json").text
    doc = prov.model.ProvDocument.deserialize(content=text, format="json")
    entities = {str(r.identifier) for r in doc.get_records(prov.model.ProvEntity)}
    assert entities == {"pacha:dataset/feats/1.0.0", "pacha:dataset/clean/1.0.0", "pacha:dataset/raw/1.0.0"}
    activities = [r for r in doc.get_records(prov.model.ProvActivity)]
    assert sorted(str(next(iter(a.get_attribute("prov:label")))) for a in activities) == [
        "dedupe",
        "select a",
    ]
    assert len(list(doc.get_records(prov.model.ProvAgent))) == 1
    assert len(list(doc.get_records(prov.model.ProvDerivation))) == 2
    assert len(list(doc.get_records(prov.model.ProvGeneration))) == 2
    assert len(list(doc.get_records(prov.model.ProvUsage))) == 2
    assert len(list(doc.get_records(prov.model.ProvAttribution))) == 3
    provn = cli("data", "provenance", "feats:latest", "--format", "prov-n").text
    assert provn.startswith("document") and "wasDerivedFrom(pacha:dataset/feats/1.0.0" in provn
    tree = cli("data", "provenance", "feats:latest").text
    assert "clean:1.0.0 wasDerivedFrom raw:1.0.0" in tree
    assert "wasAttributedTo Test User <test@example.com>" in tree


def test_derived_needs_a_transform(cli, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    cli("data", "register", "src", path)
    result = cli.fails("data", "register", "dst", path, "--derived-from", "src:1.0.0", code=2)
    assert "--transform" in result.err


@pytest.mark.parametrize("quoted", [False, True])
def test_row_count_of_a_long_csv_matches_the_csv_module(tmp_path: Path, quoted: bool) -> None:
    import csv

    from porcelain.cards.schema_infer import SAMPLE_ROWS, infer

    path = tmp_path / "long.csv"
    with open(path, "w", newline="") as f:
        f.write("id,text\n")
        for i in range(SAMPLE_ROWS * 2 + 7):
            f.write(f'{i},"line one\nline two"\n' if quoted and i % 1000 == 0 else f"{i},plain\n")
            if i % 5000 == 0:
                f.write("\n")  # blank lines are not records
    with open(path, newline="") as f:
        expected = sum(1 for record in csv.reader(f) if record) - 1
    assert infer(path)["instance_count"] == expected == SAMPLE_ROWS * 2 + 7


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(alphabet="ab,1 \r", max_size=6), st.just(""), st.just("\r")),
        max_size=30,
    ),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from([1, 2, 3, 7, 8 << 20]),
)
def test_fast_row_count_agrees_with_counting_line_by_line(
    tmp_path_factory, lines, newline, last, block_size
) -> None:
    from porcelain.cards.schema_infer import _count_unquoted_records

    path = tmp_path_factory.mktemp("rows") / "t.csv"
    data = newline.join(lines) + (newline if last else "")
    path.write_bytes(data.encode())
    expected = sum(1 for line in data.encode().split(b"\n") if line.rstrip(b"\r\n"))
    assert _count_unquoted_records(path, block_size) == expected  # blocks split lines anywhere
