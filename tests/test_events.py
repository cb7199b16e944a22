"""The pure event builders (emulator/events.py), table-driven, without an event loop.

Where a builder copies AWS, the expected value is a real capture quoted by the
spec (§2.2-2.4), rebuilt from its inputs and compared key by key, in order.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from emulator.gateway.events import (
    ConnectionInfo,
    clf_time,
    connect_event,
    disconnect_event,
    iso_time,
    message_event,
    multi_value,
)
from tests.aws_shapes import COMMON_CONTEXT

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def epoch_ms(year: int, month: int, day: int, h: int = 0, m: int = 0, s: int = 0) -> int:
    return calendar.timegm((year, month, day, h, m, s, 0, 0, 0)) * 1000


def info(**overrides: Any) -> ConnectionInfo:
    fields: dict[str, Any] = {
        "connection_id": "R1kmxc2VNjMCFIA=",
        "connected_at": 1705751697419,
        "source_ip": "49.105.91.154",
        "user_agent": "Mozilla/5.0",
        "domain_name": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
        "api_id": "dl7ptocha9",
        "stage": "prod",
    }
    fields.update(overrides)
    return ConnectionInfo(**fields)


def connect(
    headers: Sequence[tuple[str, str]] = (("Host", "h"),),
    query: Sequence[tuple[str, str]] | None = None,
    stage_variables: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    connection = kwargs.pop("info", info())
    if stage_variables is not None:
        connection = replace(connection, stage_variables=stage_variables)
    return connect_event(
        connection,
        headers=headers,
        query=query,
        request_id="R1knPH17NjMFftw=",
        request_time_ms=1705751697425,
        **kwargs,
    )


def message(**kwargs: Any) -> dict[str, Any]:
    return message_event(
        kwargs.pop("info", info()),
        route_key="$default",
        body="{}",
        message_id="R1knPc2ntjMCFIA=",
        request_id="R1knPH17NjMFftw=",
        request_time_ms=1705751700453,
    )


def disconnect(**kwargs: Any) -> dict[str, Any]:
    return disconnect_event(
        kwargs.pop("info", info()),
        status_code=1001,
        reason="Going away",
        request_id="R1koeHsUtjMFbRw=",
        request_time_ms=1705751708326,
    )


def same_json(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal values *and* the same key order at every level."""
    return json.dumps(actual) == json.dumps(expected)


# clf_time: `dd/MMM/yyyy:HH:mm:ss +0000`, always UTC (spec §2.1, §2.8)

CLF_CASES = [
    pytest.param(1705751700453, "20/Jan/2024:11:55:00 +0000", id="capture-aws-lambda-go"),
    pytest.param(1731324924561, "11/Nov/2024:11:35:24 +0000", id="capture-powertools"),
    pytest.param(1708326702790, "19/Feb/2024:07:11:42 +0000", id="capture-firefox"),
    pytest.param(0, "01/Jan/1970:00:00:00 +0000", id="epoch"),
    pytest.param(epoch_ms(2024, 2, 29, 23, 59, 59) + 999, "29/Feb/2024:23:59:59 +0000", id="leap"),
    pytest.param(epoch_ms(2023, 12, 31, 23, 59, 59) + 999, "31/Dec/2023:23:59:59 +0000", id="eoy"),
    pytest.param(epoch_ms(2100, 3, 1), "01/Mar/2100:00:00:00 +0000", id="year-2100"),
    *(
        pytest.param(epoch_ms(2025, n, 5, 3, 4, 5), f"05/{name}/2025:03:04:05 +0000", id=name)
        for n, name in enumerate(MONTHS, start=1)
    ),
]


@pytest.mark.parametrize(("ms", "expected"), CLF_CASES)
def test_clf_time(ms: int, expected: str) -> None:
    assert clf_time(ms) == expected


def test_clf_time_is_right_whatever_was_formatted_before() -> None:
    # clf_time caches the last second it formatted: going back, forward, and
    # within one second must all still give the right text.
    base = epoch_ms(2024, 1, 20, 11, 55, 0)
    sequence = [base + 453, base + 1000, base + 999, base, base + 61_000, base - 1, base + 1999]
    expected = [
        "20/Jan/2024:11:55:00 +0000",
        "20/Jan/2024:11:55:01 +0000",
        "20/Jan/2024:11:55:00 +0000",
        "20/Jan/2024:11:55:00 +0000",
        "20/Jan/2024:11:56:01 +0000",
        "20/Jan/2024:11:54:59 +0000",
        "20/Jan/2024:11:55:01 +0000",
    ]
    assert [clf_time(ms) for ms in sequence] == expected


