"""`--at T` names the whole interval T's precision gives: a time copied from `history` (shown to
the second) or from `date -u +%Y-%m-%dT%H:%M:%S` includes the changes made within that second.

The defect (CI, README walkthrough): a promotion at 08:14:56.4 and `--at 08:14:56` right after
it said "no version ... was in production", because the time was read as 08:14:56.000."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from porcelain.cli._output import parse_time
from tests.conftest import Cli

NS = 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# precision -> (strftime spelling of the date-time, width of the interval it names in ns)
COARSE = {
    "day": ("%Y-%m-%d", 86_400 * NS),
    "day, basic": ("%Y%m%d", 86_400 * NS),
    "hour": ("%Y-%m-%dT%H", 3600 * NS),
    "minute": ("%Y-%m-%dT%H:%M", 60 * NS),
    "minute, basic": ("%Y%m%dT%H%M", 60 * NS),
    "second": ("%Y-%m-%dT%H:%M:%S", NS),
    "second as history shows it": ("%Y-%m-%d %H:%M:%SZ", NS),
    "second, basic": ("%Y%m%dT%H%M%S", NS),
}


def spell(when_ns: int, precision: str, offset_minutes: int) -> tuple[str, int, int]:
    """when_ns spelled at `precision` in a zone `offset_minutes` east of UTC
    -> (text, first ns of the interval the text names, its width in ns)."""
    zone = timezone(timedelta(minutes=offset_minutes))
    local = EPOCH.astimezone(zone) + timedelta(microseconds=when_ns // 1000)
    local_ns = when_ns + offset_minutes * 60 * NS  # the same instant on the zone's wall clock
    if precision.startswith("fraction"):
        digits = int(precision.split()[1])
        width = 10 ** (9 - digits)
        fraction = str(when_ns % NS).zfill(9)[:digits]
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + "." + fraction
        first = when_ns - when_ns % width
    else:
        pattern, width = COARSE[precision]
        text = local.strftime(pattern)
        first = local_ns - local_ns % width - offset_minutes * 60 * NS
    if offset_minutes and "Z" not in text and precision not in ("day", "day, basic"):
        sign = "+" if offset_minutes >= 0 else "-"
        text += f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    return text, first, width


PRECISIONS = [*COARSE, *(f"fraction {n}" for n in range(1, 10))]


@given(
    when_ns=st.integers(0, 4_000_000_000 * NS),
    precision=st.sampled_from(PRECISIONS),
    offset_minutes=st.sampled_from([0, 60, -90, 330, 14 * 60, -12 * 60]),
)
def test_a_time_names_the_last_nanosecond_of_the_interval_it_spells(
    when_ns: int, precision: str, offset_minutes: int
) -> None:
    """Every change stored within the interval is at or before T; none after it is."""
    if precision in ("day", "day, basic", "second as history shows it"):
        offset_minutes = 0  # a bare date is a UTC day; history shows UTC
    text, first, width = spell(when_ns, precision, offset_minutes)
    assert first <= when_ns < first + width
    assert parse_time(text) == first + width - 1, text


def test_an_iso_week_is_seven_days_and_a_week_day_one() -> None:
    monday = datetime(2026, 11, 23, tzinfo=UTC)  # ISO week 48 of 2026 starts on it
    start = (monday - EPOCH) // timedelta(microseconds=1) * 1000
    assert parse_time("2026-W48") == start + 7 * 86_400 * NS - 1
    assert parse_time("2026W48") == start + 7 * 86_400 * NS - 1
    assert parse_time("2026-W48-2") == start + 2 * 86_400 * NS - 1


def test_history_s_time_brings_back_the_change_made_in_that_second(cli: Cli, tmp_path: Path) -> None:
    """Through the CLI, as a user does it: copy a promotion's time from `model history` (to the
    second) and ask what was in production then; and as the README does, with `date`'s second."""
    for version in ("1.0.0", "2.0.0"):
        artifact = tmp_path / f"m{version}.bin"
        artifact.write_bytes(os.urandom(100))
        cli("model", "register", "m", artifact, "-v", version)
    cli("model", "stage", "m:1.0.0", "-t", "production")
    now_second = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # `date -u` right after
    promoted = json.loads(cli("model", "history", "m", "--json").text)[-1]["when_ns"]
    shown = datetime.fromtimestamp(promoted // NS, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    assert shown in cli("model", "history", "m").text

    def in_production_at(when: str) -> str:
        got = cli("model", "get", "m@production", "--at", when, "--json").text
        return str(json.loads(got)["version"])

    assert in_production_at(shown) == "1.0.0"
    assert in_production_at(now_second) == "1.0.0"
    assert in_production_at(shown[:16]) == "1.0.0"  # the minute, as typed by hand
    # in the second before the promotion's, nothing was in production yet
    before = datetime.fromtimestamp(promoted // NS - 1, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    cli.fails("model", "get", "m@production", "--at", before, code=1)
