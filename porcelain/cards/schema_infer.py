"""What a tabular data file tells about itself: row count, column types, missing values.

CSV, TSV and JSON Lines are read as a stream (bounded memory); types and missing
values are taken from the first SAMPLE_ROWS rows, rows are counted to the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import operator
import re
from pathlib import Path
from typing import IO, Any

SAMPLE_ROWS = 10_000
SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
_ORDER = ["bool", "int", "float", "string"]
# The fields pandas.read_csv reads as missing by default (its `na_values` list, exactly
# these spellings, compared after surrounding whitespace is stripped): a missing value
# counts in no column's type, so `NA` in a numeric column leaves it numeric.
MISSING_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def is_missing(text: str) -> bool:
    """A CSV/TSV field that stands for a missing value (see MISSING_TOKENS)."""
    return text.strip() in MISSING_TOKENS


def _type_of_text(text: str) -> str | None:
    """bool, int, float, date, datetime or string; None for a missing value."""
    text = text.strip()
    if text in MISSING_TOKENS:
        return None
    if text.lower() in ("true", "false"):
        return "bool"
    try:
        int(text)
        return "int"
    except ValueError:
        pass
    try:
        float(text)
        return "float"
    except ValueError:
        pass
    return _date_type(text) or "string"


def _date_type(text: str) -> str | None:
    try:
        if _DATE.fullmatch(text):
            dt.date.fromisoformat(text)
            return "date"
        if _DATETIME.fullmatch(text):
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return "datetime"
    except ValueError:
        pass
    return None


def _type_of_json(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # null, NaN
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return _date_type(value) or "string"
    return "list" if isinstance(value, list) else "object"


def _widen(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    if {a, b} == {"date", "datetime"}:
        return "datetime"
    return "string"


def infer(path: Path) -> dict[str, Any] | None:
    """What a CSV, TSV or JSON Lines file says about itself, or None for other files.

    Returns {"instance_count": rows, "feature_schema": {column: type},
    "missing_values": {column: count}, "missing_values_rows": rows examined}: types
    (bool, int, float, date, datetime, string; list and object in JSON Lines; "null" if
    every value is missing) and missing values are taken from the first SAMPLE_ROWS rows,
    which missing_values_rows says; rows are counted to the end.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES or not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        delimiter = SUFFIXES[suffix]
        found = _json_lines(f) if delimiter is None else _delimited(f, delimiter, path)
    if found is None:
        return None
    rows, sampled, types, missing = found
    return {
        "instance_count": rows,
        "feature_schema": {k: v or "null" for k, v in types.items()},
        "missing_values": missing,
        "missing_values_rows": sampled,
    }


# (rows, rows sampled, column -> type or None, column -> missing count)
Facts = tuple[int, int, dict[str, str | None], dict[str, int]]


def _json_lines(f: IO[str]) -> Facts | None:
    """The facts of a JSON Lines file; None if a sampled line is not JSON (say nothing rather than guess)."""
    types: dict[str, str | None] = {}
    docs = []
    rows = 0
    for line in f:
        if not line.strip():
            continue
        rows += 1
        if rows <= SAMPLE_ROWS:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                return None
            if isinstance(doc, dict):
                docs.append(doc)
                for key, value in doc.items():
                    types[key] = _widen(types.get(key), _type_of_json(value))
    # a key a row leaves out is missing there too
    missing = {key: sum(1 for doc in docs if _type_of_json(doc.get(key)) is None) for key in types}
    return rows, min(rows, SAMPLE_ROWS), types, missing


def _delimited(f: IO[str], delimiter: str, path: Path) -> Facts:
    """The facts of a CSV or TSV file: its header names the columns."""
    reader = csv.reader(f, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return 0, 0, {}, {}
    types: dict[str, str | None] = dict.fromkeys(header)
    missing = dict.fromkeys(header, 0)
    rows = 0
    fast = None
    for record in reader:
        if not record:
            continue
        rows += 1
        for index, column in enumerate(header):
            # a row shorter than the header leaves its last fields missing
            kind = _type_of_text(record[index]) if index < len(record) else None
            if kind is None:
                missing[column] += 1
            else:
                types[column] = _widen(types[column], kind)
        if rows == SAMPLE_ROWS:
            fast = _count_unquoted_records(path)
            break
    sampled = rows
    if fast is not None:
        rows = fast - 1  # the header is a line too
    else:
        rows += sum(1 for record in reader if record)
    return rows, sampled, types, missing


_BLANK_LINE = re.compile(rb"\n[\r\n]")  # twice as fast as `b"\n\n" in block` where lines are short


def _count_unquoted_records(path: Path, block_size: int = 8 << 20) -> int | None:
    """Non-blank lines of a file without any quote character (None if it has one: a quoted
    field may hold a newline, and only the csv module counts those right).

    Without blank lines, that is the number of newlines (plus an unterminated last
    line), counted in C block by block; a file with blank lines is counted line by line.
    """
    lines = 0
    previous = b"\n"  # the file starts at a line start
    with open(path, "rb") as f:
        while block := f.read(block_size):
            if b'"' in block:
                return None
            blank = _BLANK_LINE.search(block) or (previous == b"\n" and block[:1] in b"\r\n")
            if blank:
                lines = -1
            if lines >= 0:
                lines += block.count(b"\n")
            previous = block[-1:]
        if lines >= 0:
            return lines + (previous != b"\n")  # an unterminated last line counts too
        f.seek(0)
        return sum(map(bool, map(operator.methodcaller("rstrip", b"\r\n"), f)))
