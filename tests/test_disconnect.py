"""``$disconnect`` and the frames that close a connection (spec §2.5, §3.3, §5)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from emulator.tools.testing import Client, Harness
from tests.conftest import StartApi

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "route_probe.body_length", "routeResponse": True},
}
FRAME_SIZE = 32768  # AWS: 32 KB per frame (spec §5)
MESSAGE_SIZE = 131072  # AWS: 128 KB per message, fragments reassembled (spec §5)


async def disconnected(api: Harness, client: Client) -> tuple[int, str]:
    """Wait for the one ``$disconnect`` of ``client``; its code and reason."""
    [invocation] = await api.record.wait_for_invocations("$disconnect")
    context = invocation.event["requestContext"]
    assert context["connectionId"] == client.connection_id
    return context["disconnectStatusCode"], context["disconnectReason"]


async def assert_once(api: Harness) -> None:
    """After every close was handled: ``$disconnect`` ran exactly once."""
    await api.stop()
    assert len(api.record.events("$disconnect")) == 1


async def send_raw_frame(client: Client, frame: Frame) -> None:
    """Send a frame the websockets API would not build (a text frame of bad UTF-8)."""
    connection = client.connection
    async with connection.send_context():
        connection.protocol.send_frame(frame)


# --- the client closes (spec §3.3) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        pytest.param(1000, "bye", id="1000-bye"),
        pytest.param(1000, "", id="1000"),
        # A browser tab closing: 1001 and no reason (aws-lambda-go capture).
        pytest.param(1001, "", id="1001"),
        pytest.param(4000, "app-defined", id="4000"),
    ],
)
async def test_client_close_reports_its_code_and_reason(
    start_api: StartApi, code: int, reason: str
) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    await client.close(code, reason)
    assert await disconnected(api, client) == (code, reason)
    assert client.connection_id not in api.emulator.connection_ids()
    await assert_once(api)


async def test_close_frame_without_status(start_api: StartApi) -> None:
    # AWS: 1005 "Client-side close frame status not set" (Powertools capture).
    api = await start_api(ROUTES)
    client = await api.connect()
    # websockets sends a close frame with an empty payload when given no code.
    async with client.connection.send_context():
        client.connection.protocol.send_close()
    assert client.connection.protocol.close_sent is not None
    assert client.connection.protocol.close_sent.code == 1005  # "no status" locally
    await client.wait_closed()
    assert await disconnected(api, client) == (1005, "Client-side close frame status not set")
    await assert_once(api)


async def test_tcp_drop_without_close_frame(start_api: StartApi) -> None:
    # UNKNOWN on AWS; the spec recommends 1006 and no reason.
    api = await start_api(ROUTES)
    client = await api.connect()
    client.connection.transport.abort()
    assert await disconnected(api, client) == (1006, "")
    await assert_once(api)


async def test_disconnect_runs_after_the_connection_closed(start_api: StartApi) -> None:
    # AWS: "the connection is already closed when it is executed": a post gets 410.
    api = await start_api({**ROUTES, "$disconnect": "route_probe.disconnect_posts_self"})
    client = await api.connect()
    await client.close(1000, "bye")
    [invocation] = await api.record.wait_for_invocations("$disconnect")
    assert invocation.result == {"statusCode": 200, "body": "GoneException"}
    assert api.record.sent_to(client.connection_id) == []


# --- the server shuts down ------------------------------------------------------------------


async def test_server_shutdown_closes_every_connection_going_away(start_api: StartApi) -> None:
    api = await start_api(ROUTES)
    clients = [await api.connect() for _ in range(3)]
    await api.stop()
    for client in clients:
        assert await client.wait_closed() == (1001, "Going away")
    events = api.record.events("$disconnect")
    assert sorted(e["requestContext"]["connectionId"] for e in events) == sorted(
        c.connection_id for c in clients
    )
    for event in events:
        context = event["requestContext"]
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
            1001,
            "Going away",
        )


# --- frames API Gateway refuses (spec §2.5) ------------------------------------------------


async def test_binary_frame_closes_with_1003(start_api: StartApi) -> None:
    # AWS: "API Gateway rejects it and disconnects the client with code 1003".
    api = await start_api(ROUTES)
    client = await api.connect()
    await client.connection.send(b"\x01\x02")
    code, reason = await client.wait_closed()
    assert code == 1003
    # UNKNOWN what $disconnect gets; the spec recommends the same code.
    assert await disconnected(api, client) == (1003, reason)
    assert api.record.events("$default") == []
    await assert_once(api)


async def test_invalid_utf8_text_closes_with_1007(start_api: StartApi) -> None:
    # RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
    api = await start_api(ROUTES)
    client = await api.connect()
    await send_raw_frame(client, Frame(Opcode.TEXT, b"ok \xff\xfe"))
    code, reason = await client.wait_closed()
    assert code == 1007
    assert await disconnected(api, client) == (1007, reason)
    assert api.record.events("$default") == []
    await assert_once(api)


@pytest.mark.parametrize(
    "fragments",
    [
        pytest.param([FRAME_SIZE + 1], id="one-frame-over-32KB"),
        pytest.param([40000], id="one-frame-40000"),
        pytest.param([FRAME_SIZE, FRAME_SIZE + 1], id="second-fragment-over-32KB"),
        pytest.param([FRAME_SIZE] * 4 + [1], id="fragments-over-128KB"),
        pytest.param([FRAME_SIZE] * 4 + [8928], id="fragments-140000"),
    ],
)
async def test_oversize_closes_with_1009(start_api: StartApi, fragments: list[int]) -> None:
    # AWS: a frame over 32 KB or a message over 128 KB closes with 1009 (spec §2.5).
    api = await start_api(ROUTES)
    client = await api.connect()
    parts = ["x" * size for size in fragments]
    await client.connection.send(parts if len(parts) > 1 else parts[0])
    code, reason = await client.wait_closed()
    assert code == 1009
    assert await disconnected(api, client) == (1009, reason)
    assert api.record.events("$default") == []
    await assert_once(api)


@pytest.mark.parametrize(
    "fragments",
    [
        pytest.param([FRAME_SIZE], id="one-frame-of-32KB"),
        pytest.param([30000] * 3, id="3x30000"),
        pytest.param([FRAME_SIZE] * 4, id="exactly-128KB"),
        pytest.param([1] * 50, id="many-tiny-fragments"),
    ],
)
async def test_within_limits_is_one_message(start_api: StartApi, fragments: list[int]) -> None:
    # AWS: clients must fragment beyond 32 KB; the fragments make one message.
    api = await start_api(ROUTES)
    client = await api.connect()
    parts = [chr(ord("a") + n % 26) * size for n, size in enumerate(fragments)]

    async def fragmented() -> Any:
        for part in parts:
            yield part

    await client.connection.send(fragmented() if len(parts) > 1 else parts[0])
    assert await client.receive_text() == str(sum(fragments))
    [event] = api.record.events("$default")
    assert event["body"] == "".join(parts)
    await client.close()
    assert await disconnected(api, client) == (1000, "")


async def test_utf8_split_across_fragments_is_one_message(start_api: StartApi) -> None:
    # RFC 6455: UTF-8 is checked on the whole message, not on each fragment.
    api = await start_api(ROUTES)
    client = await api.connect()
    await send_raw_frame(client, Frame(Opcode.TEXT, "é".encode()[:1], fin=False))
    await send_raw_frame(client, Frame(Opcode.CONT, "é".encode()[1:] + b"!", fin=True))
    assert await client.receive_text() == "2"
    [event] = api.record.events("$default")
    assert event["body"] == "é!"


# --- $disconnect's own outcome is ignored (spec §3.3) --------------------------------------


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param("probe.boom", id="raises"),
        pytest.param("probe.async_boom", id="async-raises"),
        pytest.param("probe.exits", id="sys-exit"),
        pytest.param("probe.async_exits", id="async-KeyboardInterrupt"),
        pytest.param("probe.malformed", id="malformed"),
        pytest.param("route_probe.status_500", id="500"),
    ],
)
async def test_disconnect_outcome_is_ignored(start_api: StartApi, handler: str) -> None:
    api = await start_api({**ROUTES, "$disconnect": handler})
    client = await api.connect()
    await client.close(1000, "bye")
    await api.record.wait_for_invocations("$disconnect")
    # Nothing is sent anywhere, and the server keeps serving.
    assert api.record.sent == []
    other = await api.connect()
    await other.send_text("four")
    assert await other.receive_text() == "4"
    await other.close()
    both = await api.record.wait_for_invocations("$disconnect", 2)
    assert [i.event["requestContext"]["connectionId"] for i in both] == [
        client.connection_id,
        other.connection_id,
    ]


async def test_closes_of_many_connections_each_run_disconnect_once(start_api: StartApi) -> None:
    api = await start_api(ROUTES)
    clients = [await api.connect() for _ in range(5)]
    await asyncio.gather(*(c.close(1000, f"bye {n}") for n, c in enumerate(clients)))
    invocations = await api.record.wait_for_invocations("$disconnect", len(clients))
    reported = {
        i.event["requestContext"]["connectionId"]: i.event["requestContext"]["disconnectReason"]
        for i in invocations
    }
    assert reported == {c.connection_id: f"bye {n}" for n, c in enumerate(clients)}
    await api.stop()
    assert len(api.record.events("$disconnect")) == len(clients)
    assert api.emulator.connection_ids() == []
