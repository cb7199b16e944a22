"""The @connections operations on live connections, callable from any thread.

Handlers call them from their worker threads (through botocore or their
context), the HTTP endpoint from the event loop. Checks happen in the
caller's thread, so a caller learns of 410/413/429 at once; delivery happens
on the event loop, in the order the calls were made.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Protocol

from emulator.clock import IdFactory
from emulator.errors import LimitExceededError, ManagementApiError, PayloadTooLargeError
from emulator.gateway.management import (
    MAX_POST_BYTES,
    Operation,
    check_connection_id,
    error_response,
    get_connection_response,
    parse_management_request,
    success_response,
)
from emulator.gateway.registry import ConnectionRecord, ConnectionState, Registry
from emulator.runtime.output import current_scope
from emulator.runtime.workers import LoopInbox
from emulator.wire.messages import HttpResponse, WebSocketPeer

__all__ = ["CLIENT_BUFFER_BYTES", "DELETED", "ConnectionsApi", "request_id_from"]

# What may wait in a connection's send buffer before posts get 429 and other
# messages are dropped: a client that stops reading costs at most this much.
# Below the wire's WRITE_BUFFER_LIMIT, so that such a client is still read from
# and its messages routed, as on AWS.
CLIENT_BUFFER_BYTES = 1 << 20

# AWS: DeleteConnection closes with 1000, and $disconnect reports this (spec §3.3).
DELETED = (1000, "Connection Closed Normally")

Record = ConnectionRecord[WebSocketPeer]


class Sender(Protocol):
    def __call__(self, record: Record, data: str | bytes, source: str) -> None: ...


class ConnectionsApi:
    """PostToConnection, GetConnection and DeleteConnection for one API."""

    def __init__(
        self,
        registry: Registry[WebSocketPeer],
        send: Sender,
        stage: Callable[[], str],
        new_id: IdFactory,
    ) -> None:
        self._registry = registry
        self._send = send
        self._stage = stage
        self._new_id = new_id
        self._inbox: LoopInbox | None = None

    def bind(self, inbox: LoopInbox) -> None:
        """Deliver through ``inbox``, whose loop runs in the calling thread."""
        self._inbox = inbox

    def _call_on_loop(self, function: Callable[..., None], *args: Any) -> None:
        assert self._inbox is not None, "the emulator is not started"
        self._inbox.deliver(function, *args)

    def post_to_connection(self, connection_id: str, data: bytes | str) -> None:
        """PostToConnection: deliver ``data`` as one message (spec §4.4).

        Raises :class:`BadRequestError` for a malformed id,
        :class:`PayloadTooLargeError` over 128 KB, :class:`GoneError` unless
        the connection is open, and :class:`LimitExceededError` while the
        client is not reading.
        """
        check_connection_id(connection_id)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(payload) > MAX_POST_BYTES:
            raise PayloadTooLargeError("Message too long")
        record = self._registry.open_record(connection_id)
        if record.peer.buffered_bytes > CLIENT_BUFFER_BYTES:
            # AWS: "the WebSocket client side buffer is full" (LimitExceededException).
            raise LimitExceededError("the client is not reading: its buffer is full")
        scope = current_scope.get()
        if scope is not None:
            scope.posts += 1
        # UNKNOWN on AWS: data that is not UTF-8 goes out as a binary frame.
        message: str | bytes
        try:
            message = payload.decode("utf-8")
        except UnicodeDecodeError:
            message = payload
        self._call_on_loop(self._deliver, connection_id, message)

    def _deliver(self, connection_id: str, message: str | bytes) -> None:
        record = self._registry.get_open(connection_id)
        if record is not None:
            self._send(record, message, "post")

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        """GetConnection, shaped as boto3 returns it (datetimes, capitalised keys)."""
        check_connection_id(connection_id)
        record = self._registry.open_record(connection_id)
        info = record.info
        identity = {"SourceIp": info.source_ip}
        if info.user_agent is not None:
            # boto3 drops a null UserAgent from the parsed response.
            identity["UserAgent"] = info.user_agent
        return {
            "ConnectedAt": _datetime(info.connected_at),
            "Identity": identity,
            "LastActiveAt": _datetime(record.last_active_ms),
        }

    def delete_connection(self, connection_id: str) -> None:
        """DeleteConnection: close with 1000; ``$disconnect`` follows."""
        check_connection_id(connection_id)
        record = self._registry.open_record(connection_id)
        # Later posts get 410 at once, before the close frame is even sent.
        record.state = ConnectionState.CLOSING
        self._call_on_loop(self._close, connection_id, *DELETED)

    def _close(self, connection_id: str, code: int, reason: str) -> None:
        record = self._registry.get(connection_id)
        if record is not None:
            record.peer.close(code, reason)

    def handle_management(self, method: str, target: str, body: bytes) -> HttpResponse:
        """Answer one @connections request (HTTP endpoint and botocore alike)."""
        request_id = request_id_from(self._new_id())
        try:
            request = parse_management_request(method, target, self._stage())
            if request.operation is Operation.POST_TO_CONNECTION:
                self.post_to_connection(request.connection_id, body)
            elif request.operation is Operation.DELETE_CONNECTION:
                self.delete_connection(request.connection_id)
            else:
                record = self._registry.open_record(request.connection_id)
                return get_connection_response(
                    connected_at_ms=record.info.connected_at,
                    last_active_ms=record.last_active_ms,
                    source_ip=record.info.source_ip,
                    user_agent=record.info.user_agent,
                    request_id=request_id,
                )
        except ManagementApiError as exc:
            return error_response(exc, request_id)
        return success_response(request.operation, request_id)


def _datetime(epoch_ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.UTC)


def request_id_from(seed: str) -> str:
    """An ``x-amzn-RequestId`` (a UUID's shape) made from an id of :mod:`emulator.clock`."""
    hexed = seed.encode().hex().ljust(32, "0")[:32]
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"
