"""Every buffer has a bound, and a documented behaviour when it is full.

Measured without timing: each test drives a client until the server applies
back-pressure (it stops reading from that client, which the test sees through
the connection's flow-control method), then inspects the server's own buffers.
Without the bound, the server never stops reading and the test fails on its
timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from emulator.wire.connection import Connection
from tests.conftest import StartApi, handler_module
from tests.test_wire import HANDSHAKE, TEXT, RawClient, frame

fault_probe = handler_module("fault_probe")

TIMEOUT = 30.0
# asyncio (and uvloop) read at most 256 KiB from a socket per data_received call.
READ_SIZE = 256 * 1024
MESSAGE_SIZE = 131072  # AWS's message limit, the emulator's default


@pytest.fixture
def gate() -> Iterator[None]:
    """fault_probe's held $connect waits until the test opens the gate."""
    fault_probe.gate.clear()
    fault_probe.entered.clear()
    try:
        yield
    finally:
        fault_probe.gate.set()


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

    def recorded(self: Connection) -> None:
        pause(self)
        seen.connections.append(self)
        seen.changed.set()

    monkeypatch.setattr(Connection, "_pause_reading", recorded)
    return seen


# -- frames sent before the 101 ----------------------------------------------------------------


@pytest.mark.usefixtures("gate")
async def test_frames_sent_before_the_101_are_held_up_to_one_message_then_routed(
    start_api: StartApi, pauses: Pauses
) -> None:
    api = await start_api({"$connect": "fault_probe.connect_holds", "$default": "probe.ok"})
    count, size = 2048, 1024  # 2 MiB of messages while $connect holds the handshake
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


@pytest.mark.usefixtures("gate")
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
