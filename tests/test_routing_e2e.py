"""Messages through a live server: route selection, replies, error frames (spec §3.2)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection

from tests.conftest import StartApi, handler_module

route_probe = handler_module("route_probe")

# The document of AWS's examples (DG:apigateway-websocket-api-selection-expressions).
CHAT = {"service": "chat", "action": "join", "data": {"room": "room1234"}}
# An OCPP-style array message (aws/serverless-application-model#1709).
OCPP = [2, "48", "StatusNotification", {}]

TWO_WAY_ROUTE_KEY = {"handler": "probe.route_key", "routeResponse": True}
TWO_WAY_ECHO = {"handler": "probe.echo", "routeResponse": True}
# AWS: every id is 16 characters of URL-safe base64 ending in "=" (spec §2.7).
ID = r"[A-Za-z0-9_-]{15}="


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """AWS's error frame, byte for byte, irregular spacing included (spec §3.2.5)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


def forbidden_pattern(connection_id: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(f'{{"message": "Forbidden", "connectionId":"{connection_id}", "requestId":"')
        + f"({ID})"
        + re.escape('"}')
    )


async def receive_any(connection: ClientConnection, timeout: float = 5.0) -> str | bytes:
    """One message, text or binary."""
    try:
        return await asyncio.wait_for(connection.recv(), timeout)
    except TimeoutError:
        raise AssertionError(f"nothing received within {timeout} s") from None


# --- route selection (spec §3.2.1, §3.2.2) -------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("$request.body.action", "join", id="unbraced"),
        pytest.param("${request.body.action}", "join", id="braced"),
        pytest.param("${request.body.service}/${request.body.action}", "chat/join", id="two-vars"),
        pytest.param("${request.body.action}-${request.body.invalidPath}", "join-", id="missing"),
        pytest.param("action", "action", id="static"),
        pytest.param(r"\$default", "$default", id="escaped-dollar"),
        pytest.param("$request.body.data.room", "room1234", id="nested-path"),
    ],
)
async def test_documented_expressions_route_through_the_server(
    start_api: StartApi, expression: str, expected: str
) -> None:
    # AWS: the documented results for the chat document (spec §3.2.1).
    api = await start_api(
        {expected: TWO_WAY_ROUTE_KEY, "$default": TWO_WAY_ROUTE_KEY},
        routeSelectionExpression=expression,
    )
    client = await api.connect()
    await client.send_json(CHAT)
    assert await client.receive_text() == expected
    assert [e["requestContext"]["routeKey"] for e in api.record.events()] == [expected]


