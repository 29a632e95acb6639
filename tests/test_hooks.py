"""pre-commit and post-commit hooks around porcelain commits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.conftest import snapshot

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "hooks" / "pre-commit"


def install(cli, name: str, script: str) -> Path:
    hooks = cli.registry / "hooks"
    hooks.mkdir(exist_ok=True)
    path = hooks / name
    path.write_text(script)
    path.chmod(0o755)
    return path


def test_example_hook_refuses_production_without_metric(cli, tmp_path: Path) -> None:
    (cli.registry / "hooks").mkdir()
    shutil.copy(EXAMPLE, cli.registry / "hooks" / "pre-commit")
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(100))
    cli("model", "register", "m", model, "-v", "1.0.0")
    cli("model", "stage", "m:1.0.0", "-t", "staging")  # other moves are fine
    before = snapshot(cli.registry)
    refused = cli.fails("model", "stage", "m:1.0.0", "-t", "production", code=1)
    assert "pre-commit hook refused stage" in refused.err and "no evaluation metric" in refused.err
    assert snapshot(cli.registry) == before
    model.write_bytes(os.urandom(100))
    cli("model", "register", "m", model, "-v", "1.1.0", "--metric", "auc=0.91")
    cli("model", "stage", "m:1.1.0", "-t", "production")


def test_pre_commit_sees_the_commit_and_refusal_writes_nothing(cli, tmp_path: Path) -> None:
    log = tmp_path / "seen.jsonl"
    install(
        cli,
        "pre-commit",
        f"""#!/bin/sh
printf '%s %s %s %s\\n' "$PACHA_HOOK" "$PACHA_OPERATION" "$PACHA_REFS" "$PACHA_NEW_IDS" >> {log}.env
cat >> {log}
echo >> {log}
[ -e {tmp_path}/deny ] && {{ echo "frozen for the audit" >&2; exit 3; }}
exit 0
""",
    )
    model = tmp_path / "weights.bin"
    model.write_bytes(os.urandom(5000))
    out = json.loads(cli("model", "register", "m", model, "--json").text)
    commit = json.loads(log.read_text().splitlines()[0])
    assert commit["operation"] == "register" and commit["name"] == "m" and commit["version"] == "1.0.0"
    assert commit["record_id"] == out["id"]
    assert [u["ref"] for u in commit["updates"]] == ["models/m/1.0.0", "stages/models/m/development/1.0.0"]
    env_line = (tmp_path / "seen.jsonl.env").read_text().splitlines()[0]
    assert env_line.startswith("pre-commit register models/m/1.0.0 stages/models/m/development/1.0.0 ")
    (tmp_path / "deny").touch()
    objects_before = sorted(p.name for p in (cli.registry / "objects").rglob("*") if p.is_file())
    before = snapshot(cli.registry)
    model.write_bytes(os.urandom(5000))
    refused = cli.fails("model", "register", "m", model, "-v", "2.0.0", code=1)
    assert "frozen for the audit" in refused.err
    assert snapshot(cli.registry) == before  # not even the artifact was stored
    assert sorted(p.name for p in (cli.registry / "objects").rglob("*") if p.is_file()) == objects_before
    cli.fails("model", "delete", "m:1.0.0", code=1)
    cli.fails(
        "model",
        "lineage",
        "add",
        "m:1.0.0",
        "--from",
        "m:1.0.0",
        "--relation",
        "pruned",
        "--param",
        "sparsity=0.1",
    )
    assert snapshot(cli.registry) == before


def test_post_commit_failure_warns_and_keeps_the_commit(cli, tmp_path: Path) -> None:
    marker = tmp_path / "post.txt"
    install(cli, "post-commit", f'#!/bin/sh\necho "$PACHA_OPERATION" >> {marker}\nexit 1\n')
    model = tmp_path / "m.bin"
    model.write_bytes(b"x" * 100)
    result = cli("model", "register", "m", model)
    assert "post-commit hook failed" in result.err
    assert cli("model", "get", "m:1.0.0", "--json").code == 0
    cli("model", "stage", "m:1.0.0", "-t", "staging")
    assert marker.read_text().split() == ["register", "stage"]


def test_non_executable_hook_is_ignored_with_a_hint(cli, tmp_path: Path) -> None:
    path = install(cli, "pre-commit", "#!/bin/sh\nexit 1\n")
    path.chmod(0o644)
    model = tmp_path / "m.bin"
    model.write_bytes(b"y" * 10)
    result = cli("model", "register", "m", model)
    assert "not executable" in result.err
