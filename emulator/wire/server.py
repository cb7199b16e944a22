"""Listening on one host and port, and stopping: the wire's server.

It owns the TCP connections (:class:`~.connection.Connection`), counts the
WebSocket ones against ``max_connections``, and holds the size limits every
new connection applies (a reload may change them).

With a certificate, every connection is TLS (``wss://`` and ``https://``):
whatever is served on the port, the WebSocket API, the pages, the
@connections API, gets it, since asyncio's TLS transport sits under the same
:class:`~.connection.Connection`.
"""

from __future__ import annotations

import asyncio
import os
import ssl

from emulator.errors import ConfigError
from emulator.wire.connection import CLOSE_TIMEOUT, Connection
from emulator.wire.messages import DEFAULT_MAX_HEADER_BYTES, Application

__all__ = ["DEFAULT_MAX_HEADER_BYTES", "Server", "tls_context"]


def tls_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server-side TLS context for a PEM certificate (chain) and its private key
    (``keyfile``, or in ``certfile`` too); a :class:`ConfigError` naming the file
    if they cannot be loaded."""
    for path in (certfile, keyfile):
        if path is not None and not os.path.isfile(path):
            raise ConfigError("file not found", source=path)
    # Python's defaults for a server: TLS 1.2 or newer, no compression.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        problem = (
            "cannot use it as a certificate with its private key "
            f"(PEM files that belong together): {exc.reason or exc}"
        )
        raise ConfigError(problem, source=certfile) from exc
    return context


class Server:
    """Listens on one host and port; owns the TCP connections."""

    def __init__(
        self,
        app: Application,
        *,
        max_message_bytes: int,
        max_frame_bytes: int,
        max_connections: int | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.tls = tls
        self.secure = tls is not None
        # What a new WebSocket connection accepts (API Gateway's limits, spec §5).
        self.max_message_bytes = max_message_bytes
        self.max_frame_bytes = max_frame_bytes
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self.websockets = 0  # WebSocket connections, open or in their handshake
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._drained: asyncio.Future[None] | None = None

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self), host, port, backlog=4096, reuse_address=True, ssl=self.tls
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
