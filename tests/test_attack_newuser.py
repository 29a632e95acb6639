"""What a demanding new user met (session of 2026-12-01): every `--help` shows its texts as written,
and text a user typed (a reason, a description, a name) is printed as typed, never read as markup."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacha.cli import UNLOCK_EARLY, run
from porcelain.cli import COMMANDS, PORCELAIN_UNLOCK_EARLY
from tests.conftest import Cli


def _command_paths() -> list[tuple[list[str], object]]:
    """(argv before --help, click command) for every command and group, subcommands included."""
    import typer.main

    def walk(path: list[str], command: object):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    found = []
    for name, module in COMMANDS.items():
        found += walk([name], typer.main.get_command(import_module(module).app))
    return found


def _flat(text: str) -> str:
    """Without whitespace: the help wraps lines at spaces and after hyphens (--new-|key-file)."""
    return "".join(text.split())


def test_every_help_shows_every_text_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """`pacha remote add --help` raised rich's MarkupError on its argument's help
    ("s3://BUCKET[/PREFIX]"): a command group built without rich_markup_mode=None read its help
    texts as rich markup, so a closing tag failed and any other [word] vanished from the help."""
    paths = _command_paths()
    assert len(paths) > 100
    wrong = []
    for argv, command in paths:
        code = run([*argv, "--help"], COMMANDS, UNLOCK_EARLY | PORCELAIN_UNLOCK_EARLY)
        shown = capsys.readouterr()
        texts = [p.help for p in getattr(command, "params", []) if getattr(p, "help", None)]
        missing = [t for t in texts if _flat(t) not in _flat(shown.out)]
        if code != 0 or shown.err or missing:
            wrong.append((" ".join(argv), code, shown.err[-200:], missing))
    assert wrong == []


# Text that rich reads as markup or emoji: a closing tag with no opening one (MarkupError), a
# style that would swallow the word, a link, an emoji code.
NASTY = ["why [/z] [blue]q", "[bold]loud[/bold]", "[link=https://x.example]here[/link]", ":warning: ok"]


def test_what_a_user_wrote_is_shown_as_typed_in_every_table(cli: Cli, tmp_path: Path) -> None:
    """`pacha model history m` failed with a traceback (rich's MarkupError) when a stage change's
    why said `why [/z] [blue]q`: table cells were read as rich markup, and `:warning:` became ⚠."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    author = {**cli.env, "PACHA_AUTHOR_NAME": "Ada [/x] :smile:"}
    cli(
        "model",
        "register",
        "m",
        tmp_path / "m.bin",
        "-v",
        "1.0.0",
        "-d",
        NASTY[3],
        "-m",
        NASTY[1],
        env=author,
    )
    for why, stage in zip(NASTY, ["staging", "production", "archived", "development"], strict=True):
        cli("model", "stage", "m:1.0.0", "-t", stage, "-m", why)
    history = cli("model", "history", "m").text
    for text in [*NASTY, "Ada [/x] :smile:"]:
        assert text in history, history
    shown = cli("model", "get", "m:1.0.0").text
    assert NASTY[3] in shown and NASTY[1] in shown, shown
    remote = tmp_path / "team[/x]"  # a directory `team[` holding `x]`
    (tmp_path / "team[").mkdir()
    cli("remote", "add", "origin", remote, "--no-check")
    assert str(remote) in cli("remote", "list").text


@given(st.text(alphabet=st.sampled_from("ab [/]:=#@\\"), max_size=30))
def test_a_table_cell_is_printed_exactly_as_given(text: str) -> None:
    """The property behind it: any text in a porcelain table comes out as it went in (in a pipe,
    where nothing is folded)."""
    import contextlib
    import io
    import sys

    from porcelain.cli._output import console, table

    rows = table("what", "why")
    rows.add_row("x", text)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert not sys.stdout.isatty()
        console().print(rows)
    lines = buffer.getvalue().splitlines()
    assert lines[1].rstrip().removeprefix(" x").strip() == text.strip()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def sealed_registry(cli: Cli, tmp_path: Path) -> dict[str, str]:
    """An encrypted registry holding m:1.0.0; the environment that opens it."""
    env = {**cli.env, "PACHA_DIR": str(tmp_path / "sealed"), "PACHA_PASSPHRASE": "first secret"}
    cli("init", "--encrypt", "-q", env=env)
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0", env=env)
    return env


def test_a_key_file_that_is_a_directory_is_named_by_every_command(
    cli: Cli, tmp_path: Path, sealed_registry: dict[str, str]
) -> None:
    """`pacha key rotate --new-key-file /tmp` said only "fatal: Is a directory: 4" (the descriptor,
    not the file): a directory opened, then read as a file. Every way of giving a key file."""
    folder = tmp_path / "keys"
    folder.mkdir()
    env = sealed_registry
    without = {k: v for k, v in env.items() if k != "PACHA_PASSPHRASE"}
    sealed_file = tmp_path / "m.sealed"
    cases = [
        (("key", "rotate", "--new-key-file", folder), env),
        (("key", "add", "--name", "bob", "--new-key-file", folder), env),
        (("key", "add", "--name", "bob", "--key-file", folder), without),
        (("model", "list"), {**without, "PACHA_KEY_FILE": str(folder)}),
        (("model", "download", "m:1.0.0", "--encrypt", "--new-key-file", folder, "-o", sealed_file), env),
        (("init", "--encrypt", "--key-file", folder, tmp_path / "new"), without),
    ]
    for args, run_env in cases:
        line = _one_line(cli.fails(*args, code=128, env=run_env).err)
        assert line == f"fatal: key file {folder} is a directory; give the file that holds the passphrase", (
            args,
            line,
        )
    assert not sealed_file.exists() and not (tmp_path / "new").exists()


def test_an_option_that_only_works_with_another_is_refused_without_it(cli: Cli, tmp_path: Path) -> None:
    """`download -o x --new-key-file F` without --encrypt wrote the bytes unsealed and said
    nothing; `verify --keyring MISSING` passed (exit 0) when the version had no signature and
    failed when it had one. Now both say what is wrong before doing anything."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    (tmp_path / "k").write_text("a new passphrase\n")
    (tmp_path / "k").chmod(0o600)
    out = tmp_path / "out.bin"
    for option in (("--new-key-file", tmp_path / "k"), ("--recipient", tmp_path / "bob.pub")):
        line = _one_line(cli.fails("model", "download", "m:1.0.0", "-o", out, *option, code=2).err)
        assert f"{option[0]} seals the download: give --encrypt with it" in line, line
        assert not out.exists()
    both = ("--encrypt", "--recipient", tmp_path / "bob.pub", "--new-key-file", tmp_path / "k")
    line = _one_line(cli.fails("model", "download", "m:1.0.0", "-o", out, *both, code=2).err)
    assert "give --recipient or --new-key-file, not both" in line, line
    for command in (("verify",), ("model", "verify")):
        for keyring, why in ((tmp_path / "missing.asc", "No such file"), (tmp_path, "Is a directory")):
            line = _one_line(cli.fails(*command, "m:1.0.0", "--keyring", keyring, code=128).err)
            assert line.startswith(f"fatal: cannot read keyring {keyring}: {why}"), line


def _into_closed_pipe(cli: Cli, *args: str) -> tuple[int, str]:
    """Run pacha ARGS with standard output a pipe whose reader is already gone (`| head -0`,
    without the race: the read end is closed before the command starts)."""
    import os
    import subprocess

    from tests.conftest import PACHA

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([*PACHA, *args], stdout=write_end, stderr=subprocess.PIPE, env=cli.env,
                              cwd=cli.cwd, timeout=120)  # fmt: skip
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr.decode()


PIPED = [
    ("--version",),
    ("--help",),
    ("help", "model"),
    ("model", "--help"),
    ("for-each-ref",),
    ("read-ref", "models/m/1.0.0"),
    ("model", "list"),
    ("model", "history", "m"),
    ("model", "get", "m:1.0.0"),
    ("model", "list", "--json"),
    ("remote", "list", "--json"),
]


def test_output_into_a_closed_pipe_stops_quietly_with_141(cli: Cli, tmp_path: Path) -> None:
    """`pacha model list | head -1` exited 1 ("failed": rich's and typer's handling of a closed
    pipe) and `pacha --version | head -0` ended in a traceback; Git stops quietly, 141 (SIGPIPE)."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    cli("remote", "add", "origin", tmp_path / "remote", "--no-check")
    assert {args: _into_closed_pipe(cli, *args) for args in PIPED} == {args: (141, "") for args in PIPED}


def test_a_remote_given_as_a_relative_path_is_the_same_remote_from_any_directory(
    cli: Cli, tmp_path: Path
) -> None:
    """`pacha clone ./team ../laptop --lazy`, then `pacha model download` run from another
    directory failed ("neither here nor on remote /elsewhere/team"): the path was recorded as
    typed and read against each later command's directory. `remote add` and `remote set url`
    recorded it so too (a push from elsewhere went to, or created, another directory)."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "team").mkdir(parents=True)
    (elsewhere / "team").mkdir(parents=True)  # what a relative ./team would name from there
    cli("remote", "add", "origin", "./team", "--default", cwd=work)
    cli("push", cwd=elsewhere)
    assert any((work / "team").iterdir()) and not any((elsewhere / "team").iterdir())
    cli("remote", "set", "origin", "url", "../work/team", cwd=elsewhere)
    assert cli("remote", "list", "--json").text.count(f'"url": "{work / "team"}"') == 1
    laptop = {**cli.env, "PACHA_DIR": str(tmp_path / "laptop")}
    cli("clone", "./team", "../laptop", "--lazy", cwd=work, env=laptop)
    cli("model", "download", "m:1.0.0", "-o", tmp_path / "out.bin", cwd=elsewhere, env=laptop)
    assert (tmp_path / "out.bin").read_bytes() == (tmp_path / "m.bin").read_bytes()


def test_run_plot_writes_exactly_the_file_named_or_says_why_not(cli: Cli, tmp_path: Path) -> None:
    """`run plot -o curve` said "wrote curve" and wrote curve.png (matplotlib adds the suffix),
    `-o DIR` wrote DIR.png, `-o c.txt` ended in a traceback (matplotlib's ValueError)."""
    from tests.test_recipes import prepare_recipe

    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip()
    cli("run", "log", run, "loss=0.5", "--step", "1")
    cli("run", "log", run, "loss=0.25", "--step", "2")
    (tmp_path / "plots").mkdir()
    for name, magic in (
        ("curve", b"\x89PNG"),
        ("c.png", b"\x89PNG"),
        ("c.svg", b"<?xml"),
        ("c.pdf", b"%PDF"),
    ):
        out = tmp_path / "plots" / name
        assert cli("run", "plot", run, "-m", "loss", "-o", out).text == f"wrote {out} (1 curve(s))\n"
        assert out.read_bytes().startswith(magic), name
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["c.pdf", "c.png", "c.svg", "curve"]
    line = _one_line(cli.fails("run", "plot", run, "-m", "loss", "-o", tmp_path / "c.txt", code=128).err)
    assert "'txt' is not an image format; use one of" in line and "png" in line, line
    line = _one_line(cli.fails("run", "plot", run, "-m", "loss", "-o", tmp_path / "plots", code=2).err)
    assert f"-o {tmp_path / 'plots'} is a directory: give the file to write" in line, line
    assert not (tmp_path / "c.txt").exists() and not (tmp_path / "plots.png").exists()
    assert not [p for p in tmp_path.rglob(".*pacha-*")]  # no temporary file left


def test_run_commands_name_a_recipe_that_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    """`run best nope -m loss` said "no run has metric 'loss'" and `run list nope` "no runs"
    (exit 0): a bare recipe name that names nothing was read as a recipe without runs."""
    from tests.test_recipes import prepare_recipe

    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    for args in (("list", "nope"), ("best", "nope", "-m", "loss"), ("importance", "nope", "-m", "loss")):
        line = _one_line(cli.fails("run", *args, code=1).err)
        assert line.startswith("error: no recipe named nope"), line
    assert cli("run", "list", "bert-finetune").text.strip() == "no runs"


def test_an_override_out_of_the_recipes_range_is_refused(cli: Cli, tmp_path: Path) -> None:
    """`recipe run R --override learning_rate=-1` ran, though `recipe validate` refuses that
    recipe with learning_rate = -1: the overrides were checked for type, not range."""
    from tests.test_recipes import prepare_recipe

    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    for assignment, why in (
        ("learning_rate=-1", "learning_rate must be positive"),
        ("learning_rate=0", "learning_rate must be positive"),
        ("batch_size=0", "batch_size must be at least 1"),
        ("epochs=-3", "epochs must be at least 1"),
        ("warmup_steps=-1", "warmup_steps must not be negative"),
    ):
        for args in (("recipe", "run", "bert-finetune:1.0.0", "--override", assignment, "--", "true"),
                     ("run", "start", "bert-finetune:1.0.0", "--override", assignment)):  # fmt: skip
            line = _one_line(cli.fails(*args, code=128).err)
            assert line.startswith(f"fatal: --override {assignment}: hyperparameters.{why}"), line
    assert cli("run", "list").text.strip() == "no runs"


@given(
    name=st.sampled_from(["learning_rate", "batch_size", "epochs", "weight_decay", "warmup_steps"]),
    value=st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False),
)
def test_an_override_is_accepted_exactly_when_validate_accepts_the_recipe_with_it(
    name: str, value: float
) -> None:
    """The property: one rule for a recipe's values and a run's overrides."""
    import tomllib

    from porcelain.errors import InvalidInput
    from porcelain.recipes.check import check
    from porcelain.recipes.overrides import coerce_override
    from tests.test_recipes import RECIPE

    doc = tomllib.loads(RECIPE)
    text = repr(value)
    try:
        coerce_override(doc, f"{name}={text}")
        accepted = True
    except InvalidInput:
        accepted = False
    changed = tomllib.loads(RECIPE)
    changed["hyperparameters"][name] = value
    if isinstance(value, float) and isinstance(doc["hyperparameters"][name], int):
        assert not accepted  # a type the recipe does not have
    else:
        assert accepted == (check(changed).errors == [])


def test_messages_say_what_was_given(cli: Cli, tmp_path: Path) -> None:
    """`cat-object -t 550` said '550' is "neither a ref nor an object id prefix" (it is hex: too
    short to be one); `gc --keep-last -1` said "--keep-last-1"."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    blob = cli("hash-object", "-w", tmp_path / "m.bin").text.strip()
    for args in (("cat-object", "-t"), ("rev-parse",), ("ls-tree",)):
        line = _one_line(cli.fails(*args, blob[:3], code=1).err)
        short = "is not a ref, and too short for an object id prefix (at least 4 hex characters)"
        assert line == f"error: '{blob[:3]}' {short}", line
    assert _one_line(cli.fails("cat-object", "-t", "nope", code=1).err).endswith(
        "neither a ref nor an object id prefix"
    )
    for n in ("0", "-1"):
        line = _one_line(cli.fails("gc", "--keep-last", n, code=128).err)
        assert line == f"fatal: --keep-last {n}: keep at least 1 version of each name", line


def test_options_that_do_not_go_together_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    """Options given in a combination the command cannot take exited 128 ("fatal"), where the
    same kind of mistake elsewhere (-v with --bump) exits 2: a usage error, as the parser's."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    cli("data", "register", "d", tmp_path / "d.csv", "-v", "1.0.0")
    cases = {
        ("model", "register", "n", tmp_path / "m.bin", "--from", "m:1.0.0"): "--from needs --relation",
        (
            "model",
            "register",
            "n",
            tmp_path / "m.bin",
            "--param",
            "quantization=int8",
        ): "--param needs --relation",
        (
            "data",
            "register",
            "e",
            tmp_path / "d.csv",
            "--transform",
            "first rows",
        ): "--derived-from and --transform",
        (
            "data",
            "register",
            "e",
            tmp_path / "d.csv",
            "--derived-from",
            "d:1.0.0",
        ): "--derived-from and --transform",
        ("model", "get", "m:1.0.0", "--at", "2026-01-01"): "--at needs a NAME@STAGE reference",
        ("clone", tmp_path / "r", tmp_path / "c", "--all", "--lazy"): "give --all or --lazy, not both",
        ("model", "register", "n", tmp_path / "m.bin", "-v", "1.0.0", "--bump", "minor"): "not both",
    }
    for args, words in cases.items():
        line = _one_line(cli.fails(*args, code=2).err)
        assert line.startswith(f"usage: pacha {args[0]}") and words in line, line
    assert not (tmp_path / "c").exists()


def test_an_empty_listing_says_there_is_nothing(cli: Cli) -> None:
    """`remote list` and `policy list` printed only a header in a fresh registry, where `model
    list` and `run list` say "no model versions", "no runs"; --json stays an empty array."""
    assert cli("remote", "list").text == "no remotes; add one with `pacha remote add origin URL`\n"
    assert cli("policy", "list").text == "no policies: every name is open (`pacha policy set` makes one)\n"
    assert cli("remote", "list", "--json").text.strip() == "[]"
    assert cli("policy", "list", "--json").text.strip() == "[]"
