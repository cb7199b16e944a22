"""The connections of one API and their states (spec §4.5).

::

    PENDING  upgrade received; authorizer/$connect running     mgmt ops -> 410
    OPEN     $connect accepted (or there is none)               mgmt ops served
    CLOSING  close begun, $disconnect queued or running         mgmt ops -> 410
    (gone)   forgotten                                           mgmt ops -> 410

The registry stores the transport's connection object opaquely (``peer``), so
this module knows nothing of sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

from emulator.errors import GoneError
from emulator.gateway.events import ConnectionInfo

__all__ = ["ConnectionRecord", "ConnectionState", "Registry"]

P = TypeVar("P")


class ConnectionState(enum.Enum):
    PENDING = "pending"
    OPEN = "open"
    CLOSING = "closing"


# Read per post: through a module global, not the enum class (on Python 3.11
# EnumType defines __getattr__, which slows every lookup through the class).
_OPEN: Final = ConnectionState.OPEN


class ConnectionRecord(Generic[P]):
    """One connection: its shared event fields, state, and activity time."""

    __slots__ = (
        "active_at",
        "connection_id",
        "info",
        "last_active_ms",
        "on_settled",
        "opened_at",
        "peer",
        "state",
    )

    def __init__(self, info: ConnectionInfo, peer: P) -> None:
        self.info = info
        # The info is replaced once $connect has run (its authorizer's context);
        # the id stays. An attribute: it is read several times per message.
        self.connection_id = info.connection_id
        self.peer = peer
        self.state = ConnectionState.PENDING
        self.last_active_ms = info.connected_at  # wall clock, for GetConnection
        # Monotonic seconds, for the idle and maximum-duration timers.
        self.opened_at = 0.0
        self.active_at = 0.0
        # What waits for $connect's outcome: run once the connection opened, or
        # never will (an Event invocation its $connect handler made).
        self.on_settled: list[Callable[[], None]] | None = None

    def timeout_due(self, now: float, idle: float, lifetime: float) -> tuple[bool, float]:
        """Whether a timer has expired at ``now``, else when to look again.

        AWS closes a connection idle for 10 minutes (data in either direction
        counts, pings do not) or open for 2 hours (spec §5).
        """
        deadline = min(self.active_at + idle, self.opened_at + lifetime)
        return now >= deadline, deadline


class Registry(Generic[P]):
    """Connection ids to records. Not thread-safe: the event loop owns it."""

    def __init__(self) -> None:
        self._records: dict[str, ConnectionRecord[P]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ConnectionRecord[P]]:
        return iter(list(self._records.values()))

    def add(self, info: ConnectionInfo, peer: P) -> ConnectionRecord[P]:
        record = ConnectionRecord(info, peer)
        self._records[info.connection_id] = record
        return record

    def get(self, connection_id: str) -> ConnectionRecord[P] | None:
        return self._records.get(connection_id)

    def get_open(self, connection_id: str) -> ConnectionRecord[P] | None:
        """The record if the connection is OPEN, else None."""
        record = self._records.get(connection_id)
        return record if record is not None and record.state is _OPEN else None

    def open_record(self, connection_id: str) -> ConnectionRecord[P]:
        """The record if the connection is OPEN, else :class:`GoneError`."""
        record = self.get_open(connection_id)
        if record is None:
            raise GoneError()
        return record

    def open_records(self) -> list[ConnectionRecord[P]]:
        return [r for r in self._records.values() if r.state is _OPEN]

    def open_ids(self) -> list[str]:
        return [r.connection_id for r in self.open_records()]

    def discard(self, connection_id: str) -> None:
        self._records.pop(connection_id, None)
