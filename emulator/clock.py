"""Time and ids, injected into everything that needs them.

The pure core never reads the clock or draws random ids itself: it is given a
:class:`Clock` and an id factory, so that tests can pin both without patching.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "IdFactory", "SystemClock", "new_api_id", "new_id", "new_uuid"]

IdFactory = Callable[[], str]


class Clock(Protocol):
    """Wall-clock milliseconds for event fields, monotonic seconds for timers."""

    def epoch_ms(self) -> int: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def epoch_ms(self) -> int:
        return time.time_ns() // 1_000_000

    # The C function itself, without a method around it: read twice a message.
    monotonic = staticmethod(time.monotonic)


class _Batches:
    """Ids made a batch at a time, from one read of the operating system's
    CSPRNG: an id per ``getrandom`` call, and the lock and encoding around it,
    would cost each message three times over. Each id is handed out once
    (``list.pop`` is atomic), from any thread; a forked child starts on fresh
    batches of its own."""

    __slots__ = ("_ids", "_lock", "_make")

    def __init__(self, make: Callable[[], list[str]]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._ids: list[str] = []
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # The lock too: a thread of the parent's may have held it at the fork.
        self._lock = threading.Lock()
        self._ids = []

    def take(self) -> str:
        while True:
            try:
                return self._ids.pop()
            except IndexError:
                with self._lock:
                    if not self._ids:  # not refilled by another thread meanwhile
                        self._ids = self._make()


_BATCH = 128  # ids per read of the CSPRNG


def _cut(text: str, width: int) -> list[str]:
    """``text`` in pieces of ``width``, the last piece first (taken from the end)."""
    return [text[at - width : at] for at in range(len(text), 0, -width)]


def _id_batch() -> list[str]:
    # An id's 11 bytes are read as 12, the last zeroed: twelve bytes are sixteen
    # base64 characters that share no bits with their neighbours', so one
    # encoding of the whole read gives every id, the fifteenth character the
    # same as for 11 bytes (the zeroed byte's top bits are its padding bits).
    raw = bytearray(os.urandom(12 * _BATCH))
    raw[11::12] = bytes(_BATCH)
    text = bytearray(base64.urlsafe_b64encode(raw))
    text[15::16] = b"=" * _BATCH
    return _cut(text.decode("ascii"), 16)


_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_RFC_4122 = bytes((byte & 0x3F) | 0x80 for byte in range(256))
# Where each of a UUID's 32 hex digits goes in its 36-character text.
_DIGIT_AT = [*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]


def _uuid_batch() -> list[str]:
    raw = bytearray(os.urandom(16 * _BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_RFC_4122)
    digits = raw.hex().encode("ascii")
    text = bytearray(b"-" * (36 * _BATCH))
    for digit, at in enumerate(_DIGIT_AT):
        text[at::36] = digits[digit::32]
    return _cut(text.decode("ascii"), 36)


_ids = _Batches(_id_batch)
_uuids = _Batches(_uuid_batch)


def new_id() -> str:
    """A 16-character AWS-style id such as ``R1kmxc2VNjMCFIA=`` (spec §2.7).

    Drawn from the operating system's CSPRNG: a connection id is the only
    thing @connections asks for, so one client must not be able to work out
    another's from the ids it has seen (a seeded generator's output can be).
    """
    # AWS: every observed connectionId/requestId is URL-safe base64 of 11 bytes;
    # the spec's recommendation (§2.7) is os.urandom.
    return _ids.take()


def new_uuid() -> str:
    """A random (version 4) UUID as text, as Lambda's request ids are:
    ``str(uuid.uuid4())``, from the same CSPRNG, without the UUID object."""
    return _uuids.take()


_API_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_api_id() -> str:
    """A 10-character lowercase alphanumeric API id such as ``dl7ptocha9``."""
    return "".join(secrets.choice(_API_ID_ALPHABET) for _ in range(10))
