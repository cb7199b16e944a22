"""Idle and maximum-duration timeouts (spec §5, §3.3), driven without waiting."""

from __future__ import annotations

import asyncio

from emulator.tools.testing import Record
from tests.conftest import StartApi

ROUTES = {
    "$default": {"handler": "probe.echo", "routeResponse": True},
    "$disconnect": "probe.ok",
}


async def disconnect_status(record: Record, count: int = 1) -> tuple[int, str]:
    invocations = await record.wait_for_invocations("$disconnect", count)
    context = invocations[-1].event["requestContext"]
    return context["disconnectStatusCode"], context["disconnectReason"]


async def test_idle_connection_is_closed_going_away(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 600})
    client = await api.connect()
    api.emulator.advance_time(600)
    # AWS: 1001 "Going away" after 10 minutes idle, then $disconnect.
    assert await client.wait_closed() == (1001, "Going away")
    assert await disconnect_status(api.record) == (1001, "Going away")


async def test_a_real_short_idle_timeout_fires(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 0.1})
    client = await api.connect()
    assert await client.wait_closed() == (1001, "Going away")


async def test_messages_in_either_direction_reset_the_idle_timer(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 600})
    client = await api.connect()
    for _ in range(3):
        api.emulator.advance_time(400)
        await client.send_text("still here")
        assert await client.receive_text() == "still here"
    # 1200 s after connecting, but never 600 s without data: still open.
    await client.send_text("open")
    assert await client.receive_text() == "open"
    api.emulator.advance_time(600)
    assert await client.wait_closed() == (1001, "Going away")


async def test_outbound_posts_alone_keep_the_connection_alive(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 600})
    client = await api.connect()
    for _ in range(2):
        api.emulator.advance_time(400)
        await asyncio.to_thread(api.emulator.post_to_connection, client.connection_id, "push")
        assert await client.receive_text() == "push"
    await client.send_text("open")
    assert await client.receive_text() == "open"


async def test_pings_do_not_count_as_activity(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 600})
    client = await api.connect()
    api.emulator.advance_time(400)
    pong = await client.connection.ping()
    await asyncio.wait_for(pong, 5)
    api.emulator.advance_time(200)
    # AWS has no protocol-level keep-alive: only data messages count (spec §2.5).
    assert await client.wait_closed() == (1001, "Going away")


async def test_maximum_connection_duration_closes_a_busy_connection(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"maxConnectionDuration": 7200})
    client = await api.connect()
    for _ in range(12):
        api.emulator.advance_time(590)
        await client.send_text("busy")
        assert await client.receive_text() == "busy"
    api.emulator.advance_time(120)
    assert await client.wait_closed() == (1001, "Going away")
    assert await disconnect_status(api.record) == (1001, "Going away")


async def test_each_connection_has_its_own_timers(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits={"idleTimeout": 600})
    first = await api.connect()
    api.emulator.advance_time(300)
    second = await api.connect()
    api.emulator.advance_time(300)
    assert await first.wait_closed() == (1001, "Going away")
    await second.send_text("alive")
    assert await second.receive_text() == "alive"
