"""What a tabular data file tells about itself: row count and column types.

CSV, TSV and JSON Lines are read as a stream (bounded memory); types are
inferred from the first SAMPLE_ROWS rows, rows are counted to the end.
"""

from __future__ import annotations

import csv
import json
import operator
import re
from pathlib import Path
from typing import Any

SAMPLE_ROWS = 10_000
SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
_ORDER = ["bool", "int", "float", "string"]


def _type_of_text(text: str) -> str | None:
    if text == "":
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
        return "string"


def _type_of_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def _widen(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    if a in _ORDER and b in _ORDER:
        return "string"
    return "string"


def infer(path: Path) -> dict[str, Any] | None:
    """{"instance_count": N, "feature_schema": {column: type}} or None for other files."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES or not path.is_file():
        return None
    types: dict[str, str | None] = {}
    rows = 0
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        if SUFFIXES[suffix] is None:
            for line in f:
                if not line.strip():
                    continue
                rows += 1
                if rows <= SAMPLE_ROWS:
                    try:
                        doc = json.loads(line)
                    except json.JSONDecodeError:
                        return None  # not JSON Lines after all: say nothing rather than guess
                    if isinstance(doc, dict):
                        for key, value in doc.items():
                            types[key] = _widen(types.get(key), _type_of_json(value))
        else:
            reader = csv.reader(f, delimiter=SUFFIXES[suffix])
            header = next(reader, None)
            if header is None:
                return {"instance_count": 0, "feature_schema": {}}
            for column in header:
                types[column] = None
            fast = None
            for record in reader:
                if not record:
                    continue
                rows += 1
                for column, text in zip(header, record, strict=False):
                    types[column] = _widen(types[column], _type_of_text(text))
                if rows == SAMPLE_ROWS:
                    fast = _count_unquoted_records(path)
                    break
            if fast is not None:
                rows = fast - 1  # the header is a line too
            else:
                rows += sum(1 for record in reader if record)
    return {"instance_count": rows, "feature_schema": {k: v or "null" for k, v in types.items()}}


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
