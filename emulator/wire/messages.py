"""What crosses the wire's edge: requests and answers, and the two sides' interfaces.

A pure module. The wire (:mod:`.http1`, :mod:`.connection`, :mod:`.server`)
knows bytes and TCP connections; the layer above it, the
:class:`Application`, sees only these values: an HTTP request to answer, a
WebSocket upgrade to accept or refuse, then text messages and a close, and
talks back through a :class:`WebSocketPeer`. It never sees a frame.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "Application",
    "HttpRequest",
    "HttpResponse",
    "UpgradeAnswer",
    "UpgradeRequest",
    "WebSocketPeer",
]

# A request line and headers beyond this are refused with 431. AWS documents
# 10240 bytes for REST APIs' request line and headers; INFER the same here.
DEFAULT_MAX_HEADER_BYTES = 10240


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
    secure: bool = False  # over TLS: wss://


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

    # The application's own state for this connection (None until it sets it).
    record: Any
    # Who gets this connection's events: the server's application, unless it
    # hands the connection over at the upgrade (an endpoint beside the API).
    app: Application

    @property
    def is_open(self) -> bool: ...

    @property
    def remote_address(self) -> tuple[str, int]: ...

    @property
    def buffered_bytes(self) -> int: ...

    @property
    def writing_paused(self) -> bool:
        """Whether the client is so far behind that the server stopped reading from it."""
        ...

    def send_text(self, text: str) -> None: ...

    def send_bytes(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Application(Protocol):
    """The emulator, as the transport sees it."""

    def handle_http(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        """Answer a plain HTTP request, at once or once an awaitable has the answer."""
        ...

    def handle_upgrade(
        self, peer: WebSocketPeer, request: UpgradeRequest
    ) -> Awaitable[UpgradeAnswer]: ...

    def handle_open(self, peer: WebSocketPeer) -> None: ...

    def handle_message(self, peer: WebSocketPeer, text: str) -> None: ...

    def handle_drained(self, peer: WebSocketPeer) -> None:
        """The client caught up with what was written to it (``writing_paused`` ended)."""
        ...

    def handle_closed(self, peer: WebSocketPeer, code: int, reason: str) -> None: ...
