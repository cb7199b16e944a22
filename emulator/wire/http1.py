"""Plain HTTP/1.1 on a TCP connection, until it asks to upgrade to WebSocket.

Requests are parsed by h11 (this is the only module that imports it) and
answered with keep-alive: the @connections API, the inspector's pages, a stray
browser ``GET``. A ``GET`` asking to upgrade is handed back, as the bytes it came
in, for the WebSocket handshake (:mod:`emulator.wire.connection`, which owns the
connection). Heads and bodies are bounded: 431 over the header limit, 414 for
an upgrade URL over AWS's limit (in the handshake), 413 over
:data:`MAX_HTTP_BODY`. A plain upgrade request needs no parse of h11's: h11
is imported, and a connection's h11 side made, only when a request needs them,
so that a server of WebSocket clients alone starts without them.
"""

from __future__ import annotations

import contextlib
import http
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from emulator.wire.messages import HttpRequest, HttpResponse

if TYPE_CHECKING:
    import h11

__all__ = ["MAX_HTTP_BODY", "MAX_URL_LENGTH", "HttpFront", "reason_phrase"]

# A URL longer than this is refused (AWS quota: 4096 characters for WebSocket APIs).
MAX_URL_LENGTH = 4096
# Request bodies beyond this are not buffered: the largest any API here takes is
# Lambda's Invoke, 6 MB (@connections caps Data at 128 KB itself).
MAX_HTTP_BODY = 6 * 1024 * 1024 + 64 * 1024  # Lambda's payload, and its own answer past it


class HttpOwner(Protocol):
    """The connection an :class:`HttpFront` reads for."""

    @property
    def peer(self) -> tuple[str, int]: ...

    def answer_http(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]: ...

    def await_http(
        self, answer: Awaitable[HttpResponse], then: Callable[[HttpResponse], None]
    ) -> None: ...

    def start_websocket(self, request: bytes, after: bytes) -> None: ...

    def write_http(self, data: bytes) -> None: ...

    def close_transport(self) -> None: ...


