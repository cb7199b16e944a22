"""Every buffer has a bound, and a documented behaviour when it is full.

Measured without timing: each test drives a client until the server applies
back-pressure (it stops reading from that client, which the test sees through
the connection's flow-control method), then inspects the server's own buffers.
Without the bound, the server never stops reading and the test fails on its
timeout.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from emulator.gateway.connections import CLIENT_BUFFER_BYTES
from emulator.gateway.management import MAX_POST_BYTES
from emulator.tools.inspector import BACKLOG_BYTES, Inspector
from emulator.wire.connection import WRITE_BUFFER_LIMIT, Connection
from tests.conftest import StartApi, handler_module
from tests.test_inspector import Feed
from tests.test_wire import HANDSHAKE, PING, TEXT, RawClient, frame

fault_probe = handler_module("fault_probe")

TIMEOUT = 30.0
# asyncio (and uvloop) read at most 256 KiB from a socket per data_received call.
READ_SIZE = 256 * 1024
MESSAGE_SIZE = 131072  # AWS's message limit, the emulator's default


class Pauses:
    """The server connections that stopped reading from their client, in order."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.changed = asyncio.Event()

    async def first(self) -> Connection:
        async with asyncio.timeout(TIMEOUT):
            while not self.connections:
                await self.changed.wait()
        return self.connections[0]


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    """Record each time a server connection stops reading from its client."""
    seen = Pauses()
    pause = Connection._pause_reading

    def recorded(self: Connection, reason: str) -> None:
        pause(self, reason)
        seen.connections.append(self)
        seen.changed.set()

    monkeypatch.setattr(Connection, "_pause_reading", recorded)
    return seen


# -- frames sent before the 101 ----------------------------------------------------------------


@pytest.mark.usefixtures("fault_gate")
async def test_frames_sent_before_the_101_are_held_up_to_one_message_then_routed(
    start_api: StartApi, pauses: Pauses
) -> None:
    count, size = 2048, 1024  # 2 MiB of messages while $connect holds the handshake
    # They arrive at once: under Lambda's default concurrency of 1,000 some would
    # be throttled, as on AWS. What this test is about is what TCP holds.
    api = await start_api(
        {"$connect": "fault_probe.connect_holds", "$default": "probe.ok"},
        limits={"concurrency": count},
    )
    raw = await RawClient.open(api)
    raw.send(HANDSHAKE.replace(b"GET /local ", b"GET /local?hold=1 "))
    assert await asyncio.to_thread(fault_probe.entered.wait, TIMEOUT)
    raw.send(b"".join(frame(TEXT, b"%07d" % n + b"x" * (size - 7)) for n in range(count)))
    connection = await pauses.first()
    # Held unparsed: one message's worth, plus what the read that crossed it brought.
    assert connection.early is not None
    assert len(connection.early) <= MESSAGE_SIZE + READ_SIZE
    fault_probe.gate.set()
    assert (await raw.http_answer()).status == 101
    # Nothing was dropped: TCP held the rest, read once the 101 was out.
    routed = await api.record.wait_for_invocations("$default", count, timeout=TIMEOUT)
    assert [int(r.event["body"][:7]) for r in routed] == list(range(count))
    raw.close()


@pytest.mark.usefixtures("fault_gate")
async def test_a_frame_over_the_limit_sent_before_the_101_closes_with_1009(
    start_api: StartApi,
) -> None:
    # AWS's frame limit applies to frames sent before the 101 too (spec §2.5).
    api = await start_api(
        {"$connect": "fault_probe.connect_holds", "$default": "probe.ok", "$disconnect": "probe.ok"}
    )
    raw = await RawClient.open(api)
    raw.send(HANDSHAKE.replace(b"GET /local ", b"GET /local?hold=1 "))
    assert await asyncio.to_thread(fault_probe.entered.wait, TIMEOUT)
    raw.send(frame(TEXT, b"small") + frame(TEXT, b"y" * 40000))
    fault_probe.gate.set()
    assert (await raw.http_answer()).status == 101
    code, _ = await raw.read_close()
    raw.close()
    assert code == 1009
    (message,) = await api.record.wait_for_invocations("$default")
    assert message.event["body"] == "small"
    (gone,) = await api.record.wait_for_invocations("$disconnect")
    assert gone.event["requestContext"]["disconnectStatusCode"] == 1009


# -- pongs to a client that never reads --------------------------------------------------------


async def test_a_client_that_pings_and_never_reads_is_no_longer_read(
    start_api: StartApi, pauses: Pauses
) -> None:
    # RFC 6455 §5.5.2 makes the server answer every ping; a client that never
    # reads the pongs would grow the server's write buffer without end. Past
    # WRITE_BUFFER_LIMIT the server stops reading from it: TCP pushes back.
    api = await start_api(
        {"$default": {"handler": "probe.echo", "routeResponse": True}, "$disconnect": "probe.ok"}
    )
    bystander = await api.connect()
    raw = await RawClient.open(api)
    await raw.upgrade()
    connection_id = api.emulator.connection_id_for(*raw.local)
    assert raw.transport is not None
    raw.transport.pause_reading()  # never reads again
    # 16 MiB of pongs: more than kernel buffers (4 MiB on Linux) and the limit hold.
    pings = frame(PING, b"p" * 125) * 8192
    for _ in range(16):
        raw.send(pings)
    connection = await pauses.first()
    assert connection.paused_for == {"writes"}
    # The pongs of one read at most are written past the limit.
    assert connection.buffered_bytes <= WRITE_BUFFER_LIMIT + READ_SIZE
    # Others are served meanwhile, and the client that left gets its $disconnect.
    await bystander.send_text("still served")
    assert await bystander.receive_text() == "still served"
    raw.transport.abort()
    (gone,) = await api.record.wait_for_invocations("$disconnect")
    assert gone.event["requestContext"]["connectionId"] == connection_id


