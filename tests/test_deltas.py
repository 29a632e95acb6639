"""A new version of a file that differs from its base in a few bytes is stored as a delta of a
few hundred bytes, whatever the base's size and at the default compression level (1).

At level 1 zstd's match finder indexes only a few thousand positions of the prefix, so before
long-distance matching was enabled for every delta, a base over ~128 KB found almost no match:
a 1.4 MiB CSV with one edited row gave a 680 KB "delta" (no better than compressing alone), and
no delta was kept."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacha.codec import DELTA
from pacha.registry import init_registry


def stored_bytes(root: Path) -> int:
    """Bytes of every object file, loose or packed (pack indexes included)."""
    return sum(p.stat().st_size for p in (root / "objects").rglob("*") if p.is_file())


def table(rows: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{i},{rng.random():.9f},{rng.random():.9f},{rng.choice(['cat', 'dog', 'eel'])}\n"
        for i in range(rows)
    ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.integers(min_value=200, max_value=120_000),  # 8 KB .. 5 MB: under the chunking threshold
    where=st.floats(min_value=0.0, max_value=1.0),
    edit=st.sampled_from(["replace", "insert", "delete"]),
)
def test_a_small_edit_of_any_size_of_file_is_a_tiny_delta(
    tmp_path: Path, rows: int, where: float, edit: str
) -> None:
    registry, _ = init_registry(Path(tempfile.mkdtemp(dir=tmp_path)) / "registry")  # one per example
    lines = table(rows, seed=rows)
    v1 = "".join(lines).encode()
    at = min(int(where * rows), rows - 1)
    if edit == "replace":
        lines[at] = f"{at},edited\n"
    elif edit == "insert":
        lines.insert(at, "a new row\n")
    else:
        del lines[at]
    v2 = "".join(lines).encode()
    (registry.root / "v1.csv").write_bytes(v1)
    (registry.root / "v2.csv").write_bytes(v2)
    base = registry.objects.put_file(registry.root / "v1.csv")
    before = stored_bytes(registry.root)
    object_id = registry.objects.put_file(registry.root / "v2.csv", base=base)
    assert registry.objects.stat(object_id).encoding == DELTA
    assert stored_bytes(registry.root) - before < 2048  # a few hundred bytes of delta, not a recompression
    assert registry.objects.read(object_id) == v2


def test_registering_an_edited_dataset_stores_a_delta_through_the_cli(cli, tmp_path: Path) -> None:
    """The user's view: `data register` of v2 of a 1.4 MiB CSV with one row changed adds
    a few hundred bytes to the store (`count-objects -v` size-pack), not another copy."""
    lines = table(16_000, seed=5)
    data = tmp_path / "train.csv"
    data.write_text("".join(lines))
    cli("data", "register", "train", data, "-v", "1.0.0")

    def stored() -> int:
        fields = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
        return int(fields["size-pack"]) * 1024 + int(fields["size"]) * 1024

    before = stored()
    lines[8000] = "8000,edited\n"
    data.write_text("".join(lines))
    cli("data", "register", "train", data, "-v", "1.0.1")
    assert stored() - before < 16 * 1024  # records, card and a delta; v1 alone is ~700 KB compressed
    assert cli("data", "download", "train:1.0.1", "-o", tmp_path / "out.csv").code == 0
    assert (tmp_path / "out.csv").read_text() == "".join(lines)
