"""docs/format.md is a contract: a reader written from it alone reads a real registry.

The registry is built with the `pacha` command only: a model folder (small files, a
subfolder, a chunked 9 MiB weights file) in three versions (the later ones stored as
zstd deltas, chunk against chunk, and a small file as a delta of its earlier version),
a repack, eight more packs and a multi-pack index over them, a version written after it
(a pack the multi-pack index does not name, deltas against bases in the repacked pack),
and loose objects (records, hash-object -w). tests/format_reader.py then reads every
stored copy and checks every id, and what it finds must be what the plumbing lists.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.format_reader import (
    CHUNKS,
    DELTA,
    ENCODING_NAMES,
    IDENTITY,
    ZSTD,
    FormatError,
    MultiPackIndex,
    Pack,
    PackIndex,
    Registry,
    parse_header,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "format.md"
MIB = 1 << 20


def _write_version(folder: Path, seed: int, weights: bytearray) -> None:
    rng = random.Random(seed)
    for _ in range(10):  # in-place edits, as a fine-tune makes: same size, same cut points
        start = rng.randrange(len(weights) - 100)
        weights[start : start + 100] = rng.randbytes(100)
    (folder / "weights.bin").write_bytes(weights)
    (folder / "config.json").write_text(f'{{"hidden": {512 + seed}, "layers": 12}}\n' * 40)
    rows = [f"{i},{random.Random(i).random():.6f}\n" for i in range(2000)]
    rows[seed] = f"{seed},edited in version {seed}\n"
    (folder / "tok" / "rows.csv").write_text("".join(rows))  # ~27 KB: stored as a delta


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Registry]:
    tmp = tmp_path_factory.mktemp("format")
    cli = Cli(tmp / "registry", tmp)
    cli("init", "-q")
    model = tmp / "model"
    (model / "tok").mkdir(parents=True)
    weights = bytearray(random.Random(0).randbytes(9 * MIB))  # over 8 MiB: chunked
    _write_version(model, 1, weights)
    cli("model", "register", "demo", model, "-v", "1.0.0")
    _write_version(model, 2, weights)
    cli("model", "register", "demo", model, "-v", "1.1.0")
    cli("repack", "-q")
    for k in range(8):  # eight small packs: enough for a multi-pack index
        folder = tmp / f"folder{k}"
        folder.mkdir()
        (folder / "a.txt").write_text(f"file {k}\n")
        (folder / "b.txt").write_text("".join(f"{i}\n" for i in range(k, 3000)))
        cli("write-tree", folder)
    cli("multi-pack-index", "write")
    _write_version(model, 3, weights)
    cli("model", "register", "demo", model, "-v", "1.2.0")  # a pack outside the multi-pack index
    (tmp / "small").write_bytes(b"a loose object\n")
    (tmp / "text").write_text("compressible loose object\n" * 400)
    cli("hash-object", "-w", tmp / "small", tmp / "text")
    return cli, Registry(cli.registry)


def test_the_registry_holds_every_part_of_the_format(built: tuple[Cli, Registry]) -> None:
    _, reader = built
    encodings = Counter(
        parse_header(pack.stored(bytes.fromhex(i)) or b"", i).encoding
        for entries in reader.packed().values()
        for pack, i in entries
    )
    loose = Counter(parse_header(p.read_bytes(), i).encoding for i, p in reader.loose.items())
    assert encodings[IDENTITY] and encodings[ZSTD] and encodings[DELTA] and encodings[CHUNKS]
    assert loose[IDENTITY] and loose[ZSTD]
    assert reader.midx is not None and len(reader.midx.pack_names) == 9
    assert set(reader.packs) - set(reader.midx.pack_names), "a pack written after the multi-pack index"


def test_every_stored_copy_decodes_to_its_id(built: tuple[Cli, Registry]) -> None:
    _, reader = built
    for object_id, path in reader.loose.items():
        reader.read(object_id, path.read_bytes())
    for entries in reader.packed().values():
        for pack, object_id in entries:
            reader.read(object_id, pack.stored(bytes.fromhex(object_id)))


def test_verify_pack_and_show_index_list_what_the_reader_found(built: tuple[Cli, Registry]) -> None:
    cli, reader = built
    for name, entries in reader.packed().items():
        path = cli.registry / "objects" / "pack" / f"{name}.pack"
        lines = []
        for pack, object_id in entries:
            stored = pack.stored(bytes.fromhex(object_id)) or b""
            header = parse_header(stored, object_id)
            offset, length = pack.index.entry(bytes.fromhex(object_id)) or (0, 0)
            encoding = ENCODING_NAMES[header.encoding]
            lines.append(f"{object_id} {header.kind} {header.size} {length} {offset} {encoding}")
        listed = cli("verify-pack", "-v", path).lines
        assert listed == [*lines, f"{path}: ok ({len(entries)} objects)"]
        shown = [f"{line.split()[4]} {line.split()[0]} ({line.split()[3]})" for line in lines]
        assert cli("show-index", path).lines == shown


def test_count_objects_and_multi_pack_index_verify_agree(built: tuple[Cli, Registry]) -> None:
    cli, reader = built
    counts = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    packed = [(pack, i) for entries in reader.packed().values() for pack, i in entries]
    headers = [parse_header(pack.stored(bytes.fromhex(i)) or b"", i) for pack, i in packed]
    headers += [parse_header(p.read_bytes(), i) for i, p in reader.loose.items()]
    assert int(counts["count"]) == len(reader.loose)
    assert int(counts["in-pack"]) == len(packed)
    assert int(counts["packs"]) == len(reader.packs)
    assert int(counts["deltas"]) == sum(h.encoding == DELTA for h in headers)
    assert int(counts["chunked"]) == sum(h.encoding == CHUNKS for h in headers)
    assert reader.midx is not None
    outside = set(reader.packs) - set(reader.midx.pack_names)
    assert int(counts["packs-outside-midx"]) == len(outside)
    midx_path = cli.registry / "objects" / "pack" / "multi-pack-index"
    ids = {raw for name in reader.midx.pack_names for raw in reader.packs[name].index.ids}
    assert set(reader.midx.holder) == ids
    assert cli("multi-pack-index", "verify").lines == [
        f"{midx_path}: ok ({len(ids)} ids, {len(reader.midx.pack_names)} packs)"
    ]


def test_everything_the_refs_reach_is_found_and_sound(built: tuple[Cli, Registry]) -> None:
    cli, reader = built
    roots = {line.split()[0] for line in cli("for-each-ref").lines}
    reached = reader.closure(roots)
    stored = set(reader.loose) | {i for entries in reader.packed().values() for _, i in entries}
    assert reached <= stored
    for object_id in reached:
        reader.read(object_id)
    weights = [i for i in reached if parse_header(reader.stored(i), i).encoding == CHUNKS]
    assert len(weights) == 3  # one chunked weights file a version


# The annotated hex dumps in docs/format.md ("Annotated examples") are of real files: the
# document's commands make them again, byte for byte.

DUMP = re.compile(r"<!-- dump: (?P<path>\S+) -->\n```text\n(?P<body>.*?)```", re.S)
ROW = re.compile(r"^ *(?P<offset>\d+)  (?P<hex>[0-9a-f]{2}(?: [0-9a-f]{2})*)(?:  ×(?P<times>\d+))?(?:  .*)?$")


def dumps() -> dict[str, bytes]:
    """path in the registry -> the bytes its dump in docs/format.md spells out."""
    out = {}
    for block in DUMP.finditer(DOC.read_text("utf-8")):
        data = b""
        for line in block["body"].splitlines():
            row = ROW.match(line)
            if row is None:
                continue  # a caption or column heading
            assert int(row["offset"]) == len(data), f"{block['path']}: row {line!r} is misplaced"
            data += bytes.fromhex(row["hex"]) * int(row["times"] or 1)
        out[block["path"]] = data
    return out


def test_the_documents_hex_dumps_are_what_pacha_writes(cli: Cli) -> None:
    section = DOC.read_text("utf-8").split("\n## Annotated examples\n")[1].split("\n## ")[0]
    (commands,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    env = {**cli.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = subprocess.run(["bash", "-e", "-c", commands], env=env, capture_output=True, text=True, check=True)
    assert ran.stdout.split() == re.findall(r"# prints (\S+)", commands)
    documented = dumps()
    assert len(documented) == 3
    for path, data in documented.items():
        assert (cli.registry / path).read_bytes() == data, path
    object_id, pack = ran.stdout.split()
    index = PackIndex.read(cli.registry / "objects" / "pack" / f"{pack}.idx")
    Registry(cli.registry).read(object_id, Pack.read(index).stored(bytes.fromhex(object_id)))


# Reserved bytes ("Reserved bytes"): writers put zero; a file whose reserved bytes are not
# zero is refused, by this reader and by pacha alike.


def _set_byte(path: Path, offset: int, value: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] = value
    path.write_bytes(bytes(data))


def test_the_reader_refuses_non_zero_reserved_bytes(cli: Cli) -> None:
    object_id = cli("hash-object", "-w", "--stdin", input=b"hello\n").text.strip()
    pack = cli("pack-objects", input=object_id + "\n").text.strip()
    index_path = cli.registry / "objects" / "pack" / f"{pack}.idx"
    _set_byte(index_path.with_suffix(".pack"), 6, 1)
    with pytest.raises(FormatError, match="reserved bytes"):
        Pack.read(PackIndex.read(index_path))
    _set_byte(index_path, 7, 1)
    with pytest.raises(FormatError, match="reserved bytes"):
        PackIndex.read(index_path)
    midx = cli.registry / "objects" / "pack" / "multi-pack-index"
    midx.write_bytes(b"PCHM\x01\x00\x01\x00" + bytes(4 + 1024 + 32))
    with pytest.raises(FormatError, match="reserved bytes"):
        MultiPackIndex.read(midx)