# iso_time: GetConnection's ISO 8601 with milliseconds (spec §4.2)

ISO_CASES = [
    pytest.param(1643136604673, "2022-01-25T18:50:04.673Z", id="ms"),
    pytest.param(0, "1970-01-01T00:00:00.000Z", id="epoch"),
    pytest.param(1705751700005, "2024-01-20T11:55:00.005Z", id="ms-zero-padded"),
    pytest.param(epoch_ms(2024, 2, 29, 23, 59, 59) + 999, "2024-02-29T23:59:59.999Z", id="leap"),
    pytest.param(epoch_ms(2024, 3, 1), "2024-03-01T00:00:00.000Z", id="whole-second"),
]


@pytest.mark.parametrize(("ms", "expected"), ISO_CASES)
def test_iso_time(ms: int, expected: str) -> None:
    assert iso_time(ms) == expected


# multi_value: last value per name, and all values in order (spec §2.2 rule 4)

MULTI_CASES = [
    pytest.param([], {}, {}, id="empty"),
    pytest.param([("a", "1")], {"a": "1"}, {"a": ["1"]}, id="one"),
    pytest.param([("a", "1"), ("a", "2")], {"a": "2"}, {"a": ["1", "2"]}, id="repeated-last-wins"),
    pytest.param(
        [("a", "1"), ("b", "2"), ("a", "3")],
        {"a": "3", "b": "2"},
        {"a": ["1", "3"], "b": ["2"]},
        id="interleaved",
    ),
    pytest.param([("flag", "")], {"flag": ""}, {"flag": [""]}, id="empty-value"),
    pytest.param([("a", "x"), ("a", "x")], {"a": "x"}, {"a": ["x", "x"]}, id="duplicates-kept"),
]


@pytest.mark.parametrize(("pairs", "single", "multi"), MULTI_CASES)
def test_multi_value(
    pairs: list[tuple[str, str]], single: dict[str, str], multi: dict[str, list[str]]
) -> None:
    assert multi_value(pairs) == (single, multi)


def test_multi_value_keeps_first_appearance_order() -> None:
    single, multi = multi_value([("b", "1"), ("a", "2"), ("b", "3")])
    assert list(single) == list(multi) == ["b", "a"]


def test_multi_value_accepts_any_iterable() -> None:
    assert multi_value(iter([("a", "1")])) == ({"a": "1"}, {"a": ["1"]})


# The CONNECT event (spec §2.2)

