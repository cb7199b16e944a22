"""The network front: WebSocket upgrades and plain HTTP on one port.

Every TCP connection starts as HTTP, parsed by h11. A ``GET`` asking to
upgrade to WebSocket is handed, bytes and all, to websockets' sans-I/O
:class:`~websockets.server.ServerProtocol`; any other request (the @connections
API, a stray browser GET) is answered by the application over HTTP/1.1 with
keep-alive. This is the only module that imports ``websockets`` and ``h11``.

Bytes in, events out: the application sees upgrade requests, text messages and
closes, and answers through :class:`WebSocketPeer`; it never sees a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, cast

import h11
from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, State
from websockets.server import ServerProtocol

from emulator.config import Limits

__all__ = [
    "Application",
    "HttpRequest",
    "HttpResponse",
    "Server",
    "UpgradeAnswer",
    "UpgradeRequest",
    "WebSocketPeer",
]

logger = logging.getLogger("emulator.transport")

# A URL longer than this is refused (AWS quota: 4096 characters for WebSocket APIs).
MAX_URL_LENGTH = 4096
# A request line and headers beyond this are refused with 431. AWS documents
# 10240 bytes for REST APIs' request line and headers; INFER the same here.
DEFAULT_MAX_HEADER_BYTES = 10240
# Management request bodies beyond this are not buffered (AWS caps Data at 128 KB).
MAX_HTTP_BODY = 1 << 20
# How long a closing handshake may take before the TCP connection is dropped.
CLOSE_TIMEOUT = 2.0

# AWS: a client close frame without a status reports this reason (Powertools capture).
NO_STATUS_REASON = "Client-side close frame status not set"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...]
    body: bytes
    peer: tuple[str, int]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class UpgradeRequest:
    """A valid WebSocket handshake request, waiting for the application's answer."""

    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...]  # in order, names as the client spelled them
    peer: tuple[str, int]
    local: tuple[str, int]


