"""Reading the documents a user hands in: bounded, strictly decoded, nesting limited.

Cards, datasheets, recipes, config.toml, a hook's output and JSON given to a command
are all read here, so each failure is one line naming the file:

- size: at most `limit` bytes are read (a path to /dev/zero, or a 10 GB file given
  by mistake, stops there instead of filling memory);
- the path is a regular file or a pipe handed over on purpose (`<(cmd)`); a named
  FIFO, a device, a socket or a directory is refused before it is opened
  (pacha.pathnames.check_source);
- decoding: strict UTF-8 (a leading byte-order mark is allowed and dropped); the
  offset of the first bad byte is named;
- nesting: arrays and tables (objects) at most MAX_DEPTH deep, checked by a scan
  before parsing, so no parser recursion can run out of stack.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from typing import Any

from pacha.errors import InvalidInput
from pacha.pathnames import check_source

MAX_DOCUMENT_BYTES = 16 << 20  # cards, recipes, config: far above any real one
MAX_DEPTH = 64  # arrays and tables inside each other


def read_bytes(path: str | os.PathLike[str], what: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of the document at path, at most limit of them (else InvalidInput)."""
    info = check_source(path, what)
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInput(f"{what} {path} is a directory; give a file")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {_size(limit)}; is it the right file?")
    return data


def decode_text(data: bytes, what: str) -> str:
    """data as strict UTF-8 text (a byte-order mark dropped); InvalidInput names the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | os.PathLike[str], what: str, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The document at path as text: bounded and strictly decoded (see the module)."""
    return decode_text(read_bytes(path, what, limit), f"{what} {path}")


def check_depth(text: str, what: str, syntax: str = "toml", max_depth: int = MAX_DEPTH) -> None:
    """Refuse text whose arrays and tables nest deeper than max_depth, before a parser recurses.

    Brackets inside strings (and, for TOML, comments) do not count. The scan is
    conservative: a table header `[a]` or `[[a]]` counts as one or two levels.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "[{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, i) + 1
                raise InvalidInput(f"{what}:{line}: nested more than {max_depth} levels deep")
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "#" and syntax == "toml":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == '"' or (c == "'" and syntax == "toml"):
            i = _string_end(text, i, c, syntax)
            continue
        i += 1


def check_value_depth(value: Any, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """value, if its lists and dicts nest at most max_depth deep (dotted TOML keys nest too)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:  # the top level is not nested in anything
                raise InvalidInput(f"{what}: nested more than {max_depth} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


def _string_end(text: str, i: int, quote: str, syntax: str) -> int:
    """The position just past the string starting at text[i] (unterminated: the end of text)."""
    n = len(text)
    if syntax == "toml" and text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        if quote == '"':
            while end > 0 and _escaped(text, end):
                end = text.find(quote * 3, end + 1)
        if end < 0:
            return n
        end += 3
        while end < n and text[end] == quote:  # up to two quotes may end the content
            end += 1
        return end
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\" and quote == '"':
            j += 2
            continue
        if c == quote:
            return j + 1
        if c == "\n" and syntax == "toml":
            return j  # a one-line string cannot span lines: the parser reports it
        j += 1
    return n


def _escaped(text: str, at: int) -> bool:
    """Whether the character at `at` is preceded by an odd number of backslashes."""
    count = 0
    while at - count - 1 >= 0 and text[at - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def parse_toml(text: str, what: str) -> dict[str, Any]:
    """A TOML document (nesting checked first); InvalidInput names what and the line of an error."""
    check_depth(text, what, "toml")
    try:
        doc: dict[str, Any] = check_value_depth(tomllib.loads(text), what)
        return doc
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        position = f"{what}:{match[1]}:{match[2]}" if match else what
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise InvalidInput(f"{position}: TOML syntax error: {message}") from None
    except RecursionError:  # the depth scan should make this unreachable: still one line
        raise InvalidInput(f"{what}: nested too deeply") from None


def load_toml(path: str | os.PathLike[str], what: str, limit: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    """Read and parse the TOML document at path: what names it in errors ("model card")."""
    return parse_toml(read_text(path, what, limit), f"{what} {path}")


def parse_json(data: bytes, what: str, limit: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON document given as bytes: bounded, strict UTF-8, nesting checked, one-line errors."""
    import msgspec

    if len(data) > limit:
        raise InvalidInput(f"{what} is larger than {_size(limit)}")
    check_depth(decode_text(data, what), what, "json")
    try:
        return check_value_depth(msgspec.json.decode(data), what)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{what}: nested too deeply") from None


def read_stream(stream: Any, what: str, limit: int) -> bytes:
    """At most limit bytes from a binary stream (standard input, a hook's output), else InvalidInput."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{what} is larger than {_size(limit)}")
    return bytes(data)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "check_depth",
    "check_value_depth",
    "decode_text",
    "load_toml",
    "parse_json",
    "parse_toml",
    "read_bytes",
    "read_stream",
    "read_text",
]