async def test_array_index_selects_the_route(start_api: StartApi) -> None:
    # AWS: "any JSON path expression after request.body" (spec §3.2.1), e.g. OCPP arrays.
    api = await start_api(
        {"StatusNotification": TWO_WAY_ROUTE_KEY, "$default": TWO_WAY_ROUTE_KEY},
        routeSelectionExpression="$request.body[2]",
    )
    client = await api.connect()
    await client.send_json(OCPP)
    assert await client.receive_text() == "StatusNotification"
    await client.send_json([2, "49", "Heartbeat", {}])
    assert await client.receive_text() == "$default"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("hello", id="plain-text"),
        pytest.param('{"action": "join"', id="truncated-json"),
        pytest.param("", id="empty"),
        pytest.param("{'action': 'join'}", id="single-quotes"),
        pytest.param('{"action": "join", "n": NaN}', id="nan-is-not-json"),
        pytest.param(json.dumps({"action": "leave"}), id="json-no-match"),
        pytest.param(json.dumps({"other": "join"}), id="json-no-field"),
        pytest.param(json.dumps(["join"]), id="json-array"),
        pytest.param('"join"', id="json-string"),
    ],
)
async def test_unmatched_messages_go_to_default(start_api: StartApi, body: str) -> None:
    # AWS: "Non-JSON messages are directed to a $default route", and so is JSON with no
    # exactly matching route (spec §3.2.2).
    api = await start_api({"join": TWO_WAY_ROUTE_KEY, "$default": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    await client.send_text(body)
    assert await client.receive_text() == "$default"
    assert api.record.events("$default")[0]["body"] == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps({"action": "leave"}), id="json-no-match"),
        pytest.param("not json", id="not-json"),
    ],
)
async def test_no_route_and_no_default_sends_forbidden(start_api: StartApi, body: str) -> None:
    # AWS: the exact frame, irregular spacing included; the connection stays open (§3.2.2).
    api = await start_api({"join": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    await client.send_text(body)
    frame = await client.receive_text()
    assert forbidden_pattern(client.connection_id).fullmatch(frame), frame
    assert api.record.invocations == []
    # Still open: a matching message is routed and answered.
    await client.send_json({"action": "join"})
    assert await client.receive_text() == "join"


async def test_forbidden_request_ids_differ(start_api: StartApi) -> None:
    api = await start_api({"join": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    pattern = forbidden_pattern(client.connection_id)
    request_ids = []
    for _ in range(2):
        await client.send_json({"action": "nope"})
        match = pattern.fullmatch(await client.receive_text())
        assert match is not None
        request_ids.append(match.group(1))
    assert request_ids[0] != request_ids[1]


@pytest.mark.parametrize(
    ("action", "reply"),
    [
        pytest.param("sendMessage", "sendMessage", id="exact"),
        pytest.param("sendmessage", "$default", id="lowercase"),
        pytest.param("SENDMESSAGE", "$default", id="uppercase"),
        pytest.param("sendMessage ", "$default", id="trailing-space"),
    ],
)
async def test_route_keys_are_case_sensitive(start_api: StartApi, action: str, reply: str) -> None:
    # AWS: keys must match exactly (aws-samples/simple-websockets-chat-app#19).
    api = await start_api({"sendMessage": TWO_WAY_ROUTE_KEY, "$default": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    await client.send_json({"action": action})
    assert await client.receive_text() == reply


async def test_case_mismatch_without_default_is_forbidden(start_api: StartApi) -> None:
    api = await start_api({"sendMessage": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    await client.send_json({"action": "sendmessage"})
    assert forbidden_pattern(client.connection_id).fullmatch(await client.receive_text())


LIFECYCLE = {"$connect": "probe.ok", "$disconnect": "probe.ok"}


@pytest.mark.parametrize("action", ["$connect", "$disconnect"])
async def test_messages_never_reach_lifecycle_routes(start_api: StartApi, action: str) -> None:
    # Recommended (spec §3.2.2): an expression yielding $connect/$disconnect routes like
    # any unmatched key.
    api = await start_api({**LIFECYCLE, "$default": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    await client.send_json({"action": action})
    assert await client.receive_text() == "$default"
    assert [i.route_key for i in api.record.invocations] == ["$connect", "$default"]


@pytest.mark.parametrize("action", ["$connect", "$disconnect"])
async def test_lifecycle_keys_without_default_are_forbidden(
    start_api: StartApi, action: str
) -> None:
    api = await start_api(dict(LIFECYCLE))
    client = await api.connect()
    await client.send_json({"action": action})
    assert forbidden_pattern(client.connection_id).fullmatch(await client.receive_text())
    assert [i.route_key for i in api.record.invocations] == ["$connect"]


async def test_ping_is_answered_and_not_routed(start_api: StartApi) -> None:
    # AWS: only data messages are routed (spec §2.5); any RFC 6455 server answers pings.
    api = await start_api({"$default": TWO_WAY_ROUTE_KEY})
    client = await api.connect()
    pong = await client.connection.ping(b"are you there")
    await asyncio.wait_for(pong, 5)
    await client.send_text("data")
    assert await client.receive_text() == "$default"
    assert [i.event["body"] for i in api.record.invocations] == ["data"]


# --- concurrency (spec §3.2.6) -------------------------------------------------------------


@pytest.fixture
async def gates() -> AsyncIterator[None]:
    """Blocking route_probe handlers block until the test ends (or opens them)."""
    route_probe.close_gates()
    try:
        yield
    finally:
        route_probe.open_gates()


@pytest.mark.usefixtures("gates")
@pytest.mark.parametrize("handler", ["route_probe.blocks", "route_probe.async_blocks"])
async def test_a_blocked_handler_delays_nothing_else(start_api: StartApi, handler: str) -> None:
    # AWS: each message is its own invocation; responses are asynchronous (spec §3.2.6).
    api = await start_api(
        {"block": {"handler": handler, "routeResponse": True}, "$default": TWO_WAY_ECHO}
    )
    first = await api.connect()
    second = await api.connect()
    await first.send_json({"action": "block"})
    assert await first.receive_text() == "blocked"  # the handler is running, and blocked
    # Same connection, then another one: both answered while it stays blocked.
    await first.send_text("same connection")
    assert await first.receive_text() == "same connection"
    await second.send_text("other connection")
    assert await second.receive_text() == "other connection"
    route_probe.open_gates()
    assert await first.receive_text() == "released"


@pytest.mark.usefixtures("gates")
async def test_blocked_handlers_run_side_by_side(start_api: StartApi) -> None:
    api = await start_api({"$default": {"handler": "route_probe.blocks", "routeResponse": True}})
    client = await api.connect()
    for _ in range(3):
        await client.send_text("block")
    # Three threads blocked at once: all three said so before any was released.
    assert [await client.receive_text() for _ in range(3)] == ["blocked"] * 3
    route_probe.open_gates()
    assert [await client.receive_text() for _ in range(3)] == ["released"] * 3


# --- one-way and two-way (spec §3.2.4) -----------------------------------------------------


async def test_one_way_route_drops_the_result(start_api: StartApi) -> None:
    # AWS: on a proxy route without a route response "the body ... will not be returned".
    api = await start_api(
        {"oneway": {"handler": "probe.echo", "routeResponse": False}, "$default": TWO_WAY_ECHO}
    )
    client = await api.connect()
    await client.send_json({"action": "oneway"})
    # Its result is known (and would already be sent) once the invocation is recorded.
    [oneway] = await api.record.wait_for_invocations("oneway")
    assert oneway.outcome == "ok"
    await client.send_text("two-way")
    assert await client.receive_text() == "two-way"
    assert api.record.sent_to(client.connection_id) == ["two-way"]


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        pytest.param("probe.echo", "hello", id="body"),
        pytest.param("probe.async_echo", "hello", id="async-body"),
        # statusCode is ignored for delivery (yai333/React-Chat-App#2).
        pytest.param("route_probe.status_500", "oops", id="500-delivered"),
        # An empty frame without a body (serverless/serverless#6816).
        pytest.param("probe.ok", "", id="no-body-empty-frame"),
        # UNKNOWN on AWS; recommended: an empty frame, as for a missing body (spec §3.2.5).
        pytest.param("probe.nothing", "", id="None-empty-frame"),
        # UNKNOWN on AWS; recommended: decode and send a binary frame (spec §3.2.4).
        pytest.param("route_probe.base64_body", route_probe.BINARY, id="base64-binary"),
    ],
)
async def test_two_way_route_sends_the_body(
    start_api: StartApi, handler: str, expected: str | bytes
) -> None:
    api = await start_api({"$default": {"handler": handler, "routeResponse": True}})
    client = await api.connect()
    await client.send_text("hello")
    received = await receive_any(client.connection)
    assert received == expected
    assert type(received) is type(expected)
    assert api.record.sent_to(client.connection_id) == [expected]


# --- integration failures (spec §3.2.5) ----------------------------------------------------

FAILING = [
    pytest.param("probe.boom", id="raises"),
    pytest.param("probe.async_boom", id="async-raises"),
    pytest.param("probe.exits", id="sys-exit"),
    pytest.param("probe.async_exits", id="async-KeyboardInterrupt"),
    pytest.param("probe.malformed", id="extra-keys"),
    pytest.param("probe.not_a_dict", id="not-a-dict"),
    pytest.param("route_probe.body_not_a_string", id="body-not-a-string"),
    pytest.param("route_probe.status_not_int", id="statusCode-not-int"),
]


@pytest.mark.parametrize("two_way", [False, True], ids=["one-way", "two-way"])
@pytest.mark.parametrize("handler", FAILING)
async def test_failure_sends_internal_server_error(
    start_api: StartApi, handler: str, two_way: bool
) -> None:
    # AWS: the same frame on one- and two-way routes; the connection stays open.
    api = await start_api(
        {"fail": {"handler": handler, "routeResponse": two_way}, "$default": TWO_WAY_ECHO}
    )
    client = await api.connect()
    await client.send_json({"action": "fail"})
    frame = await client.receive_text()
    [event] = api.record.events("fail")
    request_id = event["requestContext"]["requestId"]
    assert frame == error_frame("Internal server error", client.connection_id, request_id)
    assert re.fullmatch(ID, request_id)
    # The connection stays open and the server keeps serving.
    await client.send_text("still open")
    assert await client.receive_text() == "still open"
    other = await api.connect()
    await other.send_text("new connection")
    assert await other.receive_text() == "new connection"


@pytest.mark.usefixtures("gates")
@pytest.mark.parametrize("two_way", [False, True], ids=["one-way", "two-way"])
@pytest.mark.parametrize("handler", ["route_probe.waits", "route_probe.async_waits"])
async def test_timeout_sends_endpoint_request_timed_out(
    start_api: StartApi, handler: str, two_way: bool
) -> None:
    # AWS: the frame's prefix is observed (bedrock-chat), the rest inferred (spec §3.2.5).
    api = await start_api(
        {
            "slow": {"handler": handler, "routeResponse": two_way, "timeout": 0.2},
            "$default": TWO_WAY_ECHO,
        }
    )
    client = await api.connect()
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await client.send_json({"action": "slow"})
    frame = await client.receive_text()
    elapsed = loop.time() - sent_at
    [slow] = api.record.invocations
    assert slow.outcome == "timeout"
    request_id = slow.event["requestContext"]["requestId"]
    assert frame == error_frame("Endpoint request timed out", client.connection_id, request_id)
    assert 0.19 <= elapsed < 1.5  # at the deadline, while the handler is still blocked
    await client.send_text("still open")
    assert await client.receive_text() == "still open"
    # Released after the deadline, its result goes nowhere.
    route_probe.open_gates()
    await api.stop()
    assert api.record.sent_to(client.connection_id) == [frame, "still open"]


async def test_a_handler_past_its_timeout_can_still_post(start_api: StartApi) -> None:
    # AWS stops waiting at the timeout, the Lambda runs on and its posts arrive (spec §5).
    api = await start_api(
        {"$default": {"handler": "probe.post_late", "routeResponse": True, "timeout": 0.2}}
    )
    client = await api.connect()
    await client.send_text("go")
    [late] = await api.record.wait_for_invocations("$default")
    request_id = late.event["requestContext"]["requestId"]
    assert await client.receive_text() == error_frame(
        "Endpoint request timed out", client.connection_id, request_id
    )
    assert await client.receive_text() == "late post"
    await api.stop()  # waits for the background handler to return
    # Its return value ("too late") is never sent.
    assert api.record.sent_to(client.connection_id) == [
        error_frame("Endpoint request timed out", client.connection_id, request_id),
        "late post",
    ]


async def test_many_messages_each_get_a_reply(start_api: StartApi) -> None:
    api = await start_api({"$default": TWO_WAY_ECHO})
    client = await api.connect()
    bodies = [f"message {n}" for n in range(20)]
    for body in bodies:
        await client.send_text(body)
    # AWS does not promise order (spec §3.2.6): compare as sets.
    received = [await client.receive_text() for _ in bodies]
    assert sorted(received) == sorted(bodies)
