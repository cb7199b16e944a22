"""What a handler's return value means (spec §3.1, §3.2.4, §3.2.5): pure, no event loop."""

from __future__ import annotations

import base64
import collections
from collections import ChainMap, UserDict
from types import MappingProxyType
from typing import Any

import pytest

from emulator.gateway.results import (
    ConnectOutcome,
    MalformedResultError,
    interpret_connect_result,
    interpret_route_result,
)

BINARY = b"\x00\x01\xfe\xff"

# Results API Gateway does not accept as a Lambda proxy response (spec §3.2.5: only
# statusCode (int), headers, multiValueHeaders, body (str), isBase64Encoded (bool);
# anything else, or a non-dict other than None, is "Internal server error" / 502).
MALFORMED: list[Any] = [
    pytest.param("hello", id="a-string"),
    pytest.param(200, id="an-int"),
    pytest.param([{"statusCode": 200}], id="a-list"),
    pytest.param(b"{}", id="bytes"),
    pytest.param({"statusCode": 200, "ConnectionId": "x", "Data": "y"}, id="extra-keys-middy1219"),
    pytest.param({"statusCode": 200, "statuscode": 200}, id="extra-key-wrong-case"),
    pytest.param({}, id="no-statusCode"),
    pytest.param({"body": "hi"}, id="body-without-statusCode"),
    pytest.param({"statusCode": "200"}, id="statusCode-string"),
    pytest.param({"statusCode": 200.0}, id="statusCode-float"),
    pytest.param({"statusCode": True}, id="statusCode-bool"),
    pytest.param({"statusCode": None}, id="statusCode-None"),
    pytest.param({"statusCode": 200, "body": {"a": 1}}, id="body-dict"),
    pytest.param({"statusCode": 200, "body": 1}, id="body-int"),
    pytest.param({"statusCode": 200, "body": b"x"}, id="body-bytes"),
    pytest.param({"statusCode": 200, "headers": {"X": 1}}, id="header-value-int"),
    pytest.param({"statusCode": 200, "headers": ["X"]}, id="headers-list"),
    pytest.param({"statusCode": 200, "multiValueHeaders": {"X": "a"}}, id="multi-not-list"),
    pytest.param({"statusCode": 200, "multiValueHeaders": {"X": [1]}}, id="multi-item-int"),
    pytest.param({"statusCode": 200, "isBase64Encoded": "true"}, id="base64-flag-string"),
]


# --- $connect (spec §3.1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        # A handler that returns nothing did not fail: accept (UNKNOWN on AWS, recommended).
        pytest.param(None, ConnectOutcome(200), id="None-accepts"),
        pytest.param({"statusCode": 200}, ConnectOutcome(200), id="200"),
        pytest.param({"statusCode": 201}, ConnectOutcome(201), id="201"),
        pytest.param({"statusCode": 299}, ConnectOutcome(299), id="299"),
        pytest.param({"statusCode": 301}, ConnectOutcome(301), id="301"),
        pytest.param({"statusCode": 401}, ConnectOutcome(401), id="401"),
        pytest.param({"statusCode": 418}, ConnectOutcome(418), id="418"),
        pytest.param({"statusCode": 501}, ConnectOutcome(501), id="501"),
        # The body is never sent to the client (chalice#1768).
        pytest.param({"statusCode": 200, "body": "ignored"}, ConnectOutcome(200), id="body"),
        pytest.param(
            {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "myprotocol"}},
            ConnectOutcome(200, "myprotocol"),
            id="subprotocol",
        ),
        pytest.param(
            {"statusCode": 200, "headers": {"sec-websocket-protocol": "myprotocol"}},
            ConnectOutcome(200, "myprotocol"),
            id="subprotocol-lowercase",
        ),
        pytest.param(
            {"statusCode": 200, "multiValueHeaders": {"Sec-WebSocket-Protocol": ["myprotocol"]}},
            ConnectOutcome(200, "myprotocol"),
            id="subprotocol-multi-value",
        ),
        # Only Sec-WebSocket-Protocol is copied into the 101 (spec §3.1).
        pytest.param(
            {"statusCode": 200, "headers": {"X-Custom": "1", "Set-Cookie": "a=b"}},
            ConnectOutcome(200),
            id="other-headers",
        ),
        pytest.param(
            {"statusCode": 400, "headers": {"Sec-WebSocket-Protocol": "myprotocol"}},
            ConnectOutcome(400, "myprotocol"),
            id="refusal-with-subprotocol",
        ),
    ],
)
def test_connect_result(result: object, expected: ConnectOutcome) -> None:
    assert interpret_connect_result(result) == expected


