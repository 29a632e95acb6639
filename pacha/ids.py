"""Object ids: BLAKE3 digests written as 64 lowercase hex characters (hashing: pacha.hashing)."""

from __future__ import annotations

import re

from pacha.errors import InvalidInput

ID_LEN = 64
MIN_PREFIX_LEN = 4
ZERO_ID = "0" * ID_LEN
HEX_DIGITS = frozenset("0123456789abcdef")


_HEX = re.compile(r"[0-9a-fA-F]+")


def is_hex(text: str) -> bool:
    """True when text is non-empty and only lowercase or uppercase hex digits."""
    return _HEX.fullmatch(text) is not None


def is_full_id(text: str) -> bool:
    """True when text is a complete object id (any case)."""
    return len(text) == ID_LEN and is_hex(text)


def check_id(text: str, what: str = "object id") -> str:
    """Return text as a canonical (lowercase) full id or raise InvalidInput."""
    if not is_full_id(text):
        raise InvalidInput(f"{what} {text!r} is not a valid id: expected {ID_LEN} hex characters")
    return text.lower()
