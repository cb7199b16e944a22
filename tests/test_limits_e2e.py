"""AWS's WebSocket quotas on a live server, and the ``limits`` that change them (spec §2.5, §5).

``limits: {frameSize, messageSize, integrationTimeout, idleTimeout,
maxConnectionDuration}`` replace AWS's values (32768 and 131072 bytes, 29 s,
10 min, 2 h) so that a test need not send 128 KB or wait 10 minutes. What
tests/test_disconnect.py and tests/test_timeouts.py check at AWS's values is
checked here at configured ones, on real sockets and real clocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed

from emulator.tools.testing import Client, Harness
from tests.conftest import StartApi, handler_module

limits_probe = handler_module("limits_probe")

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "limits_probe.byte_length", "routeResponse": True},
}
GOING_AWAY = (1001, "Going away")


@pytest.fixture
def gate() -> Iterator[None]:
    """Close ``limits_probe.gate`` for the test; always open it again."""
    limits_probe.gate.clear()
    try:
        yield
    finally:
        limits_probe.gate.set()


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """AWS's error frame, byte for byte, irregular spacing included (spec §3.2.5)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


async def disconnected(api: Harness, client: Client) -> tuple[int, str]:
    """The code and reason of the one ``$disconnect`` of ``client``."""
    [invocation] = await api.record.wait_for_invocations("$disconnect")
    context = invocation.event["requestContext"]
    assert context["connectionId"] == client.connection_id
    return context["disconnectStatusCode"], context["disconnectReason"]


async def send_fragments(client: Client, parts: list[str] | list[bytes]) -> None:
    """One message: a single frame, or one frame per part; the server may close midway."""

    async def fragments() -> AsyncIterator[str | bytes]:
        for part in parts:
            yield part

    with contextlib.suppress(ConnectionClosed):
        await client.connection.send(fragments() if len(parts) > 1 else parts[0])


# --- binary frames (spec §2.5) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "binary"),
    [
        pytest.param([], [b"\x01\x02"], id="one-binary-frame"),
        pytest.param([], [b"ab", b"cd"], id="fragmented-binary"),
        pytest.param([], [b""], id="empty-binary-frame"),
        pytest.param(["text first"], [b"\x00"], id="after-a-text-message"),
    ],
)
async def test_binary_closes_with_1003(
    start_api: StartApi, before: list[str], binary: list[bytes]
) -> None:
    # AWS: "API Gateway rejects it and disconnects the client with code 1003" [DOC].
    api = await start_api(ROUTES, limits={"frameSize": 1024, "messageSize": 4096})
    client = await api.connect()
    for text in before:
        await client.send_text(text)
        assert await client.receive_text() == str(len(text))
    await send_fragments(client, binary)
    code, reason = await client.wait_closed()
    assert code == 1003
    # UNKNOWN what $disconnect gets; the spec recommends the same code.
    assert await disconnected(api, client) == (1003, reason)
    assert [e["body"] for e in api.record.events("$default")] == before


# --- frame and message sizes (spec §2.5, §5) ----------------------------------------------

SMALL_FRAMES = {"frameSize": 1024}
SMALL = {"frameSize": 1024, "messageSize": 4096}
LARGE = {"frameSize": 65536, "messageSize": 262144}  # above AWS's, e.g. to test a client