@dataclass(frozen=True)
class UpgradeAnswer:
    """Accept (any 2xx) with an optional subprotocol, or refuse with a status."""

    status: int
    subprotocol: str | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class WebSocketPeer(Protocol):
    """What the application may do with an open connection."""

    @property
    def is_open(self) -> bool: ...

    @property
    def remote_address(self) -> tuple[str, int]: ...

    @property
    def buffered_bytes(self) -> int: ...

    def send_text(self, text: str) -> None: ...

    def send_bytes(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Application(Protocol):
    """The emulator, as the transport sees it."""

    def handle_http(self, request: HttpRequest) -> HttpResponse: ...

    def handle_upgrade(
        self, peer: WebSocketPeer, request: UpgradeRequest
    ) -> Awaitable[UpgradeAnswer]: ...

    def handle_open(self, peer: WebSocketPeer) -> None: ...

    def handle_message(self, peer: WebSocketPeer, text: str) -> None: ...

    def handle_closed(self, peer: WebSocketPeer, code: int, reason: str) -> None: ...


def _reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _is_websocket_upgrade(request: h11.Request) -> bool:
    if request.method != b"GET":
        return False
    for name, value in request.headers:
        if name == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


def _head_size(request: h11.Request) -> int:
    """The request line and headers, in bytes, as they were on the wire."""
    line = len(request.method) + len(request.target) + 11
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2


_quiet = logging.getLogger("emulator.transport.websockets")


class _Connection(asyncio.Protocol):
    """One TCP connection: HTTP until it upgrades, then WebSocket."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.app = server.app
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.http: h11.Connection | None = h11.Connection(
            h11.SERVER, max_incomplete_event_size=server.max_header_bytes
        )
        self.raw = bytearray()  # the current request's bytes, until it is parsed
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.ws: ServerProtocol | None = None
        self.pending: Response | None = None  # the 101, while $connect runs
        self.early: list[Event] = []
        self.counted = False  # counts towards Server.max_connections
        self.opened = False  # the application was told handle_open
        self.fragments: list[bytes] = []
        self.fragment_opcode: Opcode | None = None
        self.close_timer: asyncio.TimerHandle | None = None
        self.handshake_task: asyncio.Task[None] | None = None
        # Application state, attached by the application.
        self.record: object = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        self.local = (str(local[0]), int(local[1])) if local else ("", 0)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self._websocket_data(data)
        else:
            self._http_data(data)

    def eof_received(self) -> bool | None:
        if self.ws is not None:
            self.ws.receive_eof()
            if self.opened:
                self._websocket_events()
            self._flush()
        elif self.http is not None:
            self.http.receive_data(b"")
            self._http_events()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)
        if self.counted:
            self.server.websockets -= 1
        if self.close_timer is not None:
            self.close_timer.cancel()
        if self.handshake_task is not None and not self.handshake_task.done():
            self.handshake_task.cancel()
        if self.opened:
            self.opened = False
            code, reason = self._close_status()
            self.app.handle_closed(self, code, reason)
        elif self.pending is not None or self.record is not None:
            # Gone during $connect: no connection ever opened, no $disconnect.
            self.app.handle_closed(self, CloseCode.ABNORMAL_CLOSURE, "")

    # HTTP

    def _http_data(self, data: bytes) -> None:
        assert self.http is not None
        self.raw += data
        self.http.receive_data(data)
        self._http_events()

    def _http_events(self) -> None:
        conn = self.http
        while conn is not None:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._http_error(exc.error_status_hint, str(exc))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                # h11 refuses a request head over max_header_bytes itself (431).
                return
            if isinstance(event, h11.Request):
                upgrade = _is_websocket_upgrade(event)
                # A URL over AWS's 4096 characters is refused with 414 before its size
                # counts towards the head's.
                too_long = upgrade and len(event.target) > MAX_URL_LENGTH
                if not too_long and _head_size(event) > self.server.max_header_bytes:
                    # h11 caps only heads still incomplete; a whole one can be bigger.
                    self._http_error(431, "request header fields too large")
                    return
                if upgrade:
                    self._start_websocket(bytes(self.raw))
                    return
                self.request = event
                self.body.clear()
            elif isinstance(event, h11.Data):
                self.body += event.data
                if len(self.body) > MAX_HTTP_BODY:
                    self._http_error(413, "request body too large")
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._answer_http()
                conn = self.http
            elif isinstance(event, h11.ConnectionClosed):
                self._close_transport()
                return

    def _answer_http(self) -> None:
        assert self.http is not None
        assert self.request is not None
        request = self.request
        response = self.app.handle_http(
            HttpRequest(
                method=request.method.decode("ascii", "replace"),
                target=request.target.decode("latin-1"),
                headers=tuple(
                    (n.decode("latin-1"), v.decode("latin-1"))
                    for n, v in request.headers.raw_items()
                ),
                body=bytes(self.body),
                peer=self.peer,
            )
        )
        self._send_http(response)
        self.request = None
        self.body.clear()
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
            self.raw = bytearray(self.http.trailing_data[0])
        else:
            self._close_transport()

    def _send_http(self, response: HttpResponse) -> None:
        assert self.http is not None
        assert self.transport is not None
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        out = self.http.send(
            h11.Response(
                status_code=response.status, headers=headers, reason=_reason_phrase(response.status)
            )
        )
        if response.body:
            out = (out or b"") + (self.http.send(h11.Data(data=response.body)) or b"")
        out = (out or b"") + (self.http.send(h11.EndOfMessage()) or b"")
        self.transport.write(out)

    def _http_error(self, status: int, message: str) -> None:
        assert self.http is not None
        if self.http.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with contextlib.suppress(h11.LocalProtocolError):
                self._send_http(
                    HttpResponse(
                        status,
                        (("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")),
                        f"{message}\n".encode(),
                    )
                )
        self._close_transport()

    def _close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # WebSocket handshake

    def _start_websocket(self, raw: bytes) -> None:
        self.http = None
        server = self.server
        limits = server.limits
        ws = ServerProtocol(
            max_size=(limits.message_size, limits.frame_size),
            # AWS: permessage-deflate is not known to be offered; never negotiate it.
            extensions=None,
            logger=_quiet,
        )
        self.ws = ws
        ws.receive_data(raw)
        events = ws.events_received()
        if not events or not isinstance(events[0], Request):
            self._flush()
            self._close_transport()
            return
        request = events[0]
        # Frames a client sent right behind its request wait for $connect.
        self.early = events[1:]
        if server.max_connections is not None and server.websockets >= server.max_connections:
            # AWS answers its connection quotas with 429 (spec §5).
            self._refuse(429, b'{"message":"Too Many Requests"}')
            return
        server.websockets += 1
        self.counted = True
        if len(request.path) > MAX_URL_LENGTH:
            # AWS: 4096 characters at most for a WebSocket API URL.
            self._refuse(414, b'{"message":"Request-URI Too Long"}')
            return
        response = ws.accept(request)
        if response.status_code != 101:
            ws.send_response(response)
            self._flush()
            return
        self.pending = response
        upgrade = UpgradeRequest(
            target=request.path,
            headers=tuple(request.headers.raw_items()),
            peer=self.peer,
            local=self.local,
        )
        self.handshake_task = asyncio.get_running_loop().create_task(self._handshake(upgrade))

    async def _handshake(self, upgrade: UpgradeRequest) -> None:
        answer = await self.app.handle_upgrade(self, upgrade)
        if self.transport is None or self.transport.is_closing():
            return
        response = self.pending
        assert response is not None
        assert self.ws is not None
        self.pending = None
        if not answer.accepted:
            self._refuse(answer.status, answer.body, answer.headers)
            return
        if answer.subprotocol is not None:
            # AWS copies the $connect result's Sec-WebSocket-Protocol verbatim
            # and does not check that the client offered it (spec §3.1).
            response.headers["Sec-WebSocket-Protocol"] = answer.subprotocol
        self.ws.send_response(response)
        self._flush()
        self.opened = True
        self.app.handle_open(self)
        # Frames the client sent before the 101 are routed now, in order.
        early, self.early = self.early, []
        self._websocket_events(early)
        self._flush()

    def _refuse(self, status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        assert self.ws is not None
        headers = Headers([("Connection", "close"), ("Content-Length", str(len(body)))])
        if body:
            headers["Content-Type"] = "application/json"
        for name, value in extra:
            headers[name] = value
        self.ws.send_response(Response(status, _reason_phrase(status), headers, body))
        self._flush()

    # WebSocket frames

    def _websocket_data(self, data: bytes) -> None:
        assert self.ws is not None
        self.ws.receive_data(data)
        if self.opened:
            self._websocket_events()
        self._flush()

    def _websocket_events(self, early: list[Event] | None = None) -> None:
        ws = self.ws
        assert ws is not None
        events = ws.events_received()
        for frame in early + events if early else events:
            if not isinstance(frame, Frame):
                continue
            opcode = frame.opcode
            if opcode is Opcode.TEXT:
                if frame.fin:
                    self._message(frame.data)  # type: ignore[arg-type]  # bytes when received
                else:
                    self.fragment_opcode = opcode
                    self.fragments = [frame.data]  # type: ignore[list-item]
            elif opcode is Opcode.CONT:
                self.fragments.append(frame.data)  # type: ignore[arg-type]
                if frame.fin:
                    data = b"".join(self.fragments)
                    self.fragments = []
                    if self.fragment_opcode is Opcode.TEXT:
                        self._message(data)
            elif opcode is Opcode.BINARY:
                # AWS: "If a client app sends a binary frame, API Gateway rejects
                # it and disconnects the client with code 1003" (binary media types page).
                self.fail(CloseCode.UNSUPPORTED_DATA, "Binary frames are not supported")
                if not frame.fin:
                    self.fragment_opcode = opcode
            # PING is answered by the protocol; neither it nor PONG counts as
            # activity (AWS has no protocol-level keep-alive, spec §2.5).

    def _message(self, data: bytes) -> None:
        if self.ws is None or self.ws.state is not State.OPEN:
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # websockets' sans-I/O layer leaves UTF-8 validation to the caller.
            self.fail(CloseCode.INVALID_DATA, f"invalid UTF-8 at position {exc.start}")
            return
        self.app.handle_message(self, text)

    def _flush(self) -> None:
        ws = self.ws
        transport = self.transport
        if ws is None or transport is None:
            return
        for data in ws.data_to_send():
            if data:
                transport.write(data)
            else:
                # A server closes the TCP connection right after its EOF.
                transport.close()
        if ws.close_expected() and self.close_timer is None and not transport.is_closing():
            self.close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)

    def _close_status(self) -> tuple[int, str]:
        """The code and reason $disconnect reports for this connection (spec §3.3)."""
        ws = self.ws
        if ws is None:
            return CloseCode.ABNORMAL_CLOSURE, ""
        sent, received = ws.close_sent, ws.close_rcvd
        if received is not None and (sent is None or ws.close_rcvd_then_sent):
            if received.code == CloseCode.NO_STATUS_RCVD:
                return received.code, NO_STATUS_REASON
            return received.code, received.reason
        if sent is not None:
            return sent.code, sent.reason
        # UNKNOWN on AWS for a TCP drop without a close frame; spec recommends 1006.
        return CloseCode.ABNORMAL_CLOSURE, ""

    # WebSocketPeer

    @property
    def remote_address(self) -> tuple[str, int]:
        return self.peer

    @property
    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the client's TCP stack."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    @property
    def is_open(self) -> bool:
        return self.opened and self.ws is not None and self.ws.state is State.OPEN

    def send_text(self, text: str) -> None:
        ws = self.ws
        if ws is not None and ws.state is State.OPEN:
            ws.send_text(text.encode("utf-8"))
            self._flush()

    def send_bytes(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None and ws.state is State.OPEN:
            ws.send_binary(data)
            self._flush()

    def close(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is not None and ws.state is State.OPEN:
            ws.send_close(code, reason)
            self._flush()

    def fail(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is not None and ws.state in (State.OPEN, State.CLOSING):
            ws.fail(code, reason)
            self._flush()


class Server:
    """Listens on one host and port; owns the TCP connections."""

    def __init__(
        self,
        app: Application,
        limits: Limits,
        *,
        max_connections: int | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self.websockets = 0  # WebSocket connections, open or in their handshake
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._drained: asyncio.Future[None] | None = None

    def forget(self, connection: _Connection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=4096, reuse_address=True
        )

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "the server is not started"
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def stop(self, code: int, reason: str, grace_s: float = CLOSE_TIMEOUT) -> None:
        """Stop listening, close every connection with ``code``, wait for them."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            if connection.is_open:
                connection.close(code, reason)
            elif connection.transport is not None:
                connection.transport.close()
        if self.connections:
            self._drained = asyncio.get_running_loop().create_future()
            await asyncio.wait((self._drained,), timeout=grace_s)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
