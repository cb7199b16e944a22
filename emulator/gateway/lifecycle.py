"""Each connection's life: the upgrade and ``$connect``, its messages, its close (spec §1).

:class:`Lifecycle` keeps the API's connections (:mod:`.registry`), their idle
and maximum-duration timers (:mod:`.timers`) and the @connections operations
on them (:mod:`.connections`), and hands every event to the request pipeline
of the API's current version (:mod:`.pipeline`). What a client is told, and
when, is decided here: the upgrade waits for ``$connect``, a connection opens
only then, ``$disconnect`` follows every close of an open connection, and a
message sent to a client goes through one place (:meth:`Lifecycle.send`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import parse_qsl

from emulator.clock import Clock, IdFactory
from emulator.gateway.connections import CLIENT_BUFFER_BYTES, ConnectionsApi
from emulator.gateway.events import ConnectionInfo, trace_id
from emulator.gateway.pipeline import Observer, Pipeline
from emulator.gateway.registry import ConnectionRecord, ConnectionState, Registry
from emulator.gateway.timers import ConnectionTimers
from emulator.model.api import Limits
from emulator.wire.messages import UpgradeAnswer, UpgradeRequest, WebSocketPeer

__all__ = ["GOING_AWAY", "Lifecycle", "open_details"]

logger = logging.getLogger("emulator")

# Close codes and reasons the server sends, and $disconnect then reports (spec §3.3).
GOING_AWAY = (1001, "Going away")

Peer = WebSocketPeer
Record = ConnectionRecord[Peer]


class Lifecycle:
    """The connections of one API, each from its upgrade to its ``$disconnect``."""

    def __init__(
        self,
        *,
        clock: Clock,
        new_id: IdFactory,
        observers: Sequence[Observer],
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        domain_name: str,
        api_id: str,
    ) -> None:
        self._clock = clock
        self._new_id = new_id
        self._observers = observers
        self._spawn = spawn
        self._domain_name = domain_name
        self._api_id = api_id
        self.pipeline: Pipeline | None = None  # set before the first connection
        self.registry: Registry[Peer] = Registry()
        self.connections = ConnectionsApi(self.registry, self.send, self._stage, new_id)
        self._time_offset = 0.0  # seconds added to the clock by advance_time()
        self.timers = ConnectionTimers(self.now, self.registry, self._limits, _going_away)

    def _current(self) -> Pipeline:
        assert self.pipeline is not None, "no API version is served yet"
        return self.pipeline

    def _stage(self) -> str:
        return self._current().config.stage

    def _limits(self) -> Limits:
        return self._current().config.limits

    def now(self) -> float:
        """Monotonic seconds, plus what advance_time() added: activity and timers' clock."""
        return self._clock.monotonic() + self._time_offset

    def advance_time(self, seconds: float) -> None:
        """Move the clock of the timers forward, firing what expires."""
        self._time_offset += seconds
        self.timers.recheck()

    # The upgrade

    async def connect(
        self, peer: Peer, request: UpgradeRequest, path: str, query: str
    ) -> UpgradeAnswer:
        """Answer a WebSocket upgrade to the API at ``path`` (with its raw ``query``)."""
        answer = await self._connect(peer, request, path, query)
        if self._observers and not answer.accepted:
            record = peer.record
            self._notify(
                "refuse",
                {
                    "connectionId": record.connection_id if record is not None else None,
                    "sourceIp": request.peer[0],
                    "path": request.target,
                    "status": answer.status,
                },
            )
        return answer

    async def _connect(
        self, peer: Peer, request: UpgradeRequest, path: str, raw_query: str
    ) -> UpgradeAnswer:
        pipeline = self._current()
        if path.rstrip("/") not in ("", f"/{pipeline.config.stage}"):
            # UNKNOWN on AWS for an unknown stage; the spec infers REST's 403.
            return UpgradeAnswer(403, body=b'{"message":"Forbidden"}')
        now = self._clock.epoch_ms()
        user_agent = None
        for name, value in request.headers:
            if name.lower() == "user-agent":
                user_agent = value
        info = ConnectionInfo(
            connection_id=self._new_id(),
            connected_at=now,
            source_ip=request.peer[0],
            user_agent=user_agent,
            domain_name=self._domain_name,
            api_id=self._api_id,
            stage=pipeline.config.stage,
            stage_variables=pipeline.config.stage_variables or None,
        )
        record = self.registry.add(info, peer)
        peer.record = record
        request_id = self._new_id()
        headers = [
            *request.headers,
            # What API Gateway adds (spec §2.2 rule 3), with the local port and scheme.
            ("X-Amzn-Trace-Id", trace_id(now, request_id)),
            ("X-Forwarded-For", request.peer[0]),
            ("X-Forwarded-Port", str(request.local[1])),
            ("X-Forwarded-Proto", "https" if request.secure else "http"),
        ]
        answer, record.info = await pipeline.connect(
            info,
            request,
            headers=headers,
            query=parse_query(raw_query),
            raw_query=raw_query or None,
            request_id=request_id,
            now_ms=now,
        )
        return answer

    def when_settled(self, connection_id: str, call: Callable[[], None]) -> None:
        """Run ``call`` once ``connection_id`` is open, or never will be: at once
        if it is neither pending nor known."""
        record = self.registry.get(connection_id)
        if record is None or record.state is not ConnectionState.PENDING:
            call()
            return
        if record.on_settled is None:
            record.on_settled = []
        record.on_settled.append(call)

    # An open connection

    def opened(self, peer: Peer) -> None:
        """The 101 was sent: the connection is open."""
        record: Record = peer.record
        record.state = ConnectionState.OPEN
        record.opened_at = record.active_at = self.now()
        self.timers.check(record)
        _settle(record)
        if self._observers:
            self._notify("open", open_details(record.info))

    def message(self, peer: Peer, text: str) -> None:
        """A text message from the client: it goes through the pipeline."""
        record: Record = peer.record
        now = self._clock.epoch_ms()
        record.last_active_ms = now
        record.active_at = self.now()
        self._current().message(record, text, now)

    def closed(self, peer: Peer, code: int, reason: str) -> None:
        """The connection is gone; an open one gets its ``$disconnect``."""
        record: Record | None = peer.record
        if record is None:
            return
        if record.state is ConnectionState.PENDING:
            # Refused, or gone while $connect ran: it never opened, no $disconnect.
            self.registry.discard(record.connection_id)
            _settle(record)
            return
        record.state = ConnectionState.CLOSING
        self.timers.forget(record.connection_id)
        self._notify("close", {"connectionId": record.connection_id, "code": code})
        self._spawn(self._disconnect(self._current(), record, code, reason))

    async def _disconnect(self, pipeline: Pipeline, record: Record, code: int, reason: str) -> None:
        try:
            await pipeline.disconnect(record, code, reason)
        finally:
            self.registry.discard(record.connection_id)

    def send(self, record: Record, data: str | bytes, source: str) -> None:
        """Send one message; ``source`` says who sent it (for observers)."""
        peer = record.peer
        if not peer.is_open:
            return
        if source != "post" and peer.buffered_bytes > CLIENT_BUFFER_BYTES:
            # A client that stops reading must not grow memory without bound:
            # posts are refused with 429 before this, other messages dropped.
            logger.warning(
                "dropped a %s for %s: the client is not reading", source, record.connection_id
            )
            return
        record.last_active_ms = self._clock.epoch_ms()
        record.active_at = self.now()
        if isinstance(data, str):
            peer.send_text(data)
        else:
            peer.send_bytes(data)
        if self._observers:
            self._notify(
                "send", {"connectionId": record.connection_id, "data": data, "source": source}
            )

    def _notify(self, kind: str, details: dict[str, Any]) -> None:
        for observer in self._observers:
            observer(kind, details)


def open_details(info: ConnectionInfo) -> dict[str, Any]:
    """What observers are told of a connection that opened."""
    return {
        "connectionId": info.connection_id,
        "sourceIp": info.source_ip,
        "userAgent": info.user_agent,
        "connectedAt": info.connected_at,
        "authorizer": dict(info.authorizer) if info.authorizer else None,
    }


def parse_query(raw_query: str) -> list[tuple[str, str]] | None:
    """The upgrade's query string as pairs; None without one (AWS then omits the keys)."""
    return parse_qsl(raw_query, keep_blank_values=True) if raw_query else None


def _going_away(record: Record) -> None:
    record.peer.close(*GOING_AWAY)


def _settle(record: Record) -> None:
    calls, record.on_settled = record.on_settled, None
    for call in calls or ():
        call()
