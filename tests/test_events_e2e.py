"""The events handlers receive, through the real server and the real websockets client (spec §2).

Each test captures events with tiny handlers (``probe.ok``, ``probe.echo``) and
reads them from ``api.record``. Typed parsers written for real AWS events
(Powertools' Pydantic models) must accept every captured event.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.asyncio.client import connect as ws_connect
from websockets.http11 import USER_AGENT

from emulator.tools.testing import Harness
from tests.aws_shapes import COMMON_CONTEXT
from tests.conftest import StartApi

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
    "sendmessage": {"handler": "probe.echo", "routeResponse": True},
}

# AWS ids: URL-safe base64 of 11 bytes, 16 characters ending in '=' (spec §2.7).
ID = re.compile(r"[A-Za-z0-9_-]{15}=")
API_ID = re.compile(r"[a-z0-9]{10}")
# CLF, always UTC (spec §2.1).
CLF = re.compile(
    r"\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000"
)
TRACE = re.compile(r"Root=1-([0-9a-f]{8})-[0-9a-f]{24}")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

CONNECT_KEYS = ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"]
CONNECT_QUERY_KEYS = [
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "requestContext",
    "isBase64Encoded",
]
MESSAGE_KEYS = ["requestContext", "body", "isBase64Encoded"]
DISCONNECT_KEYS = ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def clf_from_epoch_ms(ms: int) -> str:
    """An independent CLF formatter, to check ``requestTime`` against ``requestTimeEpoch``."""
    t = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


async def start(start_api: StartApi, **routes: Any) -> Harness:
    return await start_api({**ROUTES, **routes}, stage="dev")


async def connect_event(api: Harness) -> dict[str, Any]:
    (invocation,) = await api.record.wait_for_invocations("$connect", 1)
    return invocation.event


async def lifecycle(api: Harness, **connect: Any) -> tuple[str, list[dict[str, Any]]]:
    """Connect, send one custom-route and one $default message, close with 4001:
    the connection id and the four events, in order."""
    client = await api.connect(**connect)
    await client.send_json({"action": "sendmessage", "text": "hi"})
    assert await client.receive_text() == '{"action": "sendmessage", "text": "hi"}'
    await client.send_text("not json")
    assert await client.receive_text() == "not json"
    await client.close(4001, "bye")
    await api.record.wait_for_invocations("$disconnect", 1)
    return client.connection_id, [i.event for i in api.record.invocations]


# CONNECT: top-level keys and the query string (spec §2.2)


async def test_connect_event_without_query_string_has_no_query_keys(start_api: StartApi) -> None:
    api = await start(start_api)
    await api.connect()
    event = await connect_event(api)
    # AWS: no body, and no query keys at all without a query string (spec §2.2).
    assert list(event) == CONNECT_KEYS
    assert event["isBase64Encoded"] is False


QUERY_CASES = [
    pytest.param("?a=1", {"a": "1"}, {"a": ["1"]}, id="one"),
    pytest.param(
        "?a=1&b=2&a=3", {"a": "3", "b": "2"}, {"a": ["1", "3"], "b": ["2"]}, id="repeated"
    ),
    pytest.param(
        "?name=hello+world&sym=a%26b%3Dc",
        {"name": "hello world", "sym": "a&b=c"},
        {"name": ["hello world"], "sym": ["a&b=c"]},
        id="url-decoded",
    ),
    pytest.param("?flag=", {"flag": ""}, {"flag": [""]}, id="blank-value"),
    pytest.param("/?token=x", {"token": "x"}, {"token": ["x"]}, id="trailing-slash"),
]


@pytest.mark.parametrize(("suffix", "single", "multi"), QUERY_CASES)
async def test_connect_event_query_string(
    start_api: StartApi, suffix: str, single: dict[str, str], multi: dict[str, list[str]]
) -> None:
    api = await start(start_api)
    await api.connect(path=f"/dev{suffix}")
    event = await connect_event(api)
    # AWS: last value per key, and all values (spec §2.2, "Query string").
    assert list(event) == CONNECT_QUERY_KEYS
    assert event["queryStringParameters"] == single
    assert event["multiValueQueryStringParameters"] == multi


# CONNECT: headers (spec §2.2 rules 1-5)


async def test_connect_event_forwards_client_headers_with_aws_additions(
    start_api: StartApi,
) -> None:
    api = await start(start_api)
    before = now_ms()
    await api.connect(
        headers=[
            ("X-Custom-Header", "custom"),
            ("x-lower-case", "lower"),
            ("X-Repeat", "one"),
            ("X-Repeat", "two"),
        ]
    )
    after = now_ms()
    event = await connect_event(api)
    headers, multi = event["headers"], event["multiValueHeaders"]
    port = api.emulator.port

    # Rule 1: everything the client sent but the hop-by-hop headers; rule 2: its casing.
    assert set(headers) == {
        "Host",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "X-Custom-Header",
        "x-lower-case",
        "X-Repeat",
        "User-Agent",
        "X-Amzn-Trace-Id",
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
    }
    assert not {name.lower() for name in headers} & {"connection", "upgrade"}
    assert headers["Host"] == f"127.0.0.1:{port}"
    assert headers["Sec-WebSocket-Version"] == "13"
    assert headers["User-Agent"] == USER_AGENT
    assert (headers["X-Custom-Header"], headers["x-lower-case"]) == ("custom", "lower")
    # Rule 3, locally: the client address, the real port, plain http.
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Port"] == str(port)
    assert headers["X-Forwarded-Proto"] == "http"
    trace = TRACE.fullmatch(headers["X-Amzn-Trace-Id"])
    assert trace is not None, headers["X-Amzn-Trace-Id"]
    assert before // 1000 <= int(trace.group(1), 16) <= after // 1000
    # Rule 4: last value in headers, all values in multiValueHeaders.
    assert headers["X-Repeat"] == "two"
    assert multi["X-Repeat"] == ["one", "two"]
    assert set(multi) == set(headers)
    assert all(multi[name] == [value] for name, value in headers.items() if name != "X-Repeat")


async def test_connect_trace_ids_differ_per_connection(start_api: StartApi) -> None:
    api = await start(start_api)
    await api.connect()
    await api.connect()
    events = [i.event for i in await api.record.wait_for_invocations("$connect", 2)]
    first, second = (e["headers"]["X-Amzn-Trace-Id"] for e in events)
    assert first != second


async def test_connect_forwards_the_requested_subprotocols(start_api: StartApi) -> None:
    api = await start(start_api, **{"$connect": "probe.subprotocol"})
    client = await api.connect(subprotocols=["chat", "myprotocol"])
    event = await connect_event(api)
    # Rule 5: Sec-WebSocket-Protocol is forwarded like any other header.
    assert event["headers"]["Sec-WebSocket-Protocol"] == "chat, myprotocol"
    assert event["multiValueHeaders"]["Sec-WebSocket-Protocol"] == ["chat, myprotocol"]
    assert client.connection.subprotocol == "myprotocol"


# requestContext fields and formats (spec §2.1, §2.6, §2.7)


async def test_connect_request_context_fields(start_api: StartApi) -> None:
    api = await start(start_api)
    before = now_ms()
    client = await api.connect()
    after = now_ms()
    context = (await connect_event(api))["requestContext"]

    assert set(context) == COMMON_CONTEXT
    assert (context["routeKey"], context["eventType"]) == ("$connect", "CONNECT")
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "dev"
    assert context["connectionId"] == client.connection_id
    assert ID.fullmatch(context["connectionId"])
    assert ID.fullmatch(context["requestId"])
    assert context["extendedRequestId"] == context["requestId"]
    assert API_ID.fullmatch(context["apiId"])
    assert context["apiId"] == api.emulator.api_id
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert context["identity"] == {"userAgent": USER_AGENT, "sourceIp": "127.0.0.1"}
    # Epoch milliseconds, as ints; on CONNECT requestTimeEpoch is connectedAt + a few ms.
    assert type(context["connectedAt"]) is int
    assert type(context["requestTimeEpoch"]) is int
    assert before <= context["connectedAt"] <= context["requestTimeEpoch"] <= after
    assert context["requestTimeEpoch"] - context["connectedAt"] <= 100
    assert CLF.fullmatch(context["requestTime"])
    assert context["requestTime"] == clf_from_epoch_ms(context["requestTimeEpoch"])


async def test_connection_ids_are_unique_api_id_shared(start_api: StartApi) -> None:
    api = await start(start_api)
    clients = [await api.connect() for _ in range(3)]
    events = [i.event for i in await api.record.wait_for_invocations("$connect", 3)]
    contexts = [e["requestContext"] for e in events]
    assert [c["connectionId"] for c in contexts] == [c.connection_id for c in clients]
    assert len({c["connectionId"] for c in contexts}) == 3
    assert len({c["requestId"] for c in contexts}) == 3
    assert {c["apiId"] for c in contexts} == {api.emulator.api_id}


async def test_lifecycle_events_share_connection_fields(start_api: StartApi) -> None:
    api = await start(start_api)
    before = now_ms()
    connection_id, events = await lifecycle(api)
    after = now_ms()
    contexts = [e["requestContext"] for e in events]
    assert [c["eventType"] for c in contexts] == ["CONNECT", "MESSAGE", "MESSAGE", "DISCONNECT"]
    # AWS: connectedAt and identity are the same in every event of a connection (spec §2.1).
    assert len({c["connectedAt"] for c in contexts}) == 1
    assert all(c["identity"] == contexts[0]["identity"] for c in contexts)
    assert {c["connectionId"] for c in contexts} == {connection_id}
    assert {c["stage"] for c in contexts} == {"dev"}
    assert {c["apiId"] for c in contexts} == {api.emulator.api_id}
    assert {c["messageDirection"] for c in contexts} == {"IN"}
    # requestId: new per event, and extendedRequestId equals it.
    assert len({c["requestId"] for c in contexts}) == 4
    assert all(c["extendedRequestId"] == c["requestId"] for c in contexts)
    assert all(ID.fullmatch(c["requestId"]) for c in contexts)
    # requestTimeEpoch: this event's time, in order, after the connect.
    times = [c["requestTimeEpoch"] for c in contexts]
    assert before <= contexts[0]["connectedAt"] <= times[0]
    assert times == sorted(times)
    assert times[-1] <= after
    assert all(c["requestTime"] == clf_from_epoch_ms(c["requestTimeEpoch"]) for c in contexts)
    assert all(e["isBase64Encoded"] is False for e in events)


async def test_message_events(start_api: StartApi) -> None:
    api = await start(start_api)
    _, events = await lifecycle(api, query={"q": "1"})
    custom, default = events[1], events[2]
    # AWS: MESSAGE events carry no headers and no query string, even when the
    # connection was opened with one (spec §2.3).
    assert list(custom) == MESSAGE_KEYS
    assert list(default) == MESSAGE_KEYS
    assert custom["body"] == '{"action": "sendmessage", "text": "hi"}'
    assert default["body"] == "not json"
    for event, route_key in ((custom, "sendmessage"), (default, "$default")):
        context = event["requestContext"]
        assert set(context) == COMMON_CONTEXT | {"messageId"}
        assert (context["routeKey"], context["eventType"]) == (route_key, "MESSAGE")
        assert ID.fullmatch(context["messageId"])
    message_ids = {e["requestContext"]["messageId"] for e in (custom, default)}
    assert len(message_ids) == 2


async def test_disconnect_event(start_api: StartApi) -> None:
    api = await start(start_api)
    _, events = await lifecycle(api)
    event = events[-1]
    domain = api.emulator.domain_name
    # AWS: a fixed, odd header set rather than the client's headers (spec §2.4).
    assert list(event) == DISCONNECT_KEYS
    assert event["headers"] == {
        "Host": domain,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"] == {
        "Host": [domain],
        "x-api-key": [""],
        "X-Forwarded-For": [""],
        "x-restapi": [""],
    }
    context = event["requestContext"]
    assert set(context) == COMMON_CONTEXT | {"disconnectStatusCode", "disconnectReason"}
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    # AWS: the code (and reason) the client's close frame carried (spec §3.3).
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4001, "bye")


async def test_no_user_agent_header_means_no_identity_user_agent(start_api: StartApi) -> None:
    api = await start(start_api)
    # The harness's client always sends User-Agent; open one that does not.
    async with asyncio.timeout(5):
        async with ws_connect(api.url, user_agent_header=None, compression=None) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
    await api.record.wait_for_invocations("$disconnect", 1)
    events = [i.event for i in api.record.invocations]
    assert [e["requestContext"]["eventType"] for e in events] == [
        "CONNECT",
        "MESSAGE",
        "DISCONNECT",
    ]
    # AWS: identity.userAgent only when the client sent the header (spec §2.1).
    assert all(e["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"} for e in events)
    assert "User-Agent" not in events[0]["headers"]


# Typed parsers built for real AWS events (spec §9 item 2)

PARSERS = [
    pytest.param(0, APIGatewayWebSocketConnectEventModel, id="connect"),
    pytest.param(1, APIGatewayWebSocketMessageEventModel, id="message-custom-route"),
    pytest.param(2, APIGatewayWebSocketMessageEventModel, id="message-default"),
    pytest.param(3, APIGatewayWebSocketDisconnectEventModel, id="disconnect"),
]


@pytest.mark.parametrize(("index", "model"), PARSERS)
async def test_powertools_models_parse_the_events(
    start_api: StartApi, index: int, model: Any
) -> None:
    api = await start(start_api)
    before = datetime.now(UTC)
    connection_id, events = await lifecycle(api)
    # A Lambda receives the event as JSON.
    event = json.loads(json.dumps(events[index]))
    parsed = model.model_validate(event)
    context = parsed.request_context
    assert context.connection_id == connection_id
    assert context.request_id == event["requestContext"]["requestId"]
    assert str(context.identity.source_ip) == "127.0.0.1/32"
    assert context.identity.user_agent == USER_AGENT
    # Parsed as epoch milliseconds: a datetime of this very moment, not of 1970 or 50000 AD.
    assert abs((context.connected_at - before).total_seconds()) < 5
    assert abs((context.request_time_epoch - before).total_seconds()) < 5
    assert round(context.connected_at.timestamp() * 1000) == event["requestContext"]["connectedAt"]


async def test_powertools_models_parse_the_message_fields(start_api: StartApi) -> None:
    api = await start(start_api)
    _, events = await lifecycle(api)
    message = APIGatewayWebSocketMessageEventModel.model_validate(events[1])
    disconnect = APIGatewayWebSocketDisconnectEventModel.model_validate(events[3])
    assert message.body == '{"action": "sendmessage", "text": "hi"}'
    assert message.request_context.message_id == events[1]["requestContext"]["messageId"]
    assert message.request_context.route_key == "sendmessage"
    assert disconnect.request_context.disconnect_status_code == 4001
