"""The fields a recipe may have, under the specification's names and the project's short ones.

The specification (section 5, `TrainingRecipe`, `Dependencies`, `HardwareSpec`) names
fields `train_data`, `validation_data`, `preprocessing`, `augmentation`,
`hardware_requirements` (with `min_cpu_cores`, `min_ram_gb`, `gpu`,
`estimated_duration`) and `dependencies` (with `rust_version`, `cargo_lock_hash`,
`system_deps`, `env_vars`). Pacha's first recipes used shorter names (`[data] train`,
`[hardware] cpu_cores`, `[dependencies] env`, ...). Both spellings are accepted;
`normalize` maps a document to the short form every reader of a recipe uses, and
refuses a document that gives the same field twice.

Unknown keys are warned about at every depth; inside free-form tables (architecture,
optimizer, scheduler, loss, hyperparameters.custom, expected_metrics, env) any key is
fine. Environment variables whose names look like secrets are refused (`looks_secret`).
"""

from __future__ import annotations

import re
from typing import Any

# A table whose keys are the user's own (no unknown-key warnings inside).
FREE = "free"
# A table of environment variables: free keys, but secret-looking names are refused.
ENV = "env"

HARDWARE = {
    "cpu_cores": None,
    "min_cpu_cores": None,
    "ram_gb": None,
    "min_ram_gb": None,
    "gpu": FREE,
    "estimated_duration": None,
}
SCHEMA: dict[str, Any] = {
    "name": None,
    "version": None,
    "description": None,
    "architecture": FREE,
    "hyperparameters": {
        "learning_rate": None,
        "batch_size": None,
        "epochs": None,
        "weight_decay": None,
        "max_grad_norm": None,
        "warmup_steps": None,
        "custom": FREE,
    },
    "optimizer": FREE,
    "scheduler": FREE,
    "loss": FREE,
    "train_data": None,
    "validation_data": None,
    "preprocessing": None,
    "augmentation": None,
    "data": {"train": None, "validation": None, "preprocessing": None, "augmentation": None},
    "dependencies": {
        "python": None,
        "rust_version": None,
        "lock_file": None,
        "lock_hash": None,
        "cargo_lock_hash": None,
        "system": None,
        "system_deps": None,
        "env": ENV,
        "env_vars": ENV,
    },
    "hardware": HARDWARE,
    "hardware_requirements": HARDWARE,
    "random_seed": None,
    "deterministic": None,
    "expected_metrics": FREE,
    "run": {"command": None},
}

# (path of the specification's name) -> (path of the short name); a path is a tuple of keys
ALIASES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("train_data",), ("data", "train")),
    (("validation_data",), ("data", "validation")),
    (("preprocessing",), ("data", "preprocessing")),
    (("augmentation",), ("data", "augmentation")),
    (("hardware_requirements",), ("hardware",)),
    (("hardware", "min_cpu_cores"), ("hardware", "cpu_cores")),
    (("hardware", "min_ram_gb"), ("hardware", "ram_gb")),
    (("dependencies", "env_vars"), ("dependencies", "env")),
    (("dependencies", "system_deps"), ("dependencies", "system")),
    (("dependencies", "cargo_lock_hash"), ("dependencies", "lock_hash")),
]

# Words that make an environment variable name look like a secret (see looks_secret).
SECRET_WORDS = frozenset(
    {
        "TOKEN",
        "TOKENS",
        "SECRET",
        "SECRETS",
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASS",
        "PASSPHRASE",
        "KEY",
        "KEYS",
        "APIKEY",
        "ACCESSKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
        "COOKIE",
    }
)
# ... and suffixes that do so inside a word (GHTOKEN, DBPASSWORD, OPENAIAPIKEY)
SECRET_SUFFIXES = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
)


def words(name: str) -> list[str]:
    """The upper-case words of an identifier: split at non-alphanumerics and camelCase humps."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.upper()) if w]


def looks_secret(name: str) -> bool:
    """Whether an environment variable name looks like it holds a secret.

    The rule (docs/recipes-and-runs.md): split the name into words at every character
    that is not a letter or digit and where a lower-case letter or digit is followed by an
    upper-case one; it looks secret if a word is one of SECRET_WORDS (TOKEN, SECRET,
    PASSWORD, PASSWD, PASS, PASSPHRASE, KEY, APIKEY, ACCESSKEY, CREDENTIAL, PRIVATE,
    COOKIE, and plurals) or ends with TOKEN, SECRET, PASSWORD, PASSWD, PASSPHRASE, APIKEY
    or CREDENTIAL(S). HF_TOKEN, AWS_SECRET_ACCESS_KEY, apiKey, GHTOKEN: yes;
    TOKENIZERS_PARALLELISM, KEYBOARD, OMP_NUM_THREADS: no.
    """
    return any(w in SECRET_WORDS or w.endswith(SECRET_SUFFIXES) for w in words(name))


def unknown_keys(doc: dict[str, Any]) -> list[str]:
    """Dotted paths of keys the schema does not know, at every depth."""
    out: list[str] = []

    def walk(table: dict[str, Any], schema: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            path = f"{prefix}{key}"
            if key not in schema:
                out.append(path)
            elif isinstance(schema[key], dict) and isinstance(value, dict):
                walk(value, schema[key], path + ".")

    walk(doc, SCHEMA, "")
    return out


def env_tables(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dotted path, table) of every environment-variable table in a recipe."""
    deps = doc.get("dependencies")
    if not isinstance(deps, dict):
        return []
    return [
        (f"dependencies.{key}", deps[key]) for key in ("env", "env_vars") if isinstance(deps.get(key), dict)
    ]


def secret_assignments(command: str | list[str]) -> list[str]:
    """Names of secret-looking variables a command line assigns (`HF_TOKEN=abc python train.py`)."""
    import shlex

    if isinstance(command, str):
        try:
            command = shlex.split(command)
        except ValueError:
            command = command.split()
    out = []
    for arg in command:
        name, sep, _ = arg.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and looks_secret(name):
            out.append(name)
    return out


def normalize(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document with the specification's names moved to the short ones, and conflicts.

    A conflict is a field given under both names (train_data and data.train, say); it is
    reported, and the short name's value kept.
    """
    out = _copy(doc)
    conflicts: list[str] = []
    for long, short in ALIASES:
        parent = _table(out, long[:-1])
        if parent is None or long[-1] not in parent:
            continue
        value = parent.pop(long[-1])
        target = _table(out, short[:-1], create=True)
        if target is None:
            continue
        if short[-1] in target and target[short[-1]] != value:
            if isinstance(value, dict) and isinstance(target[short[-1]], dict):
                clash = sorted(set(value) & set(target[short[-1]]))
                if not clash:
                    target[short[-1]] = {**target[short[-1]], **value}
                    continue
            conflicts.append(
                f"{'.'.join(long)} and {'.'.join(short)} are the same field given twice; keep one"
            )
            continue
        target[short[-1]] = value
    return out, conflicts


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def _table(doc: dict[str, Any], path: tuple[str, ...], create: bool = False) -> dict[str, Any] | None:
    table = doc
    for key in path:
        if key not in table and create:
            table[key] = {}
        table = table.get(key)  # type: ignore[assignment]
        if not isinstance(table, dict):
            return None
    return table
