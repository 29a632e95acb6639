"""Pacha's engine: a content-addressed object database and LMDB refs.

    import pacha
    reg = pacha.open_registry()              # or pacha.init_registry(path)
    blob = reg.objects.put_file("model.bin")
    with reg.transaction("register model") as tx:
        tx.create("models/fraud-detector/1.0.0", blob)
    with reg.objects.open(blob) as reader:   # verified stream
        for block in reader.chunks(): ...

Names are imported lazily so that `import pacha` stays cheap for the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Registry": "pacha.registry",
    "open_registry": "pacha.registry",
    "init_registry": "pacha.registry",
    "find_registry": "pacha.registry",
    "ObjectStore": "pacha.store",
    "ObjectReader": "pacha.store",
    "ObjectInfo": "pacha.store",
    "RefStore": "pacha.refs.store",
    "RefTransaction": "pacha.refs.store",
    "ReflogEntry": "pacha.refs.store",
    "check_ref_name": "pacha.refs.names",
    "Tree": "pacha.objects",
    "TreeEntry": "pacha.objects",
    "make_record": "pacha.objects",
    "write_tree": "pacha.trees",
    "checkout": "pacha.checkout_files",
    "fsck": "pacha.fsck_checks",
    "hash_bytes": "pacha.hashing",
    "PachaError": "pacha.errors",
    "NotFound": "pacha.errors",
    "ObjectNotFound": "pacha.errors",
    "RefNotFound": "pacha.errors",
    "CheckFailed": "pacha.errors",
    "CorruptObject": "pacha.errors",
    "RefConflict": "pacha.errors",
    "InvalidInput": "pacha.errors",
    "InvalidRefName": "pacha.errors",
    "AmbiguousId": "pacha.errors",
    "RegistryNotFound": "pacha.errors",
    "UnknownFormat": "pacha.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pacha' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