# Powertools tests/events/apiGatewayWebSocketApiConnect.json, captured 2024-11-11.
POWERTOOLS_CONNECT: dict[str, Any] = {
    "headers": {
        "Host": "fjnq7njcv2.execute-api.us-east-1.amazonaws.com",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "+W5xw47OHh3OTFsWKjGu9Q==",
        "Sec-WebSocket-Version": "13",
        "X-Amzn-Trace-Id": "Root=1-6731ebfc-08e1e656421db73c5d2eef31",
        "X-Forwarded-For": "166.90.225.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    },
    "multiValueHeaders": {
        "Host": ["fjnq7njcv2.execute-api.us-east-1.amazonaws.com"],
        "Sec-WebSocket-Extensions": ["permessage-deflate; client_max_window_bits"],
        "Sec-WebSocket-Key": ["+W5xw47OHh3OTFsWKjGu9Q=="],
        "Sec-WebSocket-Version": ["13"],
        "X-Amzn-Trace-Id": ["Root=1-6731ebfc-08e1e656421db73c5d2eef31"],
        "X-Forwarded-For": ["166.90.225.1"],
        "X-Forwarded-Port": ["443"],
        "X-Forwarded-Proto": ["https"],
    },
    "requestContext": {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "BFHPhFe3IAMF95g=",
        "requestTime": "11/Nov/2024:11:35:24 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": 1731324924553,
        "requestTimeEpoch": 1731324924561,
        "identity": {"sourceIp": "166.90.225.1"},
        "requestId": "BFHPhFe3IAMF95g=",
        "domainName": "asasasas.execute-api.us-east-1.amazonaws.com",
        "connectionId": "BFHPhfCWIAMCKlQ=",
        "apiId": "asasasas",
    },
    "isBase64Encoded": False,
}


def test_connect_event_rebuilds_the_powertools_capture() -> None:
    capture_info = ConnectionInfo(
        connection_id="BFHPhfCWIAMCKlQ=",
        connected_at=1731324924553,
        source_ip="166.90.225.1",
        user_agent=None,
        domain_name="asasasas.execute-api.us-east-1.amazonaws.com",
        api_id="asasasas",
        stage="prod",
    )
    # The client's upgrade headers, hop-by-hop ones included, then AWS's additions.
    sent = [
        ("Host", "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        ("Sec-WebSocket-Key", "+W5xw47OHh3OTFsWKjGu9Q=="),
        ("Sec-WebSocket-Version", "13"),
        ("X-Amzn-Trace-Id", "Root=1-6731ebfc-08e1e656421db73c5d2eef31"),
        ("X-Forwarded-For", "166.90.225.1"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    event = connect_event(
        capture_info,
        headers=sent,
        query=None,
        request_id="BFHPhFe3IAMF95g=",
        request_time_ms=1731324924561,
    )
    assert event == POWERTOOLS_CONNECT
    assert same_json(event, POWERTOOLS_CONNECT)


HOP_BY_HOP_CASES = [
    pytest.param([("Connection", "Upgrade")], {}, id="Connection"),
    pytest.param([("connection", "upgrade")], {}, id="connection-lower"),
    pytest.param([("Upgrade", "websocket")], {}, id="Upgrade"),
    pytest.param([("UPGRADE", "websocket")], {}, id="UPGRADE-upper"),
    pytest.param([("Content-Length", "0")], {}, id="Content-Length"),
    pytest.param([("content-length", "0")], {}, id="content-length-lower"),
    pytest.param([("Host", "h")], {"Host": "h"}, id="Host-kept"),
    pytest.param(
        [("Sec-WebSocket-Protocol", "a, b")], {"Sec-WebSocket-Protocol": "a, b"}, id="subprotocol"
    ),
    pytest.param([("Connection-Id", "x")], {"Connection-Id": "x"}, id="prefix-is-not-a-match"),
    pytest.param([("X-Upgrade", "y")], {"X-Upgrade": "y"}, id="suffix-is-not-a-match"),
    pytest.param(
        [("x-custom", "1"), ("Connection", "Upgrade"), ("X-Custom", "2")],
        {"x-custom": "1", "X-Custom": "2"},
        id="case-kept-as-sent",
    ),
]


@pytest.mark.parametrize(("sent", "forwarded"), HOP_BY_HOP_CASES)
def test_connect_headers_drop_only_hop_by_hop(
    sent: list[tuple[str, str]], forwarded: dict[str, str]
) -> None:
    # AWS: every client header except Connection, Upgrade, Content-Length (spec §2.2 rules 1-2).
    event = connect(headers=sent)
    assert event["headers"] == forwarded
    assert event["multiValueHeaders"] == {name: [value] for name, value in forwarded.items()}


def test_connect_repeated_header_is_last_value_and_all_values() -> None:
    event = connect(headers=[("X-Repeat", "one"), ("Host", "h"), ("X-Repeat", "two")])
    assert event["headers"] == {"X-Repeat": "two", "Host": "h"}
    assert event["multiValueHeaders"] == {"X-Repeat": ["one", "two"], "Host": ["h"]}


CONNECT_KEY_CASES = [
    pytest.param(
        None,
        None,
        ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"],
        id="no-query",
    ),
    pytest.param(
        [("a", "1")],
        None,
        [
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "requestContext",
            "isBase64Encoded",
        ],
        id="query",
    ),
    pytest.param(
        None,
        {},
        ["headers", "multiValueHeaders", "requestContext", "isBase64Encoded"],
        id="empty-stage-variables-omitted",
    ),
    pytest.param(
        [("a", "1")],
        {"v": "1"},
        [
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "stageVariables",
            "requestContext",
            "isBase64Encoded",
        ],
        id="query-and-stage-variables",
    ),
]


@pytest.mark.parametrize(("query", "stage_variables", "keys"), CONNECT_KEY_CASES)
def test_connect_event_top_level_keys(
    query: list[tuple[str, str]] | None, stage_variables: dict[str, str] | None, keys: list[str]
) -> None:
    # AWS: query keys only with a query string, never a body (spec §2.2).
    event = connect(query=query, stage_variables=stage_variables)
    assert list(event) == keys
    assert event["isBase64Encoded"] is False


QUERY_CASES = [
    pytest.param([("a", "1")], {"a": "1"}, {"a": ["1"]}, id="one"),
    pytest.param(
        [("a", "1"), ("b", "2"), ("a", "3")],
        {"a": "3", "b": "2"},
        {"a": ["1", "3"], "b": ["2"]},
        id="repeated-last-wins",
    ),
    pytest.param([("flag", "")], {"flag": ""}, {"flag": [""]}, id="blank-value"),
]


@pytest.mark.parametrize(("query", "single", "multi"), QUERY_CASES)
def test_connect_query_string_parameters(
    query: list[tuple[str, str]], single: dict[str, str], multi: dict[str, list[str]]
) -> None:
    event = connect(query=query)
    assert event["queryStringParameters"] == single
    assert event["multiValueQueryStringParameters"] == multi


def test_connect_stage_variables_are_copied() -> None:
    variables = {"v": "1"}
    event = connect(stage_variables=variables)
    variables["v"] = "changed"
    assert event["stageVariables"] == {"v": "1"}


# The MESSAGE event (spec §2.3)

# aws-lambda-go events/testdata/apigw-websocket-request-send-message.json, 2024-01-20.
LAMBDA_GO_MESSAGE: dict[str, Any] = {
    "requestContext": {
        "routeKey": "$default",
        "messageId": "R1knPc2ntjMCFIA=",
        "eventType": "MESSAGE",
        "extendedRequestId": "R1knPH17NjMFftw=",
        "requestTime": "20/Jan/2024:11:55:00 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": 1705751697419,
        "requestTimeEpoch": 1705751700453,
        "identity": {
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
            "sourceIp": "49.105.91.154",
        },
        "requestId": "R1knPH17NjMFftw=",
        "domainName": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
        "connectionId": "R1kmxc2VNjMCFIA=",
        "apiId": "gy415nuibc",
    },
    "body": '{\r\n\t"a": 1\r\n}',
    "isBase64Encoded": False,
}

CHROME = LAMBDA_GO_MESSAGE["requestContext"]["identity"]["userAgent"]


def test_message_event_rebuilds_the_aws_lambda_go_capture() -> None:
    event = message_event(
        info(user_agent=CHROME, api_id="gy415nuibc"),
        route_key="$default",
        body='{\r\n\t"a": 1\r\n}',
        message_id="R1knPc2ntjMCFIA=",
        request_id="R1knPH17NjMFftw=",
        request_time_ms=1705751700453,
    )
    assert event == LAMBDA_GO_MESSAGE
    assert same_json(event, LAMBDA_GO_MESSAGE)


@pytest.mark.parametrize(
    ("route_key", "body"),
    [
        pytest.param("sendmessage", '{"action":"sendmessage"}', id="custom-route"),
        pytest.param("$default", "not json", id="default"),
        pytest.param("$default", "", id="empty-body"),
    ],
)
def test_message_event_has_no_headers_or_query(route_key: str, body: str) -> None:
    # AWS: MESSAGE events carry requestContext, body and isBase64Encoded only (spec §2.3).
    event = message_event(
        info(),
        route_key=route_key,
        body=body,
        message_id="m" * 15 + "=",
        request_id="r" * 15 + "=",
        request_time_ms=1705751700453,
    )
    assert list(event) == ["requestContext", "body", "isBase64Encoded"]
    assert event["body"] == body
    assert event["requestContext"]["routeKey"] == route_key
    assert event["requestContext"]["messageId"] == "m" * 15 + "="


# The DISCONNECT event (spec §2.4)

# aws-lambda-go events/testdata/apigw-websocket-request-disconnect.json, 2024-01-20.
LAMBDA_GO_DISCONNECT: dict[str, Any] = {
    "headers": {
        "Host": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    },
    "multiValueHeaders": {
        "Host": ["dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com"],
        "x-api-key": [""],
        "X-Forwarded-For": [""],
        "x-restapi": [""],
    },
    "requestContext": {
        "routeKey": "$disconnect",
        "disconnectStatusCode": 1001,
        "eventType": "DISCONNECT",
        "extendedRequestId": "R1koeHsUtjMFbRw=",
        "requestTime": "20/Jan/2024:11:55:08 +0000",
        "messageDirection": "IN",
        "disconnectReason": "",
        "stage": "prod",
        "connectedAt": 1705751697419,
        "requestTimeEpoch": 1705751708326,
        "identity": {"userAgent": CHROME, "sourceIp": "49.105.91.154"},
        "requestId": "R1koeHsUtjMFbRw=",
        "domainName": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
        "connectionId": "R1kmxc2VNjMCFIA=",
        "apiId": "dl7ptocha9",
    },
    "isBase64Encoded": False,
}


def test_disconnect_event_rebuilds_the_aws_lambda_go_capture() -> None:
    event = disconnect_event(
        info(user_agent=CHROME),
        status_code=1001,
        reason="",
        request_id="R1koeHsUtjMFbRw=",
        request_time_ms=1705751708326,
    )
    assert event == LAMBDA_GO_DISCONNECT
    assert same_json(event, LAMBDA_GO_DISCONNECT)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        pytest.param(1000, "Connection Closed Normally", id="deleted"),
        pytest.param(1005, "Client-side close frame status not set", id="no-status"),
        pytest.param(4000, "custom", id="application-code"),
    ],
)
def test_disconnect_event_reports_code_and_reason(code: int, reason: str) -> None:
    event = disconnect_event(
        info(), status_code=code, reason=reason, request_id="r" * 15 + "=", request_time_ms=1
    )
    context = event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (code, reason)


def test_disconnect_headers_are_the_fixed_set_for_the_domain() -> None:
    # AWS: not the client's headers but Host plus three odd empty ones (spec §2.4).
    event = disconnect(info=info(domain_name="abc.example.com"))
    assert same_json(
        event["headers"],
        {"Host": "abc.example.com", "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
    )
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}


# What the three event types share and what sets them apart (spec §2.1)


BUILDERS = [
    pytest.param(connect, "CONNECT", set(), id="connect"),
    pytest.param(message, "MESSAGE", {"messageId"}, id="message"),
    pytest.param(
        disconnect, "DISCONNECT", {"disconnectStatusCode", "disconnectReason"}, id="disconnect"
    ),
]


@pytest.mark.parametrize(("build", "event_type", "extra"), BUILDERS)
def test_request_context_keys_per_event_type(build: Any, event_type: str, extra: set[str]) -> None:
    context = build()["requestContext"]
    assert set(context) == COMMON_CONTEXT | extra
    assert context["eventType"] == event_type
    assert context["messageDirection"] == "IN"
    assert context["extendedRequestId"] == context["requestId"]
    assert context["requestTime"] == clf_time(context["requestTimeEpoch"])
    assert build()["isBase64Encoded"] is False


@pytest.mark.parametrize(("build", "event_type", "extra"), BUILDERS)
@pytest.mark.parametrize(
    ("user_agent", "identity"),
    [
        pytest.param("curl/8", {"userAgent": "curl/8", "sourceIp": "10.0.0.1"}, id="user-agent"),
        pytest.param(None, {"sourceIp": "10.0.0.1"}, id="no-user-agent"),
        pytest.param("", {"userAgent": "", "sourceIp": "10.0.0.1"}, id="empty-user-agent"),
    ],
)
def test_identity_has_user_agent_only_when_sent(
    build: Any,
    event_type: str,
    extra: set[str],
    user_agent: str | None,
    identity: dict[str, str],
) -> None:
    # AWS: identity.userAgent only when the upgrade request had a User-Agent (spec §2.1).
    event = build(info=info(user_agent=user_agent, source_ip="10.0.0.1"))
    assert same_json(event["requestContext"]["identity"], identity)


@pytest.mark.parametrize(("build", "event_type", "extra"), BUILDERS)
def test_authorizer_context_only_when_authorized(
    build: Any, event_type: str, extra: set[str]
) -> None:
    # AWS: the authorizer's context rides on every event of the connection (spec §6.4).
    authorizer = {"principalId": "me", "num": "123", "integrationLatency": 0}
    with_it = build(info=info(authorizer=authorizer))["requestContext"]
    without = build(info=info())["requestContext"]
    assert with_it["authorizer"] == authorizer
    assert "authorizer" not in without


@pytest.mark.parametrize(("build", "event_type", "extra"), BUILDERS)
def test_events_are_json_serialisable_and_fresh(
    build: Any, event_type: str, extra: set[str]
) -> None:
    first, second = build(), build()
    assert json.loads(json.dumps(first)) == first
    # A handler mutating its event must not change the next one.
    first["requestContext"]["identity"]["sourceIp"] = "mutated"
    assert second["requestContext"]["identity"]["sourceIp"] == "49.105.91.154"
    assert build()["requestContext"]["identity"]["sourceIp"] == "49.105.91.154"