def reason_phrase(status: int) -> str:
    """``Not Found`` for 404; ``Unknown`` for a status HTTP does not name."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# A header line longer than this takes h11's way: far below websockets' own line
# limit (8 KiB), so that the whitespace h11 strips from a value cannot decide it.
_LONG_LINE = 4096
# A WebSocket upgrade request in the plainest form of HTTP/1.1's grammar (RFC 9112
# §3, §5): a GET of HTTP/1.1, each header a token, a colon and visible ASCII,
# lines ended by CRLF. h11 reads every such head as the request its bytes say,
# and leaves nothing to check but what _simple_upgrade() does: such a head
# goes to the WebSocket handshake without h11 (which would take about as long
# as the handshake's own parse). Any other head takes h11's way.
_SIMPLE_HEAD = re.compile(
    rb"GET [\x21-\x7e]+ HTTP/1\.1\r\n"
    rb"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[ \t]*(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?[ \t]*\r\n)+"
    rb"\r\n"
)


def _expects_continue(request: h11.Request) -> bool:
    return any(
        name == b"expect" and value.lower() == b"100-continue" for name, value in request.headers
    )


def _is_websocket_upgrade(request: h11.Request) -> bool:
    if request.method != b"GET":
        return False
    for name, value in request.headers:
        if name == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


def _head(request: h11.Request) -> bytes:
    """The request line and headers, as the WebSocket handshake parses them.

    Rebuilt from h11's parse rather than kept as received: keeping each
    request's bytes cost a copy of everything after it, per request, which made
    a read of pipelined requests quadratic.
    """
    lines = [b"%s %s HTTP/%s" % (request.method, request.target, request.http_version)]
    lines.extend(name + b": " + value for name, value in request.headers.raw_items())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _head_size(request: h11.Request) -> int:
    """The request line and headers, in bytes, as they were on the wire (but
    the whitespace around header values)."""
    line = _request_line_size(request.method, request.target)
    return line + sum(_field_size(name, value) for name, value in request.headers) + 2


def _request_line_size(method: bytes, target: bytes) -> int:
    return len(method) + len(target) + 11


def _field_size(name: bytes, value: bytes) -> int:
    return len(name) + len(value) + 4


class HttpFront:
    """The HTTP side of one connection: bytes in, answers written through ``owner``."""

    def __init__(self, owner: HttpOwner, max_header_bytes: int) -> None:
        self.owner = owner
        self.max_header_bytes = max_header_bytes
        self._conn: h11.Connection | None = None
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.waiting = False  # an answer is being worked out: read nothing more yet
        self.fresh = True  # nothing read yet

    @property
    def conn(self) -> h11.Connection:
        """h11's side of the connection, made when a request first needs it."""
        if self._conn is None:
            import h11  # here: start-up time that serving WebSocket clients never needs

            self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_header_bytes)
        return self._conn

    def receive(self, data: bytes) -> None:
        if self.fresh:
            self.fresh = False
            if self._simple_upgrade(data):
                return
        self.conn.receive_data(data)
        if not self.waiting:
            self._events()

    def _simple_upgrade(self, data: bytes) -> bool:
        """Hand a connection's first request to the WebSocket handshake without
        h11 when it is a whole upgrade request whose every byte both read alike
        (:data:`_SIMPLE_HEAD`), within the limits _events() applies; False: h11 reads it."""
        if not data.startswith(b"GET "):
            return False
        end = data.find(b"\r\n\r\n", 0, self.max_header_bytes)  # a head within the limit
        if end < 0:
            return False
        head = data[: end + 4]
        if _SIMPLE_HEAD.fullmatch(head) is None:
            return False
        upgrade = False
        hosts = 0
        target = head[4 : head.index(b" ", 4)]
        size = _request_line_size(b"GET", target) + 2  # as _head_size() counts
        for line in head.split(b"\r\n")[1:-2]:
            if len(line) > _LONG_LINE:
                return False
            name, _, value = line.partition(b":")
            size += _field_size(name, value.strip(b" \t"))
            name = name.lower()
            if name == b"upgrade":
                upgrade = upgrade or b"websocket" in value.lower()
            elif name == b"host":
                hosts += 1
            elif name in (b"content-length", b"transfer-encoding"):
                return False  # a body: h11 frames it
        # h11 refuses an HTTP/1.1 request without one Host header (RFC 9112 §3.2).
        if not upgrade or hosts != 1 or len(target) > MAX_URL_LENGTH:
            return False
        if size > self.max_header_bytes:
            return False  # _events() answers 431
        self.owner.start_websocket(head, data[end + 4 :])
        return True

    def receive_eof(self) -> bool:
        """The client ended its side. True while an answer is still being worked
        out: the transport stays open for it, and closes once it is sent."""
        self.conn.receive_data(b"")
        if self.waiting:
            return True
        self._events()
        return False

    def _events(self) -> None:
        import h11  # loaded with self.conn

        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._error(exc.error_status_hint, str(exc))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                # h11 refuses a request head over max_header_bytes itself (431).
                return
            if isinstance(event, h11.Request):
                upgrade = _is_websocket_upgrade(event)
                # A URL over AWS's 4096 characters is refused with 414 before its size
                # counts towards the head's.
                too_long = upgrade and len(event.target) > MAX_URL_LENGTH
                if not too_long and _head_size(event) > self.max_header_bytes:
                    # h11 caps only heads still incomplete; a whole one can be bigger.
                    self._error(431, "request header fields too large")
                    return
                if upgrade:
                    self.owner.start_websocket(_head(event), self._after_upgrade())
                    return
                self.request = event
                self.body.clear()
                if _expects_continue(event):
                    # RFC 9110 §10.1.1: say go on, or the client waits (curl: 1 s).
                    self.owner.write_http(
                        conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                    )
            elif isinstance(event, h11.Data):
                self.body += event.data
                if len(self.body) > MAX_HTTP_BODY:
                    # Past what any @connections request may carry (128 KB): AWS's
                    # answer, with its error type, so that SDKs raise the right error.
                    self._error(
                        413,
                        '{"message":"Request body too large"}',
                        (
                            ("Content-Type", "application/json"),
                            ("x-amzn-ErrorType", "PayloadTooLargeException"),
                        ),
                    )
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._answer()
                if self.waiting:
                    return
            elif isinstance(event, h11.ConnectionClosed):
                self.owner.close_transport()
                return

    def _after_upgrade(self) -> bytes:
        """What the client sent after its upgrade request: WebSocket data sent
        before the 101, not parsed until the handshake is accepted. Nothing for
        a request with a body, which the WebSocket handshake refuses."""
        import h11  # loaded with self.conn

        conn = self.conn
        try:
            if isinstance(conn.next_event(), h11.EndOfMessage) and conn.next_event() is h11.PAUSED:
                return conn.trailing_data[0]
        except h11.RemoteProtocolError:
            pass
        return b""

    def _answer(self) -> None:
        assert self.request is not None
        request = self.request
        response = self.owner.answer_http(
            HttpRequest(
                method=request.method.decode("ascii", "replace"),
                target=request.target.decode("latin-1"),
                headers=tuple(
                    (n.decode("latin-1"), v.decode("latin-1"))
                    for n, v in request.headers.raw_items()
                ),
                body=bytes(self.body),
                peer=self.owner.peer,
            )
        )
        if isinstance(response, HttpResponse):
            self._respond(response)
            return
        # Answered later (a Lambda invocation): pipelined requests wait their turn.
        self.waiting = True
        self.owner.await_http(response, self._answered)

    def _answered(self, response: HttpResponse) -> None:
        self.waiting = False
        self._respond(response)
        self._events()

    def _respond(self, response: HttpResponse) -> None:
        import h11  # loaded with self.conn

        self._send(response)
        self.request = None
        self.body.clear()
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            self.owner.close_transport()

    def _send(self, response: HttpResponse) -> None:
        import h11  # loaded with self.conn

        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        out = self.conn.send(
            h11.Response(
                status_code=response.status, headers=headers, reason=reason_phrase(response.status)
            )
        )
        # A response to HEAD has the headers of the GET answer and no body.
        head = self.request is not None and self.request.method == b"HEAD"
        if response.body and not head:
            out = (out or b"") + (self.conn.send(h11.Data(data=response.body)) or b"")
        out = (out or b"") + (self.conn.send(h11.EndOfMessage()) or b"")
        self.owner.write_http(out)

    def _error(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        import h11  # loaded with self.conn

        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            if headers:
                body = message.encode()
            else:
                headers = (("Content-Type", "text/plain; charset=utf-8"),)
                body = f"{message}\n".encode()
            with contextlib.suppress(h11.LocalProtocolError):
                self._send(HttpResponse(status, (*headers, ("Connection", "close")), body))
        self.owner.close_transport()
