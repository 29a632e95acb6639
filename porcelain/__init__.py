"""Pacha's porcelain: the daily workflows (models, datasets, lineage, provenance, hooks).

Built only on the public API of `pacha`; `pacha` never imports this package.

    from porcelain import Registry
    reg = Registry.open()                      # as the CLI finds it
    v = reg.register_model("fraud-detector", "model.safetensors", bump="minor",
                           metrics={"auc": 0.93}, parents=["base:1.0.0"], relation="fine-tuned").version
    reg.stage(v.ref, "production", why="beats 1.1.0 on auc")
    reg.get_model("fraud-detector@production")
    reg.lineage("fraud-detector:latest")

The layout: porcelain/core.py (what every domain stands on), porcelain/registry.py (the
API above), one package or module per noun: versions/, stages/, cards/, lineage/,
provenance.py, recipes/, runs/, hooks.py, retention.py (see docs/porcelain.md).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RegisterRequest", "Registered", "Registry", "Transition", "Version"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import porcelain.registry as registry

        return getattr(registry, name)
    raise AttributeError(f"module 'porcelain' has no attribute {name!r}")
