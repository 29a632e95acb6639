"""Output for people (rich) and for programs (--json)."""

from __future__ import annotations

import errno
import re
import sys
from datetime import UTC, datetime
from typing import Any

from porcelain.errors import InvalidInput
from porcelain.finite import finite_float

# Without a terminal nothing is cut or wrapped: a line is as long as what it says.
PIPE_WIDTH = 1 << 20


def console() -> Any:
    """The one rich Console every porcelain command prints through.

    On a terminal it uses the terminal's width (long cells fold onto the next line,
    never end in an ellipsis); in a pipe or file (`pacha run list | grep 1.1.0`) it
    ignores COLUMNS and the 80-column default, so no line is truncated or wrapped, and
    it writes no colour or style codes. Emoji codes are not replaced: `-m ":smile: done"` is
    shown as typed. A string printed through it is read as rich markup: escape what a user
    wrote (rich.markup.escape), or print it with markup=False.
    """
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 ("failed") when the reader left (`pacha model list | head -1`); raise
            # it on to the dispatcher, which stops quietly with 141 as Git does
            raise BrokenPipeError(errno.EPIPE, "the reader of standard output went away")

    if sys.stdout.isatty():
        return PipeConsole(highlight=False, emoji=False)
    return PipeConsole(
        highlight=False, emoji=False, width=PIPE_WIDTH, no_color=True, color_system=None, soft_wrap=True
    )


def table(*columns: str, header: bool = True, right: tuple[str, ...] = ()) -> Any:
    """A borderless rich Table whose cells fold rather than truncate (see console()).

    A str cell is shown exactly as given, never read as markup: cells hold what users wrote (a
    stage change's why, an author, a URL, a metric name), and `why [/z]` made `model history` fail
    with rich's MarkupError. A styled cell is a rich Text (Text.from_markup)."""
    from rich.table import Table
    from rich.text import Text

    class LiteralTable(Table):
        def add_row(self, *cells: Any, **options: Any) -> None:
            super().add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **options)

    out = LiteralTable(box=None, header_style="bold", show_header=header)
    for column in columns:
        out.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return out


def print_json(data: Any) -> None:
    import msgspec

    sys.stdout.write(msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n")


def when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def parse_time(text: str) -> int:
    """ISO 8601 date or date-time (UTC unless an offset is given) -> ns since the epoch.

    A time names an interval as wide as its precision: `2026-03-01T12:00:05` is that whole
    second, `2026-03-01T12:00` that minute, `2026-03-01` that day, `2026-W09` that ISO week,
    `...:05.25` that hundredth of a second. The result is the interval's last nanosecond, so
    `--at` with a time copied from `history` (shown to the second) or from `date` includes the
    changes made within that second (ISO 8601-1:2019, 5.3.1.3 reduced precision). Integer
    arithmetic throughout: no float rounding. InvalidInput when `text` is not ISO 8601."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r} is not a date-time; use e.g. 2026-03-01T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment.replace(microsecond=0) - datetime(1970, 1, 1, tzinfo=UTC)
    start = (whole.days * 86_400 + whole.seconds) * NS_PER_SECOND
    fraction_ns, width = _fraction_and_width(text.strip(), moment.microsecond * 1000)
    return start + fraction_ns + width - 1


NS_PER_SECOND = 1_000_000_000
# The spellings datetime.fromisoformat accepts (Python 3.11), split into the date and the time
# without its UTC offset, to tell how precise the time is; see parse_time.
_PRECISION = re.compile(
    r"\d{4}-?(?:W\d{2}(?:-?(?P<wday>\d))?|(?P<day>\d{2}-?\d{2}))"
    r"(?:[T ](?P<hms>\d{2}(?::?\d{2}(?::?\d{2})?)?)(?:[.,](?P<fraction>\d+))?"
    r"(?:Z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?)?)?"
)


def _fraction_and_width(text: str, parsed_fraction_ns: int) -> tuple[int, int]:
    """(ns past the whole second, interval width in ns) of an ISO 8601 time's spelling."""
    spelled = _PRECISION.fullmatch(text)
    if spelled is None:  # a spelling the pattern misses: the microsecond Python read
        return parsed_fraction_ns, 1000
    if spelled["hms"] is None:
        days = 7 if spelled["day"] is None and spelled["wday"] is None else 1
        return 0, days * 86_400 * NS_PER_SECOND
    if spelled["fraction"]:
        shown = spelled["fraction"][:9]  # the reflog stores ns: finer digits name the same ns
        return int(shown.ljust(9, "0")), 10 ** (9 - len(shown))
    digits = len(spelled["hms"].replace(":", ""))
    return 0, {2: 3600, 4: 60}.get(digits, 1) * NS_PER_SECOND


def parse_metrics(pairs: list[str], what: str = "--metric") -> dict[str, float]:
    """NAME=NUMBER pairs -> {name: finite float}; InvalidInput names the pair that is wrong."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {pair!r}: use NAME=NUMBER, e.g. auc=0.93")
        out[key.strip()] = finite_float(value.strip(), f"{what} {pair!r}")
    return out
