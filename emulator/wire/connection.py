"""One TCP connection: HTTP/1.1 until it upgrades, then WebSocket.

Every connection starts as HTTP (:class:`~.http1.HttpFront`, h11). A ``GET``
asking to upgrade to WebSocket is handed, bytes and all, to websockets'
sans-I/O :class:`~websockets.server.ServerProtocol`; any other request (the
@connections API, a stray browser GET) is answered by the application over
HTTP/1.1 with keep-alive. This is the only module that imports ``websockets``
but :mod:`emulator.tools.testing` (for its client).

Bytes in, events out: the application sees upgrade requests, text messages and
closes (:mod:`.messages`), and answers through the connection as a
:class:`~.messages.WebSocketPeer`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, cast

from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

try:  # websockets' C helper, as its own frame parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without its C extension
    from websockets.utils import apply_mask

from emulator.wire.http1 import MAX_URL_LENGTH, HttpFront, reason_phrase
from emulator.wire.messages import Application, HttpRequest, HttpResponse, UpgradeRequest

__all__ = ["CLOSE_TIMEOUT", "NO_STATUS_REASON", "WRITE_BUFFER_LIMIT", "Connection", "Listener"]

# How long a closing handshake may take before the TCP connection is dropped.
CLOSE_TIMEOUT = 2.0

# Past this many bytes written but not yet taken by the client, the server stops
# reading from it until the client has taken all but a quarter (asyncio's flow
# control). Messages are dropped earlier, by the gateway; this bounds what only
# the wire writes (pongs, close frames, HTTP answers to a pipelining client).
WRITE_BUFFER_LIMIT = 2 << 20

# AWS: a client close frame without a status reports this reason (Powertools capture).
NO_STATUS_REASON = "Client-side close frame status not set"

_quiet = logging.getLogger("emulator.transport.websockets")
logger = logging.getLogger("emulator.transport")

# An enum member read through a module global: through its class, a lookup
# several times slower on Python 3.11 (EnumType defines __getattr__), and these
# run per frame.
_OPEN: Final = State.OPEN


class Listener(Protocol):
    """What a connection reads and updates of the server that accepted it."""

    app: Application
    max_message_bytes: int
    max_frame_bytes: int
    max_connections: int | None
    max_header_bytes: int
    websockets: int  # WebSocket connections, open or in their handshake
    secure: bool  # TLS: the transport decrypts, bytes here are plain as ever

    def add(self, connection: Connection) -> None: ...

    def forget(self, connection: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """One TCP connection: HTTP until it upgrades, then WebSocket."""

    def __init__(self, server: Listener) -> None:
        self.server = server
        self.app = server.app
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.http: HttpFront | None = HttpFront(self, server.max_header_bytes)
        self.ws: ServerProtocol | None = None
        self.pending: Response | None = None  # the 101, while $connect runs
        # What the client sent after its upgrade request, before the 101: kept
        # unparsed (None once the handshake is answered), see _hold().
        self.early: bytearray | None = None
        self.early_eof = False  # the client ended its side before the 101
        self.closing = False  # the server closed or failed the connection
        self.paused_for: set[str] = set()  # why reading is paused: "early", "writes"
        self.writing_paused = False  # the client is WRITE_BUFFER_LIMIT behind
        self.counted = False  # counts towards Server.max_connections
        self.opened = False  # the application was told handle_open
        self.fragments: list[bytes] = []
        self.fragment_opcode: Opcode | None = None
        self.close_timer: asyncio.TimerHandle | None = None
        self.handshake_task: asyncio.Task[None] | None = None
        self.simple_limit = 0  # the largest frame _simple_frames() parses
        # Application state, attached by the application.
        self.record: Any = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_LIMIT)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        self.local = (str(local[0]), int(local[1])) if local else ("", 0)
        self.server.add(self)

    def data_received(self, data: bytes) -> None:
        if self.early is not None:
            self._hold(data)
        elif self.ws is not None:
            self._websocket_data(data)
        else:
            assert self.http is not None  # until the upgrade, then ws
            self.http.receive(data)

    def eof_received(self) -> bool | None:
        if self.early:
            # The client sent frames, then ended its side while $connect runs:
            # they are still routed once it accepts. Keep the transport open
            # for the 101 and what follows it.
            self.early_eof = True
            return True
        if self.ws is not None:
            self.ws.receive_eof()
            if self.opened:
                self._websocket_events()
            self._flush()
        elif self.http is not None and self.http.receive_eof():
            return True  # a request it sent is still being answered
        return None

    def pause_writing(self) -> None:
        # A client that does not read is not read from: whatever it sends
        # (pings, pipelined requests) would only add to what it is not taking.
        self.writing_paused = True
        self._pause_reading("writes")

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._resume_reading("writes")
        if self.opened:
            self.app.handle_drained(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.forget(self)
        self.http = None  # it refers back to this connection: free both now, not at a GC
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

    # HTTP (an HttpOwner)

    def answer_http(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        return self.app.handle_http(request)

    def await_http(
        self, answer: Awaitable[HttpResponse], then: Callable[[HttpResponse], None]
    ) -> None:
        """Answer when ``answer`` is ready, unless the client has gone by then."""

        async def wait() -> None:
            try:
                response = await answer
            except Exception:  # a task boundary: the client gets a 500, not silence
                logger.exception("answering %s failed", self.peer)
                response = HttpResponse(500, (), b"")
            if self.http is not None and self.transport is not None:
                then(response)

        asyncio.get_running_loop().create_task(wait())

    def write_http(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # WebSocket handshake

    def start_websocket(self, raw: bytes, after: bytes = b"") -> None:
        """Take over from HTTP with the upgrade request, as the bytes it came in,
        and what the client sent behind it."""
        self.http = None
        server = self.server
        # A whole message in one frame: websockets' limits on both apply.
        self.simple_limit = min(server.max_message_bytes, server.max_frame_bytes)
        ws = ServerProtocol(
            max_size=(server.max_message_bytes, server.max_frame_bytes),
            # AWS: permessage-deflate is not known to be offered; never negotiate it.
            extensions=None,
            logger=_quiet,
        )
        self.ws = ws
        ws.receive_data(raw)
        events = ws.events_received()
        if not events or not isinstance(events[0], Request):
            self._flush()
            self.close_transport()
            return
        request = events[0]
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
            version = request.headers.get("Sec-WebSocket-Version")
            if version is not None and version != "13":
                # RFC 6455 §4.4: 426, naming the version this server speaks.
                response = Response(
                    426,
                    "Upgrade Required",
                    Headers(
                        [
                            ("Sec-WebSocket-Version", "13"),
                            ("Content-Length", "0"),
                            ("Connection", "close"),
                        ]
                    ),
                    b"",
                )
            ws.send_response(response)
            self._flush()
            return
        self.pending = response
        # Frames a client sent right behind its request wait for $connect.
        self.early = bytearray()
        self._hold(after)
        upgrade = UpgradeRequest(
            target=request.path,
            headers=tuple(request.headers.raw_items()),
            peer=self.peer,
            local=self.local,
            secure=self.server.secure,
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
        early, self.early = self.early, None
        self._resume_reading("early")
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
        # Frames the client sent before the 101 are parsed now, under the same
        # limits as any other, and routed in order.
        if early:
            self.ws.receive_data(bytes(early))
        if self.early_eof:
            self.ws.receive_eof()
        self._websocket_events()
        self._flush()

    def _hold(self, data: bytes) -> None:
        """Keep bytes the client sends before the 101, up to one message's worth.

        RFC 6455 §4.1 says a client waits for the 101; one that does not has
        its frames routed once ``$connect`` accepts. Past the message size limit
        the server stops reading until then (TCP holds the rest): memory stays
        bounded and nothing is dropped. INFER: AWS documents nothing here; its
        frame and message limits apply when the frames are parsed, after the 101.
        """
        assert self.early is not None
        self.early += data
        if len(self.early) > self.server.max_message_bytes:
            self._pause_reading("early")

    def _refuse(self, status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        assert self.ws is not None
        headers = Headers([("Connection", "close"), ("Content-Length", str(len(body)))])
        if body:
            headers["Content-Type"] = "application/json"
        for name, value in extra:
            headers[name] = value
        self.ws.send_response(Response(status, reason_phrase(status), headers, body))
        self._flush()

    # WebSocket frames

    def _websocket_data(self, data: bytes) -> None:
        ws = self.ws
        assert ws is not None
        if self.opened and self._at_frame_start(ws):
            data = self._simple_frames(ws, data)
            if not data:
                return
        ws.receive_data(data)
        if self.opened:
            self._websocket_events()
        self._flush()

    def _at_frame_start(self, ws: ServerProtocol) -> bool:
        """Whether websockets' parser waits for the first byte of a frame, with
        nothing buffered, no message unfinished and nothing to report: bytes from
        here on can be parsed without it and it is none the wiser."""
        return (
            not self.closing
            and ws.state is _OPEN
            and ws.current_size is None
            and not ws.reader.buffer
            and not ws.events
            and _waits_in(ws.parser) is _AWAITING_FRAME
        )

    def _simple_frames(self, ws: ServerProtocol, data: bytes) -> bytes:
        """Route the whole, unfragmented, masked text frames at the start of
        ``data``; return the bytes from the first frame that is anything else.

        What a client sends nearly always, parsed here without websockets'
        generators: this runs for every message. Anything else (a control
        frame, a fragment, a frame cut short by the read, one over a limit or
        breaking a rule of RFC 6455) goes to websockets' parser, which is then
        at the start of that frame, as if it had parsed all before it.
        """
        limit = self.simple_limit
        size = len(data)
        start = 0
        while size - start >= 6 and not self.closing and ws.state is _OPEN:
            second = data[start + 1]
            # FIN set, RSV bits clear (no extension is negotiated), TEXT; masked
            # (RFC 6455 §5.1); a 7- or 16-bit length (§5.2).
            if data[start] != 0x81 or second < 0x80 or second == 0xFF:
                break
            length = second & 0x7F
            key = start + 2
            if length == 126:
                if size - start < 8:
                    break
                length = (data[key] << 8) | data[key + 1]
                key += 2
            end = key + 4 + length
            if end > size or length > limit:
                break  # cut short by this read, or websockets' limit applies
            start = end
            self._message(apply_mask(data[key + 4 : end], data[key : key + 4]))
        return data[start:] if start else data

    def _websocket_events(self) -> None:
        ws = self.ws
        assert ws is not None
        for frame in ws.events_received():
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
        # A message the client sent before its close frame is routed, though the
        # close arrived with it (websockets has already answered that close): AWS
        # routes every message received before the close. Once the server itself
        # closes or fails the connection, what follows is not read.
        if self.ws is None or self.closing:
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
        return self.opened and self.ws is not None and self.ws.state is _OPEN

    def send_text(self, text: str) -> None:
        ws = self.ws
        if ws is not None and ws.state is _OPEN:
            # A lone surrogate (json.loads('"\\ud800"') makes one) has no UTF-8 form;
            # API Gateway's Java side sends '?' for it, as "replace" does.
            payload = text.encode("utf-8", "replace")
            transport = self.transport
            if transport is not None and not ws.writes and not ws.expect_continuation_frame:
                # What websockets' send_text would write (a server's frame is not
                # masked, and no extension is ever negotiated), without its Frame
                # object: this runs for every message sent.
                transport.write(_text_header(len(payload)) + payload)
                return
            ws.send_text(payload)
            self._flush()

    def send_bytes(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None and ws.state is _OPEN:
            ws.send_binary(data)
            self._flush()

    def close(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is not None and ws.state is _OPEN:
            self.closing = True
            ws.send_close(code, reason)
            self._flush()

    def fail(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is not None and ws.state in (_OPEN, State.CLOSING):
            self.closing = True
            ws.fail(code, reason)
            self._flush()

    # Flow control

    def _pause_reading(self, reason: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self.paused_for:
            transport.pause_reading()
        self.paused_for.add(reason)

    def _resume_reading(self, reason: str) -> None:
        transport = self.transport
        if reason not in self.paused_for:
            return
        self.paused_for.discard(reason)
        if not self.paused_for and transport is not None and not transport.is_closing():
            transport.resume_reading()


# Where websockets' parser waits between frames (Protocol.parse, websockets 16-17).
_AWAITING_FRAME = StreamReader.at_eof.__code__


def _waits_in(generator: Any) -> Any:
    """The code of the innermost generator ``generator`` waits in (through ``yield from``)."""
    while (inner := getattr(generator, "gi_yieldfrom", None)) is not None:
        generator = inner
    return getattr(generator, "gi_code", None)


_SMALL_TEXT_HEADERS = [bytes((0x81, length)) for length in range(126)]


def _text_header(length: int) -> bytes:
    """The header of a final, unmasked text frame of ``length`` bytes (RFC 6455 §5.2)."""
    if length < 126:
        return _SMALL_TEXT_HEADERS[length]
    if length < 1 << 16:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")
