"""Safe defaults: bounded memory for clients that stop reading, and caps on
connections and request heads, each refused the way AWS refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from emulator.app import Emulator
from emulator.errors import LimitExceededError
from emulator.gateway.connections import CLIENT_BUFFER_BYTES
from emulator.model.config import parse_config
from emulator.tools.testing import Harness
from tests.conftest import HANDLERS
from tests.signing import raw_request

ROUTES = {
    "routes": {
        "$default": {"handler": "probe.echo", "routeResponse": True},
        "$disconnect": "probe.ok",
    }
}
CHUNK = "x" * 131072  # the largest post AWS accepts


async def started(**options: object) -> Harness:
    emulator = Emulator(
        parse_config(ROUTES, base_dir=HANDLERS), host="127.0.0.1", port=0, **options
    )  # type: ignore[arg-type]
    harness = Harness(emulator)
    await harness.__aenter__()
    return harness


def fill(api: Harness, connection_id: str) -> int:
    """Post until the emulator refuses; how many posts it accepted."""
    accepted = 0
    try:
        # Kernel buffers take a few megabytes first; then ours fills.
        for _ in range(2000):
            api.emulator.post_to_connection(connection_id, CHUNK)
            accepted += 1
    except LimitExceededError:
        return accepted
    raise AssertionError("2000 posts to a client that does not read were all accepted")


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    harness = await started()
    yield harness
    await harness.stop()


async def test_posts_to_a_client_that_stops_reading_are_refused_not_buffered(
    api: Harness,
) -> None:
    client = await api.connect()
    transport = client.connection.transport
    transport.pause_reading()
    accepted = fill(api, client.connection_id)
    (record,) = [
        r for r in api.emulator._gateway.registry if r.connection_id == client.connection_id
    ]
    assert record.peer.buffered_bytes <= CLIENT_BUFFER_BYTES + len(CHUNK) + 16
    # Nothing that was accepted is lost: the client gets every one, in order.
    transport.resume_reading()
    for _ in range(accepted):
        assert await client.receive_text(timeout=10) == CHUNK
    # And once it has read, posts are accepted again.
    api.emulator.post_to_connection(client.connection_id, "again")
    assert await client.receive_text() == "again"


async def test_a_full_buffer_is_429_limit_exceeded_over_http(api: Harness) -> None:
    client = await api.connect()
    client.connection.transport.pause_reading()
    fill(api, client.connection_id)
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    body = b"one more"
    target = f"/local/@connections/{client.connection_id}"
    length = f"Content-Length: {len(body)}\r\n"
    writer.write(raw_request("POST", api.emulator.port, target, body, extra=length))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 429 ")
    assert b"x-amzn-ErrorType: LimitExceededException" in head
    # This client will never read what is queued for it: drop it.
    client.connection.transport.abort()


async def test_connections_beyond_the_cap_are_refused_with_429() -> None:
    api = await started(max_connections=2)
    try:
        first = await api.connect()
        await api.connect()
        assert await api.connect_rejected() == 429
        await first.close()
        # $disconnect runs once the server has seen the close: the place is free.
        await api.record.wait_for_invocations("$disconnect")
        third = await api.connect()
        await third.send_text("in")
        assert await third.receive_text() == "in"
    finally:
        await api.stop()


@pytest.mark.parametrize(("headers", "status"), [(4, b"101"), (10, b"431")], ids=["under", "over"])
async def test_request_heads_over_the_cap_are_refused_with_431(
    api: Harness, headers: int, status: bytes
) -> None:
    padding = b"".join(b"X-Padding-%d: %s\r\n" % (n, b"p" * 2000) for n in range(headers))
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    writer.write(
        b"GET /local HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + padding
        + b"\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.split(b" ")[1] == status
    # The server keeps serving others.
    client = await api.connect()
    await client.send_text("still here")
    assert await client.receive_text() == "still here"


async def test_a_long_url_is_414_even_when_the_head_is_also_too_big(api: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    writer.write(
        b"GET /local?q=" + b"u" * 12000 + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.split(b" ")[1] == b"414"