# (limits, the fragments of one message, the character they are made of)
ACCEPTED = [
    pytest.param(None, [32768], "a", id="aws-one-frame-of-32768"),
    pytest.param(None, [32768] * 4, "a", id="aws-fragments-of-131072"),
    pytest.param(SMALL_FRAMES, [1024], "a", id="frame-at-frameSize"),
    pytest.param(SMALL_FRAMES, [1024] * 8, "a", id="fragments-at-frameSize"),
    # Sizes are in bytes: 512 "é" are 1024 bytes.
    pytest.param(SMALL_FRAMES, [512], "é", id="frame-at-frameSize-in-bytes"),
    pytest.param(SMALL, [1024] * 4, "a", id="message-at-messageSize"),
    pytest.param(SMALL, [1] * 100, "a", id="many-tiny-fragments"),
    pytest.param({"messageSize": 4096}, [4096], "a", id="one-frame-at-messageSize"),
    # Limits that do not name the sizes keep AWS's.
    pytest.param({"idleTimeout": 600}, [32768], "a", id="other-limits-keep-32768"),
    pytest.param(LARGE, [40000], "a", id="raised-frameSize"),
    pytest.param(LARGE, [65536] * 4, "a", id="raised-messageSize"),
]
REFUSED = [
    pytest.param(None, [32769], "a", id="aws-one-frame-over-32768"),
    pytest.param(None, [32768] * 4 + [1], "a", id="aws-fragments-over-131072"),
    pytest.param(SMALL_FRAMES, [1025], "a", id="frame-over-frameSize"),
    pytest.param(SMALL_FRAMES, [1024, 1025], "a", id="second-fragment-over-frameSize"),
    pytest.param(SMALL_FRAMES, [513], "é", id="frame-over-frameSize-in-bytes"),
    pytest.param(SMALL, [1024] * 4 + [1], "a", id="fragments-over-messageSize"),
    pytest.param(SMALL, [1000] * 5, "a", id="fragments-5000-over-4096"),
    # messageSize below the default frameSize: one frame over it is a message over it.
    pytest.param({"messageSize": 4096}, [4097], "a", id="one-frame-over-messageSize"),
    pytest.param({"idleTimeout": 600}, [32769], "a", id="other-limits-keep-32768-refused"),
    pytest.param(LARGE, [65537], "a", id="over-raised-frameSize"),
]


@pytest.mark.parametrize(("limits", "fragments", "char"), ACCEPTED)
async def test_within_the_limits_is_one_message(
    start_api: StartApi, limits: dict[str, int] | None, fragments: list[int], char: str
) -> None:
    api = await start_api(ROUTES, **({"limits": limits} if limits else {}))
    client = await api.connect()
    parts = [char * size for size in fragments]
    await send_fragments(client, parts)
    body = "".join(parts)
    assert await client.receive_text() == str(len(body.encode()))
    [event] = api.record.events("$default")
    assert event["body"] == body
    # The connection stays open.
    await client.send_text("ok")
    assert await client.receive_text() == "2"


@pytest.mark.parametrize(("limits", "fragments", "char"), REFUSED)
async def test_over_the_limits_closes_with_1009(
    start_api: StartApi, limits: dict[str, int] | None, fragments: list[int], char: str
) -> None:
    # AWS: over the frame or the message size, the connection closes with 1009 [DOC].
    api = await start_api(ROUTES, **({"limits": limits} if limits else {}))
    client = await api.connect()
    await send_fragments(client, [char * size for size in fragments])
    code, reason = await client.wait_closed()
    assert code == 1009
    # UNKNOWN what $disconnect gets; the spec recommends the same code.
    assert await disconnected(api, client) == (1009, reason)
    assert api.record.events("$default") == []
    assert client.connection_id not in api.emulator.connection_ids()


async def test_an_oversize_message_closes_only_its_own_connection(start_api: StartApi) -> None:
    api = await start_api(ROUTES, limits=SMALL)
    offender, bystander = await api.connect(), await api.connect()
    await send_fragments(offender, ["a" * 2048])
    assert (await offender.wait_closed())[0] == 1009
    await bystander.send_text("x" * 1024)
    assert await bystander.receive_text() == "1024"


# --- integration timeout (spec §5) --------------------------------------------------------


