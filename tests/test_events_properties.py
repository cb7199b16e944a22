"""Properties of the pure event builders (emulator/events.py), for any input.

tests/test_events.py pins the builders to AWS's captures; here hypothesis
throws arbitrary header lists, query pairs, bodies, ids and times at them and
checks what must hold for every event AWS sends (spec §2.1-2.4): JSON all the
way down, exactly AWS's keys per event type, the multi-value maps agreeing
with the single-value ones, header names as the client spelled them, and no
hop-by-hop header.
"""

from __future__ import annotations

import datetime
import json
import string
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
HOP_BY_HOP = {"connection", "upgrade", "content-length"}  # spec §2.2 rule 1


# -- strategies ---------------------------------------------------------------------------

# Milliseconds from the epoch to the last one of year 9999.
EPOCH_MS = st.integers(min_value=0, max_value=253_402_300_799_999)
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"  # RFC 9110 token characters
# The names that matter, in any case the client may spell them.
NOTABLE = st.sampled_from(
    ["Connection", "Upgrade", "Content-Length", "Host", "Sec-WebSocket-Key", "User-Agent"]
).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(
            c.upper() if u else c.lower() for c, u in zip(name, upper, strict=True)
        )
    )
)
HEADER_NAMES = NOTABLE | st.text(alphabet=TOKEN, min_size=1, max_size=16)
# The transport hands header values over as latin-1 text.
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=24)
HEADERS = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12)
# parse_qsl output: any text on either side, repeated keys allowed.
QUERIES = st.none() | st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8)
AUTHORIZER_VALUES = st.text(max_size=8) | st.integers() | st.booleans()
INFOS = st.builds(
    ConnectionInfo,
    connection_id=st.text(max_size=20),
    connected_at=EPOCH_MS,
    source_ip=st.text(max_size=40),
    user_agent=st.none() | st.text(max_size=40),
    domain_name=st.text(max_size=40),
    api_id=st.text(max_size=12),
    stage=st.text(max_size=12),
    authorizer=st.none() | st.dictionaries(st.text(max_size=8), AUTHORIZER_VALUES, max_size=4),
)
IDS = st.text(max_size=20)
STAGE_VARIABLES = st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)


# -- helpers ------------------------------------------------------------------------------


