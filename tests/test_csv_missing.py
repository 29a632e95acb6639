"""Issue 11.20: missing-value tokens count in no column's type, and the datasheet counts them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from porcelain.cards.schema_infer import MISSING_TOKENS, SAMPLE_ROWS, infer

PENGUINS = """species,island,bill_length_mm,body_mass_g,sex,year
Adelie,Torgersen,39.1,3750,male,2007
Adelie,Torgersen,39.5,3800,female,2007
Adelie,Torgersen,NA,NA,NA,2007
Adelie,Torgersen,36.7,3450,female,2007
Gentoo,Biscoe,46.1,4500,NA,2009
"""


def test_penguins_body_mass_is_numeric_and_missing_counted(cli, tmp_path: Path) -> None:
    (tmp_path / "penguins.csv").write_text(PENGUINS)
    cli("data", "register", "penguins", "penguins.csv", "-v", "1.0.0")
    card = json.loads(cli("data", "get", "penguins:1.0.0", "--json").text)["record"]["card"]
    assert card["feature_schema"] == {
        "species": "string",
        "island": "string",
        "bill_length_mm": "float",
        "body_mass_g": "int",
        "sex": "string",
        "year": "int",
    }
    assert card["missing_values"] == {
        "species": 0,
        "island": 0,
        "bill_length_mm": 1,
        "body_mass_g": 1,
        "sex": 2,
        "year": 0,
    }
    assert card["missing_values_rows"] == card["instance_count"] == 5


def test_a_datasheet_may_state_missing_values_but_not_nonsense(cli, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    (tmp_path / "sheet.toml").write_text("[missing_values]\na = -1\n")
    result = cli.fails("data", "register", "d", "d.csv", "-v", "1.0.0", "--datasheet", "sheet.toml")
    assert "missing_values" in result.err
    (tmp_path / "sheet.toml").write_text("[missing_values]\na = 0\n")
    cli("data", "register", "d", "d.csv", "-v", "1.0.0", "--datasheet", "sheet.toml")


def test_json_lines_null_nan_and_absent_keys_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": null}\n{"a": NaN, "b": "2024-01-01"}\n')
    result = infer(path)
    assert result["feature_schema"] == {"a": "int", "b": "string"}
    assert result["missing_values"] == {"a": 2, "b": 1}


def test_short_rows_and_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,c\n1,2.5,x\n2\n 3 , NA ,\n")
    result = infer(path)
    assert result["feature_schema"] == {"a": "int", "b": "float", "c": "string"}
    assert result["missing_values"] == {"a": 0, "b": 2, "c": 2}


def test_counts_are_over_the_sampled_rows_and_say_so(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = SAMPLE_ROWS + 500
    path.write_text("x\n" + "".join("NA\n" if k % 10 == 0 else f"{k}\n" for k in range(rows)))
    result = infer(path)
    assert result["instance_count"] == rows
    assert result["missing_values_rows"] == SAMPLE_ROWS
    assert result["missing_values"] == {"x": SAMPLE_ROWS // 10}
    assert result["feature_schema"] == {"x": "int"}


VALUES = {
    "int": st.integers(min_value=-(10**9), max_value=10**9).map(str),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: repr(v + 0.5)),
    "bool": st.sampled_from(["true", "false", "True", "FALSE"]),
    "date": st.dates().map(lambda d: d.isoformat()).filter(lambda t: len(t) == 10),
    "datetime": st.datetimes().map(lambda d: d.isoformat(timespec="seconds")).filter(lambda t: len(t) == 19),
    "string": st.text(alphabet="abcxyz", min_size=1, max_size=8).filter(
        lambda t: t.lower() not in ("true", "false") and t.strip() not in MISSING_TOKENS
    ),
}


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(VALUES)).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            st.lists(
                st.one_of(VALUES[kind], st.sampled_from(sorted(MISSING_TOKENS))), min_size=1, max_size=40
            ).filter(lambda cells: any(c not in MISSING_TOKENS for c in cells)),
        )
    ),
    st.sampled_from([".csv", ".tsv"]),
    st.randoms(),
)
def test_missing_tokens_never_change_a_type(tmp_path_factory, column, suffix, rnd: random.Random) -> None:
    kind, cells = column
    sep = "," if suffix == ".csv" else "\t"
    path = tmp_path_factory.mktemp("csv") / f"d{suffix}"
    spaced = [f" {c} " if rnd.random() < 0.2 else c for c in cells]
    path.write_text(f"v{sep}k\n" + "".join(f"{c}{sep}1\n" for c in spaced))
    result = infer(path)
    assert result["feature_schema"]["v"] == kind
    assert result["missing_values"] == {"v": sum(c in MISSING_TOKENS for c in cells), "k": 0}
    assert result["instance_count"] == len(cells)
