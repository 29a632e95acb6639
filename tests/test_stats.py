"""pacha stats: counts and savings."""

from __future__ import annotations

import json
import os
from pathlib import Path


def test_stats_counts_and_savings(cli, tmp_path: Path) -> None:
    weights = os.urandom(50_000)
    text = b"a,b,c\n" + b"1,2,3\n" * 20_000
    (tmp_path / "m.bin").write_bytes(weights)
    (tmp_path / "d.csv").write_bytes(text)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    cli("model", "register", "m-copy", tmp_path / "m.bin", "-v", "1.0.0")  # same bytes: deduplicated
    cli("data", "register", "d", tmp_path / "d.csv")
    s = json.loads(cli("stats", "--json").text)
    assert (s["models"], s["model_versions"], s["datasets"], s["dataset_versions"]) == (2, 2, 1, 1)
    assert s["logical_bytes"] == 2 * len(weights) + len(text)
    assert s["content_bytes"] == len(weights) + len(text)
    assert s["dedup_saving"] == len(weights)
    assert s["compression_saving"] > len(text) * 0.9  # the CSV compresses very well
    assert s["objects"] == 2 + 3  # two blobs, three records
    human = cli("stats").text
    assert "saved by dedup" in human and "2 versions" in human
