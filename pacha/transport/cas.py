"""Conditional writes and the probe that tells whether a store honours them.

create = PUT with If-None-Match: * (refused with 412 if the key exists); replace = PUT with
If-Match: <ETag> (412 if the key changed since it was read). A 409 (two conditional writes
at once, AWS's ConditionalRequestConflict) is retried after a short random wait. A store
that ignores the headers would let two writers both "win": the probe detects that before
any ref is moved.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

from pacha.transport.backend import Backend, Conflict, PreconditionFailed
from pacha.transport.errors import RemoteAccessDenied
from pacha.transport.layout import PROBE_DIR

CONFLICT_RETRIES = 8


def create(backend: Backend, key: str, data: bytes) -> str:
    """If-None-Match: * write (PreconditionFailed if key exists), retrying on 409."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            return backend.create(key, data)
        except Conflict:
            _backoff(attempt)
    return backend.create(key, data)


def replace(backend: Backend, key: str, data: bytes, etag: str) -> str:
    """If-Match: etag write (PreconditionFailed if key changed), retrying on 409."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            return backend.replace(key, data, etag)
        except Conflict:
            _backoff(attempt)
    return backend.replace(key, data, etag)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * 2**attempt))


@dataclass(frozen=True)
class ProbeResult:
    """What a store allows. conditional_writes: None when it could not be tried (read-only)."""

    readable: bool
    writable: bool
    conditional_writes: bool | None
    initialized: bool  # holds a pacha-remote marker
    detail: str  # one line for people


def probe_conditional_writes(backend: Backend) -> tuple[bool | None, str]:
    """Create a test key twice with If-None-Match: * (the second must be refused), then replace
    it with a wrong ETag (must be refused) and the right one (must pass); remove it.

    Returns (honoured, detail); honoured is None when the credentials cannot write."""
    key = f"{PROBE_DIR}{uuid.uuid4().hex}"
    try:
        etag = create(backend, key, b"first")
    except RemoteAccessDenied:
        return None, "read-only: these credentials cannot write (fetch, pull and clone work)"
    except PreconditionFailed:
        return False, "the store refused to create a new key with If-None-Match: *"
    try:
        try:
            create(backend, key, b"second")
            return False, "the store ignores If-None-Match: * (a second create of the same key succeeded)"
        except PreconditionFailed:
            pass
        try:
            replace(backend, key, b"third", '"0123456789abcdef0123456789abcdef"')
            return False, "the store ignores If-Match (a replace with a wrong ETag succeeded)"
        except PreconditionFailed:
            pass
        try:
            replace(backend, key, b"fourth", etag)
        except PreconditionFailed:
            return False, "the store refuses If-Match with the key's own ETag"
        return True, "conditional writes honoured (If-None-Match: *, If-Match)"
    finally:
        backend.delete(key)
