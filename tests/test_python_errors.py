"""Issue 11.19: errors raised to Python callers name Python arguments, the CLI keeps its options;
public porcelain methods are documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import pacha
from porcelain import Registry
from porcelain.errors import PachaError

# an option as the CLI spells it: --bump, -v, `pacha model list`
CLI_WORDING = re.compile(r"(?<![\w-])--?[a-z][\w-]*|`pacha ")


@pytest.fixture
def reg(tmp_path: Path, monkeypatch) -> Registry:
    pacha.init_registry(tmp_path / ".pacha")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PACHA_DIR", raising=False)
    (tmp_path / "m.bin").write_bytes(b"model weights long enough to store" * 3)
    (tmp_path / "n.bin").write_bytes(b"other weights, also long enough!!" * 3)
    (tmp_path / "d.csv").write_text("a\n1\n")
    r = Registry.open()
    r.register_model("m", "m.bin", version="1.0.0")
    return r


FAILING_CALLS = {
    "version and bump": lambda r: r.register_model("m", "n.bin", version="2.0.0", bump="minor"),
    "neither version nor bump": lambda r: r.register_model("m", "n.bin"),
    "same version, other bytes": lambda r: r.register_model("m", "n.bin", version="1.0.0"),
    "parents without relation": lambda r: r.register_model("x", "n.bin", parents=["m:1.0.0"]),
    "missing param": lambda r: r.register_model("x", "n.bin", parents=["m:1.0.0"], relation="distilled"),
    "unknown param": lambda r: r.register_model(
        "x", "n.bin", parents=["m:1.0.0"], relation="distilled", params={"temperature": 2, "alpha": 1}
    ),
    "bad param": lambda r: r.register_model(
        "x", "n.bin", parents=["m:1.0.0"], relation="distilled", params={"temperature": "hot"}
    ),
    "one parent only": lambda r: r.register_model(
        "x", "n.bin", parents=["m:1.0.0", "m:1.0.0"], relation="quantized", params={"quantization": "int8"}
    ),
    "merged weights": lambda r: r.register_model(
        "x", "n.bin", parents=["m:1.0.0", "m:1.0.0"], relation="merged", params={"weights": [1]}
    ),
    "derived without transform": lambda r: r.register_dataset("d", "d.csv", derived_from=["m:1.0.0"]),
    "reference and version": lambda r: r.get("model", "m:1.0.0", "1.0.0"),
    "unknown name": lambda r: r.get("model", "ghost:latest"),
    "unknown recipe": lambda r: r.start_run("ghost:1.0.0"),
    "unknown run": lambda r: r.get_run("run-999"),
    "history of nothing": lambda r: r.history("model", "ghost"),
    "keep_last 0": lambda r: r.beyond_keep_last(0),
    "delete production": lambda r: (r.stage("m:1.0.0", "production"), r.delete("model", "m:1.0.0")),
}


@pytest.mark.parametrize("case", sorted(FAILING_CALLS))
def test_python_errors_name_python_arguments(reg: Registry, case: str) -> None:
    with pytest.raises(PachaError) as caught:
        FAILING_CALLS[case](reg)
    message = str(caught.value)
    assert not CLI_WORDING.search(message), f"{case}: {message!r} is worded for the command line"


def test_the_cli_keeps_its_options(cli, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"model weights long enough to store" * 3)
    (tmp_path / "n.bin").write_bytes(b"other weights, also long enough!!" * 3)
    cli("model", "register", "m", "m.bin", "-v", "1.0.0")
    assert "--bump" in cli.fails("model", "register", "m", "n.bin").err
    assert "--bump" in cli.fails("model", "register", "m", "n.bin", "-v", "2.0.0", "--bump", "minor").err
    err = cli.fails("model", "register", "x", "n.bin", "--from", "m:1.0.0", "--relation", "distilled").err
    assert "--param temperature" in err
    assert "--relation" in cli.fails("model", "register", "x", "n.bin", "--from", "m:1.0.0").err
    assert "`pacha model list`" in cli.fails("model", "get", "ghost:latest").err


def _public_methods():
    from porcelain.runs.live import Run

    for cls in (Registry, Run):
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_") and fn.__module__.startswith("porcelain"):
                yield f"{cls.__name__}.{name}", fn


def test_public_porcelain_methods_have_docstrings() -> None:
    """Each says what it does, its arguments, what it returns and what it raises."""
    missing = [name for name, fn in _public_methods() if not (inspect.getdoc(fn) or "").strip()]
    assert missing == [], f"no docstring: {missing}"
    thin = []
    for name, fn in _public_methods():
        doc = inspect.getdoc(fn) or ""
        params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
        returns = inspect.signature(fn).return_annotation not in (None, "None", inspect.Signature.empty)
        if params and not all(re.search(rf"\b{p}\b", doc) for p in params):
            thin.append(f"{name}: arguments")
        if returns and not re.search(r"\bReturns?\b|\breturns?\b|->", doc):
            thin.append(f"{name}: return")
        if "Raises" not in doc and "raises" not in doc and "Raise" not in doc:
            thin.append(f"{name}: errors")
    assert thin == [], f"docstrings that leave out arguments, return or errors: {thin}"