@pytest.mark.usefixtures("gate")
async def test_integration_timeout_limit_and_a_routes_own_timeout(start_api: StartApi) -> None:
    # limits.integrationTimeout replaces AWS's 29 s for routes without their own timeout.
    api = await start_api(
        {
            "patient": {"handler": "limits_probe.waits", "routeResponse": True, "timeout": 5},
            "hasty": {"handler": "limits_probe.waits", "routeResponse": True},
        },
        limits={"integrationTimeout": 0.2},
    )
    client = await api.connect()
    loop = asyncio.get_running_loop()
    await client.send_json({"action": "patient"})
    sent_at = loop.time()
    await client.send_json({"action": "hasty"})
    frame = await client.receive_text()
    elapsed = loop.time() - sent_at
    # Only the route without a timeout of its own timed out, at the limit's deadline.
    [hasty] = api.record.invocations
    assert (hasty.route_key, hasty.outcome) == ("hasty", "timeout")
    request_id = hasty.event["requestContext"]["requestId"]
    assert frame == error_frame("Endpoint request timed out", client.connection_id, request_id)
    assert 0.19 <= elapsed < 2.5
    # "patient" has waited longer than 0.2 s and is still running: its 5 s apply.
    limits_probe.gate.set()
    assert await client.receive_text() == "released patient"
    [patient] = await api.record.wait_for_invocations("patient")
    assert patient.outcome == "ok"
    await api.stop()
    # The late result of "hasty" is never sent.
    assert api.record.sent_to(client.connection_id) == [frame, "released patient"]


async def test_past_the_limit_the_handler_finishes_and_its_posts_arrive(
    start_api: StartApi,
) -> None:
    # AWS stops waiting, the Lambda runs on and its PostToConnection calls work (spec §5).
    api = await start_api(
        {"$default": {"handler": "probe.post_late", "routeResponse": True}},
        limits={"integrationTimeout": 0.2},
    )
    client = await api.connect()
    await client.send_text("go")
    frame = await client.receive_json()
    [late] = api.record.invocations
    assert late.outcome == "timeout"
    assert frame == {
        "message": "Endpoint request timed out",
        "connectionId": client.connection_id,
        "requestId": late.event["requestContext"]["requestId"],
    }
    assert await client.receive_text() == "late post"
    await api.stop()  # waits for the handler to return: "too late" is never sent
    assert api.record.sent_to(client.connection_id, source="route-response") == []


@pytest.mark.usefixtures("gate")
async def test_integration_timeout_limit_applies_to_connect(start_api: StartApi) -> None:
    # UNKNOWN on AWS what a $connect timeout answers; the spec recommends 504.
    api = await start_api(
        {"$connect": "limits_probe.waits", "$disconnect": "probe.ok", "$default": "probe.ok"},
        limits={"integrationTimeout": 0.2},
    )
    assert await api.connect_rejected() == 504
    limits_probe.gate.set()
    await api.stop()
    assert [(i.route_key, i.outcome) for i in api.record.invocations] == [("$connect", "timeout")]


@pytest.mark.usefixtures("gate")
async def test_integration_timeout_limit_applies_to_the_authorizer(start_api: StartApi) -> None:
    # Spec §6.5: UNKNOWN; authorizers are recommended to run like integrations.
    api = await start_api(
        ROUTES,
        authorizer={"handler": "limits_probe.waits"},
        limits={"integrationTimeout": 0.2},
    )
    assert await api.connect_rejected() == 500
    limits_probe.gate.set()
    await api.stop()
    assert [(i.route_key, i.outcome) for i in api.record.invocations] == [
        ("$authorizer", "timeout")
    ]


@pytest.mark.parametrize(
    ("functions", "limits", "low", "high"),
    [
        pytest.param(None, None, 2000, 3000, id="lambda-default-3s"),
        pytest.param(None, {"integrationTimeout": 0.5}, 2000, 3000, id="wait-is-not-the-clock"),
        pytest.param({"timeout": 10}, None, 9000, 10000, id="declared-function"),
    ],
)
async def test_the_handler_sees_its_functions_timeout(
    start_api: StartApi,
    functions: dict[str, Any] | None,
    limits: dict[str, float] | None,
    low: int,
    high: int,
) -> None:
    """AWS: ``get_remaining_time_in_millis`` counts down the function's timeout,
    whatever API Gateway waits (lambda-runtime-spec §3.2)."""
    top: dict[str, Any] = {"limits": limits} if limits else {}
    route: dict[str, Any] = {"handler": "limits_probe.remaining"}
    if functions is not None:
        top["functions"] = {"fn": {"handler": "limits_probe.remaining", **functions}}
        route = {"function": "fn"}
    api = await start_api({"$default": {**route, "routeResponse": True}}, **top)
    client = await api.connect()
    await client.send_text("how long?")
    assert low <= int(await client.receive_text()) <= high