def reference_clf(epoch_ms: int) -> str:
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        milliseconds=epoch_ms
    )
    return (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def assert_json_all_the_way_down(event: dict[str, Any]) -> None:
    # What the Lambda runtime does with every event: it must survive unchanged.
    assert json.loads(json.dumps(event)) == event


def assert_multi_value_agrees(
    single: dict[str, str], multi: dict[str, list[str]], pairs: list[tuple[str, str]]
) -> None:
    """``single`` has the last value per name, ``multi`` all of them in order (§2.2 rule 4)."""
    assert list(single) == list(multi)
    for name, values in multi.items():
        assert values == [value for key, value in pairs if key == name]
        assert single[name] == values[-1]
    assert set(multi) == {key for key, _ in pairs}


def assert_context(
    context: dict[str, Any],
    info: ConnectionInfo,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    request_time_ms: int,
    extra: set[str],
) -> None:
    expected_keys = (
        COMMON_CONTEXT | extra | ({"authorizer"} if info.authorizer is not None else set())
    )
    assert set(context) == expected_keys
    assert context["routeKey"] == route_key
    assert context["eventType"] == event_type
    assert context["messageDirection"] == "IN"
    assert context["requestId"] == context["extendedRequestId"] == request_id
    assert context["requestTimeEpoch"] == request_time_ms
    assert context["requestTime"] == reference_clf(request_time_ms)
    assert context["connectedAt"] == info.connected_at
    assert (context["connectionId"], context["apiId"]) == (info.connection_id, info.api_id)
    assert (context["stage"], context["domainName"]) == (info.stage, info.domain_name)
    # AWS: identity.userAgent only when the client sent a User-Agent (spec §2.1).
    identity = {"sourceIp": info.source_ip}
    if info.user_agent is not None:
        identity["userAgent"] = info.user_agent
    assert context["identity"] == identity
    if info.authorizer is not None:
        assert context["authorizer"] == dict(info.authorizer)


# -- CONNECT (spec §2.2) ------------------------------------------------------------------


@settings(max_examples=300)
@given(
    info=INFOS,
    headers=HEADERS,
    query=QUERIES,
    request_id=IDS,
    request_time_ms=EPOCH_MS,
    stage_variables=STAGE_VARIABLES,
)
def test_connect_event_for_any_request(
    info: ConnectionInfo,
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]] | None,
    request_id: str,
    request_time_ms: int,
    stage_variables: dict[str, str] | None,
) -> None:
    info = replace(info, stage_variables=stage_variables)
    event = connect_event(
        info, headers=headers, query=query, request_id=request_id, request_time_ms=request_time_ms
    )
    assert_json_all_the_way_down(event)
    expected = {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
    if query is not None:
        # AWS: the query keys only when the URL had a query string.
        expected |= {"queryStringParameters", "multiValueQueryStringParameters"}
    if stage_variables:
        expected.add("stageVariables")
    assert set(event) == expected
    assert event["isBase64Encoded"] is False
    assert "body" not in event

    forwarded = [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]
    # Names exactly as the client spelled them; never a hop-by-hop one, in any case.
    assert set(event["headers"]) == {name for name, _ in forwarded}
    assert not {name.lower() for name in event["multiValueHeaders"]} & HOP_BY_HOP
    assert_multi_value_agrees(event["headers"], event["multiValueHeaders"], forwarded)
    if query is not None:
        assert_multi_value_agrees(
            event["queryStringParameters"], event["multiValueQueryStringParameters"], query
        )
    if stage_variables:
        assert event["stageVariables"] == stage_variables
    assert_context(
        event["requestContext"],
        info,
        route_key="$connect",
        event_type="CONNECT",
        request_id=request_id,
        request_time_ms=request_time_ms,
        extra=set(),
    )


# -- MESSAGE (spec §2.3) ------------------------------------------------------------------


@settings(max_examples=300)
@given(
    info=INFOS,
    route_key=st.sampled_from(["$default", "sendmessage"]) | st.text(max_size=12),
    body=st.text(max_size=200),
    message_id=IDS,
    request_id=IDS,
    request_time_ms=EPOCH_MS,
)
def test_message_event_for_any_frame(
    info: ConnectionInfo,
    route_key: str,
    body: str,
    message_id: str,
    request_id: str,
    request_time_ms: int,
) -> None:
    event = message_event(
        info,
        route_key=route_key,
        body=body,
        message_id=message_id,
        request_id=request_id,
        request_time_ms=request_time_ms,
    )
    assert_json_all_the_way_down(event)
    # AWS: no headers and no query string on MESSAGE events.
    assert set(event) == {"requestContext", "body", "isBase64Encoded"}
    assert event["body"] == body
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["messageId"] == message_id
    assert_context(
        context,
        info,
        route_key=route_key,
        event_type="MESSAGE",
        request_id=request_id,
        request_time_ms=request_time_ms,
        extra={"messageId"},
    )


# -- DISCONNECT (spec §2.4) ---------------------------------------------------------------


@settings(max_examples=300)
@given(
    info=INFOS,
    status_code=st.integers(min_value=1000, max_value=4999),
    reason=st.text(max_size=123),
    request_id=IDS,
    request_time_ms=EPOCH_MS,
)
def test_disconnect_event_for_any_close(
    info: ConnectionInfo, status_code: int, reason: str, request_id: str, request_time_ms: int
) -> None:
    event = disconnect_event(
        info,
        status_code=status_code,
        reason=reason,
        request_id=request_id,
        request_time_ms=request_time_ms,
    )
    assert_json_all_the_way_down(event)
    assert set(event) == {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
    # AWS: not the client's headers but this fixed set (spec §2.4).
    assert event["headers"] == {
        "Host": info.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert_multi_value_agrees(
        event["headers"], event["multiValueHeaders"], list(event["headers"].items())
    )
    context = event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (status_code, reason)
    assert_context(
        context,
        info,
        route_key="$disconnect",
        event_type="DISCONNECT",
        request_id=request_id,
        request_time_ms=request_time_ms,
        extra={"disconnectStatusCode", "disconnectReason"},
    )


# -- the helpers under them ---------------------------------------------------------------


@given(pairs=st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=12))
def test_multi_value_for_any_pairs(pairs: list[tuple[str, str]]) -> None:
    single, multi = multi_value(pairs)
    assert single == dict(pairs)  # the last value wins
    assert_multi_value_agrees(single, multi, pairs)


@given(times=st.lists(EPOCH_MS, min_size=1, max_size=20))
def test_clf_time_for_any_sequence_of_times(times: list[int]) -> None:
    # clf_time caches the last second: any order of calls must still be right.
    assert [clf_time(ms) for ms in times] == [reference_clf(ms) for ms in times]


@given(epoch_ms=EPOCH_MS)
def test_iso_time_for_any_time(epoch_ms: int) -> None:
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        milliseconds=epoch_ms
    )
    assert iso_time(epoch_ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
