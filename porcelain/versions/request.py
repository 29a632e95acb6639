"""One registration, as the CLI or a Python caller asks for it: a typed request.

`pacha model register`, `pacha data register`, `Registry.register_model`,
`Registry.register_dataset` and `Registry.register_recipe` all fill a RegisterRequest;
`Registry.register(request)` consumes it (porcelain/versions/register.py). References
are still text here (NAME:VER); the registration resolves and pins them.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

KINDS = ("model", "dataset", "recipe")


class RegisterRequest(msgspec.Struct, kw_only=True):
    """What to register, and what is known about it.

    Models and datasets use the same fields: a dataset's purpose is its description, its
    datasheet its card, its --derived-from sources its parents (relation "derived", params
    {"transform": how}), its --generated-by run its run.
    """

    kind: str  # "model", "dataset" or "recipe"
    name: str  # e.g. fraud-detector or team/fraud-detector
    path: str  # the file or folder; "-" (standard input) or a pipe such as /dev/fd/63
    version: str | None = None  # an explicit SemVer version
    bump: str | None = None  # major, minor or patch from the latest (a new name starts at 1.0.0)
    description: str = ""  # what a model does; why a dataset was created
    card: dict[str, Any] = {}  # Model Card or Datasheet fields (references as NAME:VER text)
    metrics: dict[str, float] = {}  # name -> finite number
    parents: list[str] = []  # the versions it was made from (NAME:VER)
    relation: str | None = None  # fine-tuned, distilled, merged, quantized, pruned; datasets: derived
    params: dict[str, Any] = {}  # the relation's parameters, e.g. {"temperature": 2}
    run: str | None = None  # the tracked run that produced it (run-001 or its id)
    message: str = ""  # why, for the reflog
    filename: str | None = None  # the file name to record (required for "-" or a pipe)
    exclude: list[str] = []  # gitignore patterns a folder leaves out, after its .pachaignore
    sign: str | None = None  # an OpenPGP key (id, fingerprint, email) signing the record; sign.always

    def __post_init__(self) -> None:
        # callers pass None for "not given" (the CLI's unset options), and paths as Path
        self.path = os.fspath(self.path)
        self.card = dict(self.card or {})
        self.metrics = dict(self.metrics or {})
        self.parents = list(self.parents or [])
        self.params = dict(self.params or {})
        self.exclude = list(self.exclude or [])
