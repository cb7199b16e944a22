"""Time and ids, injected into everything that needs them.

The pure core never reads the clock or draws random ids itself: it is given a
:class:`Clock` and an id factory, so that tests can pin both without patching.
"""

from __future__ import annotations

import binascii
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

    def monotonic(self) -> float:
        return time.monotonic()


class _Entropy:
    """The operating system's CSPRNG, read 4 KB at a time: three ids per
    message would otherwise be three ``getrandom`` calls. Each byte is handed
    out once; a forked child starts on fresh bytes of its own."""

    _SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # The lock too: a thread of the parent's may have held it at the fork.
        self._lock = threading.Lock()
        self._bytes, self._at = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            at = self._at
            if at + count > len(self._bytes):
                self._bytes, at = os.urandom(self._SIZE), 0
            self._at = at + count
            return self._bytes[at : at + count]


_entropy = _Entropy()
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def new_id() -> str:
    """A 16-character AWS-style id such as ``R1kmxc2VNjMCFIA=`` (spec §2.7).

    Drawn from the operating system's CSPRNG: a connection id is the only
    thing @connections asks for, so one client must not be able to work out
    another's from the ids it has seen (a seeded generator's output can be).
    """
    # AWS: every observed connectionId/requestId is URL-safe base64 of 11 bytes;
    # the spec's recommendation (§2.7) is os.urandom.
    encoded = binascii.b2a_base64(_entropy.take(11), newline=False)
    return encoded.translate(_URL_SAFE).decode("ascii")


def new_uuid() -> str:
    """A random (version 4) UUID as text, as Lambda's request ids are:
    ``str(uuid.uuid4())``, from the same CSPRNG bytes, without the UUID object."""
    raw = bytearray(_entropy.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_API_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_api_id() -> str:
    """A 10-character lowercase alphanumeric API id such as ``dl7ptocha9``."""
    return "".join(secrets.choice(_API_ID_ALPHABET) for _ in range(10))
