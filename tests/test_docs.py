"""The Python example in docs/api.md runs as written (docs stay true)."""

from __future__ import annotations

import os
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_api_example_runs(tmp_path: Path, monkeypatch) -> None:
    code = re.search(r"```python\n(.*?)```", (DOCS / "api.md").read_text(), re.S)[1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(os.urandom(20_000))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bert" / "tokenizer").mkdir(parents=True)
    (tmp_path / "bert" / "config.json").write_text("{}")
    (tmp_path / "bert" / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    exec(compile(code, "docs/api.md", "exec"), {})
    assert (tmp_path / "restored" / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"