async def test_a_client_that_catches_up_is_read_again(start_api: StartApi, pauses: Pauses) -> None:
    api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
    raw = await RawClient.open(api)
    await raw.upgrade()
    assert raw.transport is not None
    raw.transport.pause_reading()
    pong_bytes = 0
    for _ in range(16):
        raw.send(frame(PING, b"p" * 125) * 8192)
        pong_bytes += 127 * 8192
    connection = await pauses.first()
    # It reads again: the server drains, reads the rest of the pings, and answers
    # the message sent behind them, after every pong.
    raw.send(frame(TEXT, b"after the pings"))
    raw.transport.resume_reading()
    await raw.read_exactly(pong_bytes)
    assert (await raw.read_frame()).payload == b"after the pings"
    assert connection.paused_for == set()
    raw.close()


# -- the inspector's feed, per subscriber ------------------------------------------------------


async def test_a_feed_page_that_falls_behind_loses_its_oldest_entries_and_is_told(
    start_api: StartApi, pauses: Pauses
) -> None:
    count = 1500
    # One-way: the client reads nothing. Sent in a burst: Lambda's default
    # concurrency of 1,000 could throttle some, which is not what this is about.
    api = await start_api({"$default": "probe.ok"}, limits={"concurrency": count})
    inspector = Inspector(api.emulator).install()
    feed = await Feed.open(api.emulator.port, inspector.token)
    feed.connection.transport.pause_reading()  # the page stops reading
    client = await api.connect()
    # Each message makes two entries of a few KB (frame, invoke): far more than
    # kernel buffers, the connection's limit and the backlog hold together.
    for n in range(count):
        await client.send_text(f"{n:05d}" + "x" * 4000)
    await api.record.wait_for_invocations("$default", count, timeout=TIMEOUT)
    # Every entry has been offered by now (observers run before the record's).
    (subscriber,) = inspector._subscribers.values()
    assert subscriber.backlog_bytes <= BACKLOG_BYTES
    assert subscriber.dropped_count > 0
    assert await pauses.first() is not None  # the feed's connection stopped being read
    newest = inspector._sequence
    # The page reads again: it gets what was already on its way, then the gap,
    # then the newest entries, in order, up to the last one.
    feed.connection.transport.resume_reading()
    received: list[int] = []
    gaps: list[dict[str, int]] = []
    while not received or received[-1] < newest:
        message = await feed.receive()
        if message["type"] == "gap":
            gaps.append(message)
        else:
            assert message["type"] == "entries"
            received.extend(entry["n"] for entry in message["entries"])
    (gap,) = gaps
    missing = set(range(gap["first"], gap["last"] + 1))
    assert gap["dropped"] == len(missing)
    # Nothing else is missing, and nothing is repeated or out of order.
    assert received == sorted(set(range(received[0], newest + 1)) - missing)
    await feed.close()
    await client.close()


async def test_a_feed_page_that_keeps_up_gets_every_entry(start_api: StartApi) -> None:
    api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
    inspector = Inspector(api.emulator).install()
    feed = await Feed.open(api.emulator.port, inspector.token)
    client = await api.connect()
    for n in range(50):
        await client.send_text(json.dumps({"n": n}))
        assert await client.receive_text() == json.dumps({"n": n})
    entries = await feed.entries_until(lambda e: e["kind"] == "send" and '"n": 49' in e["data"])
    assert [e["n"] for e in entries] == list(range(entries[0]["n"], entries[-1]["n"] + 1))
    assert not [e for e in entries if e["kind"] == "gap"]
    await feed.close()


async def test_a_client_that_pipelines_requests_and_never_reads_is_no_longer_read(
    start_api: StartApi, pauses: Pauses
) -> None:
    api = await start_api({"$default": "probe.ok"})
    Inspector(api.emulator).install()
    raw = await RawClient.open(api)
    assert raw.transport is not None
    raw.transport.pause_reading()
    # 15 KB answers (the inspector's script) to 40-byte requests: 1,000 of them
    # are more than kernel buffers and the limit hold.
    request = b"GET /_static/inspector.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    raw.send(request * 1000)
    connection = await pauses.first()
    assert connection.paused_for == {"writes"}
    assert connection.transport is not None
    # At most one read's worth of answers past the limit (a read of 40-byte
    # requests answers up to 256 KiB / 40 of them).
    assert (
        connection.transport.get_write_buffer_size()
        <= WRITE_BUFFER_LIMIT + (READ_SIZE // len(request) + 1) * 16 * 1024
    )
    raw.close()


def test_messages_are_dropped_before_the_wire_stops_reading() -> None:
    # A client that stops reading still has its messages routed (AWS keeps
    # routing them): the gateway refuses posts and drops responses at
    # CLIENT_BUFFER_BYTES, well before the wire's limit stops reading.
    assert CLIENT_BUFFER_BYTES + MAX_POST_BYTES + 14 < WRITE_BUFFER_LIMIT