# --- PostToConnection's 128 KB (spec §4.1, §5) --------------------------------------------


def management_client(api: Harness) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=api.management_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )


async def test_post_over_128_kb_is_413(start_api: StartApi) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    boto = management_client(api)
    with pytest.raises(boto.exceptions.PayloadTooLargeException) as raised:
        await asyncio.to_thread(
            boto.post_to_connection, ConnectionId=client.connection_id, Data=b"a" * 131073
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Nothing was sent, the connection is still open, and 128 KB exactly goes through.
    await asyncio.to_thread(
        boto.post_to_connection, ConnectionId=client.connection_id, Data=b"b" * 131072
    )
    assert await client.receive_text() == "b" * 131072


# --- URL length (spec §5) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "status"),
    [
        pytest.param(4000, None, id="4000-accepted"),
        pytest.param(4200, 414, id="4200-refused"),
    ],
)
async def test_url_length(start_api: StartApi, length: int, status: int | None) -> None:
    # AWS quota: 4096 characters for a WebSocket API URL (414 is INFER).
    api = await start_api(ROUTES, stage="dev")
    prefix = "/dev?q="
    path = prefix + "x" * (length - len(prefix))
    assert len(path) == length
    if status is None:
        await api.connect(path=path)
        [connect] = api.record.events("$connect")
        assert connect["queryStringParameters"] == {"q": "x" * (length - len(prefix))}
        return
    assert await api.connect_rejected(path=path) == status
    await api.stop()
    assert api.record.invocations == []


# --- idle timeout and maximum duration, on the real clock (spec §5, §3.3) -------------------


@pytest.mark.parametrize(
    ("limits", "lasts"),
    [
        pytest.param({"idleTimeout": 0.3}, 0.3, id="idle"),
        pytest.param({"maxConnectionDuration": 0.3}, 0.3, id="max-duration-of-a-quiet-one"),
        pytest.param({"idleTimeout": 0.3, "maxConnectionDuration": 5}, 0.3, id="idle-before-max"),
        pytest.param({"idleTimeout": 5, "maxConnectionDuration": 0.3}, 0.3, id="max-before-idle"),
    ],
)
async def test_timers_close_going_away(
    start_api: StartApi, limits: dict[str, float], lasts: float
) -> None:
    # AWS: 1001 "Going away" to the client and to $disconnect (spec §3.3).
    api = await start_api(ROUTES, limits=limits)
    loop = asyncio.get_running_loop()
    started = loop.time()
    client = await api.connect()
    assert await client.wait_closed() == GOING_AWAY
    assert loop.time() - started >= lasts
    assert await disconnected(api, client) == GOING_AWAY


async def test_a_busy_connection_still_ends_at_the_maximum_duration(start_api: StartApi) -> None:
    # Messages reset the idle timer, never the 2-hour one (spec §5).
    api = await start_api(ROUTES, limits={"idleTimeout": 0.3, "maxConnectionDuration": 0.9})
    loop = asyncio.get_running_loop()
    # Late in the suite, a full collection of this process's heap (client and
    # server both) takes about 0.3 s: to the server, a client idle that long.
    gc.collect()
    gc.disable()
    try:
        started = loop.time()
        client = await api.connect()
        exchanged = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await client.connection.send("ping")
                assert await asyncio.wait_for(client.connection.recv(), 5) == "4"
                exchanged += 1
        lasted = loop.time() - started
    finally:
        gc.enable()
    assert await client.wait_closed() == GOING_AWAY
    assert lasted >= 0.9  # well past the idle timeout: activity kept it open
    assert exchanged > 1
    assert await disconnected(api, client) == GOING_AWAY
