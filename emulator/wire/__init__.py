"""The wire: HTTP/1.1 and the WebSocket transport on one port.

It knows bytes and TCP connections, not routes: :mod:`.http1` reads HTTP
requests (h11), :mod:`.connection` takes a connection from HTTP to WebSocket
(websockets' sans-I/O protocol), :mod:`.server` listens. What crosses to the
layer above is in :mod:`.messages`. Importing this package imports nothing else.
"""

from __future__ import annotations

__all__: list[str] = []
