"""The idle and maximum-duration timeouts of open connections (spec §5).

AWS closes a connection idle for 10 minutes (data in either direction counts,
pings do not) or open for 2 hours, with 1001 ``Going away``. One timer per
connection, not rescheduled on every message: activity only moves the record's
``active_at`` (on the ``now`` clock the timers are given), and an early wake-up
just sleeps again until :meth:`~emulator.gateway.registry.ConnectionRecord.timeout_due`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from emulator.gateway.registry import ConnectionRecord, ConnectionState, Registry
from emulator.model.api import Limits

__all__ = ["ConnectionTimers"]

P = TypeVar("P")


class ConnectionTimers(Generic[P]):
    """Closes the connections of ``registry`` whose timeout expired, with ``expire``.

    ``now`` is the monotonic clock activity is timed on, in seconds; ``limits``
    gives the current limits (a reload may change them).
    """

    def __init__(
        self,
        now: Callable[[], float],
        registry: Registry[P],
        limits: Callable[[], Limits],
        expire: Callable[[ConnectionRecord[P]], None],
    ) -> None:
        self._now = now
        self._registry = registry
        self._limits = limits
        self._expire = expire
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Schedule on ``loop`` from now on."""
        self._loop = loop

    def check(self, record: ConnectionRecord[P]) -> None:
        """Close ``record`` if a timer expired, else look again when one might."""
        self._handles.pop(record.connection_id, None)
        if record.state is not ConnectionState.OPEN:
            return
        limits = self._limits()
        now = self._now()
        expired, deadline = record.timeout_due(
            now, limits.idle_timeout, limits.max_connection_duration
        )
        if expired:
            self._expire(record)
            return
        assert self._loop is not None
        self._handles[record.connection_id] = self._loop.call_later(
            deadline - now, self.check, record
        )

    def forget(self, connection_id: str) -> None:
        """Stop watching one connection (it is closing)."""
        handle = self._handles.pop(connection_id, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def recheck(self) -> None:
        """Look at every watched connection again now: the clock was moved forward."""
        for connection_id in list(self._handles):
            record = self._registry.get(connection_id)
            handle = self._handles.pop(connection_id)
            handle.cancel()
            if record is not None:
                self.check(record)
