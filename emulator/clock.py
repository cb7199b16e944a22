"""Time and ids, injected into everything that needs them.

The pure core never reads the clock or draws random ids itself: it is given a
:class:`Clock` and an id factory, so that tests can pin both without patching.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "IdFactory", "SystemClock", "new_api_id", "new_id"]

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


def new_id() -> str:
    """A 16-character AWS-style id such as ``R1kmxc2VNjMCFIA=`` (spec §2.7).

    Drawn from the operating system's CSPRNG: a connection id is the only
    thing @connections asks for, so one client must not be able to work out
    another's from the ids it has seen (a seeded generator's output can be).
    """
    # AWS: every observed connectionId/requestId is URL-safe base64 of 11 bytes;
    # the spec's recommendation (§2.7) is os.urandom.
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


_API_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_api_id() -> str:
    """A 10-character lowercase alphanumeric API id such as ``dl7ptocha9``."""
    return "".join(secrets.choice(_API_ID_ALPHABET) for _ in range(10))
