"""Stage rules and version allocation hold with several writers (real `pacha` processes at once)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PACHA, Cli

# With TEST_BARRIER=DIR:N in its environment, the hook waits until N hooks of that group have
# started (each leaves a file in DIR), so that N writers certainly overlap: all of them planned
# from the same state before any commits. Without it, whether they overlapped was up to the
# scheduler (a loaded machine can start them a second apart, and `lost >= 1` then failed).
SLOW_HOOK = """#!/bin/sh
cat > /dev/null
if [ -n "$TEST_BARRIER" ]; then
  dir=${{TEST_BARRIER%:*}}; count=${{TEST_BARRIER##*:}}
  touch "$dir/$$"
  i=0
  while [ "$(ls "$dir" | wc -l)" -lt "$count" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
fi
sleep {delay}
"""


def install_slow_hook(cli: Cli, delay: float) -> None:
    hooks = cli.registry / "hooks"
    hooks.mkdir(exist_ok=True)
    path = hooks / "pre-commit"
    path.write_text(SLOW_HOOK.format(delay=delay))
    path.chmod(0o755)


def remove_hook(cli: Cli) -> None:
    (cli.registry / "hooks" / "pre-commit").unlink(missing_ok=True)


def at_once(cli: Cli, *commands: list[str], barrier: Path | None = None) -> list[tuple[int, str, str]]:
    """Start every command before waiting for any; (exit code, stdout, stderr) of each.

    barrier: a new directory, for their slow hooks to wait in until all of them are there."""
    env = cli.env
    if barrier is not None:
        barrier.mkdir()
        env = {**cli.env, "TEST_BARRIER": f"{barrier}:{len(commands)}"}
    procs = [
        subprocess.Popen(
            [*PACHA, *command],
            cwd=cli.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for command in commands
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        out.append((proc.returncode, stdout.decode(), stderr.decode()))
    return out


def register_versions(cli: Cli, name: str, count: int, tmp_path: Path) -> list[str]:
    """name at 1.0.0 .. 1.<count-1>.0 (in development), registered through the Python API."""
    from porcelain import Registry

    reg = Registry.open(cli.registry)
    made = []
    for minor in range(count):
        artifact = tmp_path / f"{name}-{minor}.bin"
        artifact.write_bytes(os.urandom(64))
        made.append(reg.register_model(name, artifact, version=f"1.{minor}.0").version.version)
    return made


def production(cli: Cli, name: str) -> list[str]:
    listed = json.loads(cli("model", "list", name, "--json").text)
    return [v["version"] for v in listed if v["stage"] == "production"]


def stages_of(cli: Cli, name: str) -> dict[str, str]:
    return {v["version"]: v["stage"] for v in json.loads(cli("model", "list", name, "--json").text)}


@pytest.mark.parametrize("delay", [1.0, 0])
def test_concurrent_promotions_leave_one_version_in_production(cli, tmp_path: Path, delay: float) -> None:
    """The issue's input: three versions promoted at once, round after round, with and
    without a slow pre-commit hook; at most one version is ever in production."""
    if delay:
        install_slow_hook(cli, delay)
    rounds = 6 if delay else 10
    lost = 0
    for round_ in range(rounds):
        name = f"m{round_}"
        made = register_versions(cli, name, 4, tmp_path)
        if round_ % 2:  # half the rounds start with a version already in production
            cli("model", "stage", f"{name}:1.0.0", "-t", "production")
        contenders = made[1:]
        barrier = tmp_path / f"barrier-{round_}" if delay else None
        results = at_once(
            cli, *(["model", "stage", f"{name}:{v}", "-t", "production"] for v in contenders), barrier=barrier
        )
        now = production(cli, name)
        assert len(now) == 1, (now, results)
        winners = [v for v, (code, _, _) in zip(contenders, results, strict=True) if code == 0]
        assert now[0] in winners  # the last winner is the one in production
        for code, _, err in results:
            if code != 0:
                lost += 1
                assert code == 1, err
                assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
                assert f"another promotion of {name} happened meanwhile: now in production is " in err, err
                assert err.split("now in production is ")[1].split(";")[0] in winners, err
        stage = stages_of(cli, name)
        # every version that left production went to archived, nothing else moved
        for version in made:
            assert stage[version] in (
                {"production", "archived"}
                if version in winners or (version == "1.0.0" and round_ % 2)
                else {"development"}
            ), (version, stage)
        history = json.loads(cli("model", "history", name, "--json").text)
        assert sum(1 for t in history if t["to"] == "production") == len(winners) + round_ % 2
    if delay:  # with a slow hook the contenders overlap: the race was really run
        assert lost >= 1
    assert "error" not in cli("fsck").err


def test_a_version_moved_meanwhile_is_not_moved_twice(cli, tmp_path: Path) -> None:
    """Two writers move the same version to different stages at once: a loser is told where
    it is now; the version keeps exactly one stage ref, the last committed move's."""
    install_slow_hook(cli, 1.0)
    lost = 0
    for round_, targets in enumerate(
        [("staging", "archived"), ("production", "staging"), ("archived", "production")]
    ):
        name = f"s{round_}"
        register_versions(cli, name, 1, tmp_path)
        commands = (["model", "stage", f"{name}:1.0.0", "-t", t] for t in targets)
        results = at_once(cli, *commands, barrier=tmp_path / f"barrier-{round_}")
        moves = [m for m in json.loads(cli("model", "history", name, "--json").text) if m["from"]]
        final = stages_of(cli, name)["1.0.0"]
        assert final == moves[-1]["to"]
        assert len(moves) == sum(1 for code, _, _ in results if code == 0)
        for (code, _, err), target in zip(results, targets, strict=True):
            assert "Traceback" not in err
            if code == 0:
                assert target in [m["to"] for m in moves]
                continue
            lost += 1
            assert code == 1 and len(err.strip().splitlines()) == 1, err
            # overlapping: told it moved meanwhile; after the other finished: a refused transition
            assert "was moved meanwhile by another writer: it is now in" in err or "cannot move" in err, err
    assert lost >= 1
    cli("fsck")


def test_delete_racing_a_promotion_is_refused_cleanly(cli, tmp_path: Path) -> None:
    """delete plans from the stage it read; a promotion meanwhile makes it fail in one line."""
    install_slow_hook(cli, 1.0)
    register_versions(cli, "d", 1, tmp_path)
    cli("model", "stage", "d:1.0.0", "-t", "staging")
    results = at_once(cli, ["model", "stage", "d:1.0.0", "-t", "production"], ["model", "delete", "d:1.0.0"])
    codes = [code for code, _, _ in results]
    assert sorted(codes) == [0, 1], results
    for code, _, err in results:
        assert "Traceback" not in err
        if code:
            assert code == 1 and len(err.strip().splitlines()) == 1, err
    cli("fsck")


@pytest.mark.parametrize("delay", [0.3, 0])
@pytest.mark.parametrize("existing", [True, False])
def test_concurrent_bumps_give_consecutive_versions(
    cli, tmp_path: Path, delay: float, existing: bool
) -> None:
    """The issue's input: four trainers `register --bump patch` at once; each gets its own
    version, consecutive, and each record names the version its refs say."""
    if delay:
        install_slow_hook(cli, delay)
    if existing:
        register_versions(cli, "m", 1, tmp_path)
    outs = []
    for i in range(4):
        out = tmp_path / f"out{i}"
        out.mkdir()
        (out / "weights.bin").write_bytes(os.urandom(2000))
        outs.append(out)
    results = at_once(
        cli, *(["model", "register", "m", str(out), "--bump", "patch", "--json"] for out in outs)
    )
    for code, _, err in results:
        assert code == 0, err
    got = sorted(json.loads(stdout)["version"] for _, stdout, _ in results)
    first = 1 if existing else 0
    assert got == [f"1.0.{first + i}" for i in range(4)]
    listed = json.loads(cli("model", "list", "m", "--json").text)
    assert len(listed) == 4 + existing
    for version in got:
        shown = json.loads(cli("model", "get", f"m:{version}", "--json").text)
        assert shown["record"]["version"] == version
        assert shown["stage"] == "development"
    # each artifact is the one its own process stored
    by_version = {
        json.loads(stdout)["version"]: out for (_, stdout, _), out in zip(results, outs, strict=True)
    }
    for version, out in by_version.items():
        cli("model", "download", f"m:{version}", "-o", tmp_path / f"back-{version}")
        back = tmp_path / f"back-{version}"
        files = list(back.rglob("weights.bin"))
        assert len(files) == 1 and files[0].read_bytes() == (out / "weights.bin").read_bytes()
    cli("fsck")


def test_same_explicit_version_at_once(cli, tmp_path: Path) -> None:
    """Several writers of one explicit version: the same bytes register once (the others are
    told it is already there); other bytes are refused as 'different content', never a ref error."""
    install_slow_hook(cli, 0.3)
    same = tmp_path / "same.bin"
    same.write_bytes(os.urandom(500))
    results = at_once(
        cli, *(["model", "register", "m", str(same), "-v", "2.0.0", "--json"] for _ in range(3))
    )
    assert [code for code, _, _ in results] == [0, 0, 0], results
    assert sorted(json.loads(out)["created"] for _, out, _ in results) == [False, False, True]
    others = []
    for i in range(3):
        other = tmp_path / f"other{i}.bin"
        other.write_bytes(os.urandom(500))
        others.append(other)
    results = at_once(cli, *(["model", "register", "n", str(o), "-v", "1.0.0"] for o in others))
    assert sorted(code for code, _, _ in results) == [0, 1, 1], results
    for code, _, err in results:
        if code:
            assert "already registered with different content" in err and "Traceback" not in err, err
    # build metadata does not order versions: 1.0.0+a and 1.0.0+b at once, one wins
    results = at_once(
        cli, *(["model", "register", "b", str(o), "-v", f"1.0.0+r{i}"] for i, o in enumerate(others[:2]))
    )
    assert sorted(code for code, _, _ in results) == [0, 1], results
    assert "same precedence" in next(err for code, _, err in results if code)
    assert len(json.loads(cli("model", "list", "b", "--json").text)) == 1