@pytest.mark.parametrize("result", MALFORMED)
def test_malformed_connect_result(result: object) -> None:
    # AWS answers the upgrade with 502 (spec §3.1); the caller maps this error to it.
    with pytest.raises(MalformedResultError):
        interpret_connect_result(result)


@pytest.mark.parametrize(
    ("status", "accepted"),
    [
        pytest.param(199, False, id="199"),
        pytest.param(200, True, id="200"),
        pytest.param(201, True, id="201"),
        pytest.param(299, True, id="299"),
        pytest.param(300, False, id="300"),
        pytest.param(401, False, id="401"),
        pytest.param(502, False, id="502"),
    ],
)
def test_connect_outcome_accepts_2xx_only(status: int, accepted: bool) -> None:
    assert ConnectOutcome(status).accepted is accepted


# --- message routes (spec §3.2.4) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "sent"),
    [
        # A two-way route without a body still sends an empty frame (serverless#6816).
        pytest.param(None, "", id="None-empty-frame"),
        pytest.param({"statusCode": 200}, "", id="no-body-empty-frame"),
        pytest.param({"statusCode": 200, "body": ""}, "", id="empty-body"),
        pytest.param({"statusCode": 200, "body": "hello"}, "hello", id="body"),
        # statusCode is ignored for delivery (yai333/React-Chat-App#2).
        pytest.param({"statusCode": 500, "body": "oops"}, "oops", id="500-still-delivered"),
        pytest.param({"statusCode": 404, "body": '{"e":1}'}, '{"e":1}', id="404-json"),
        pytest.param({"statusCode": 200, "body": "héllo ✓"}, "héllo ✓", id="unicode"),
        pytest.param(
            {"statusCode": 200, "body": "x", "headers": {"A": "b"}, "multiValueHeaders": {}},
            "x",
            id="headers-ignored",
        ),
        pytest.param(
            {"statusCode": 200, "body": "aGk=", "isBase64Encoded": False},
            "aGk=",
            id="base64-flag-false",
        ),
        # UNKNOWN on AWS; the spec recommends decoding and sending a binary frame.
        pytest.param(
            {
                "statusCode": 200,
                "body": base64.b64encode(BINARY).decode(),
                "isBase64Encoded": True,
            },
            BINARY,
            id="base64-binary",
        ),
        pytest.param({"statusCode": 200, "isBase64Encoded": True}, b"", id="base64-flag-no-body"),
        # Mappings other than a plain dict are read the same way.
        pytest.param(
            collections.OrderedDict(statusCode=200, body="x", headers=ChainMap({"A": "b"})),
            "x",
            id="other-mappings",
        ),
        pytest.param(
            MappingProxyType({"statusCode": 200, "multiValueHeaders": UserDict({"A": ["b"]})}),
            "",
            id="read-only-mappings",
        ),
    ],
)
def test_route_result(result: object, sent: str | bytes) -> None:
    reply = interpret_route_result(result)
    assert reply == sent
    assert type(reply) is type(sent)


@pytest.mark.parametrize(
    "result",
    [
        *MALFORMED,
        pytest.param(
            {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
            id="base64-flag-bad-body",
        ),
    ],
)
def test_malformed_route_result(result: object) -> None:
    # AWS sends the "Internal server error" frame (spec §3.2.5, middy#1219).
    with pytest.raises(MalformedResultError):
        interpret_route_result(result)
