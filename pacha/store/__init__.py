"""The object store: one interface over every place objects live.

What callers import: ObjectStore (pacha.store.objectstore), the verified reader it
hands out and what stat() says. The store's modules, each named for what it holds:

    objectstore   ObjectStore: where an object lives, reading, small writes
    promised      PromisedStore: readers fetch what a lazy registry lacks (its remote)
    ingest        streaming writes: the read/hash/compress/write pipeline
    chunk_writer  cutting a large blob into chunks and packing them
    chunked       the chunk list, and reading a chunked blob back
    delta         zstd deltas, and whether one pays (delta_pays)
    encodings     body encodings: identity, zstd, delta, chunks (the pipeline's stages)
    reader        verified reading; the Stream/BodySource/ObjectSource shapes
    loose         loose objects: one file each
    pack_format   the pack and index layout, and building an index
    pack_writer   writing a pack and its index
    pack          one installed pack, read through its mapped index
    idtable       fan-out table and binary search, shared by pack indexes and the midx
    midx          the multi-pack index
    packset       every pack of a store, listed and refreshed, and lookups across them
    checks        cheap structural checks of a stored copy
    copies        the copies of one object, and choosing a sound one
    protocols     what the write path needs of the store (Store), PreparedObject
    repack        repack, pack-objects, unpack-objects, midx rewrite
    index_pack    rebuilding a pack's index from the pack alone
    snapshot      reading or hashing a file as one snapshot (FileChanged)
    workers       worker processes storing small files
    optional      optimisations that may fail without failing the write
    tmpfile       temp files made durable and visible by one rename
"""

from __future__ import annotations

from pacha.store.objectstore import WHOLE_OBJECT_READ, ObjectStore
from pacha.store.protocols import PreparedObject
from pacha.store.reader import ObjectInfo, ObjectReader

__all__ = ["WHOLE_OBJECT_READ", "ObjectInfo", "ObjectReader", "ObjectStore", "PreparedObject"]
