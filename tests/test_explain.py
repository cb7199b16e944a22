"""``explain()``: route selection told step by step (pure, no event loop).

The decision in an explanation is the server's own: it must equal what
:class:`~emulator.model.selection.RouteSelector` decides for the same inputs. The
text must show the parsed JSON, what each variable's JSONPath found, the
stringified result, and the route (or why $default, or the Forbidden frame).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection

import pytest

from emulator.gateway.explain import Explanation, explain
from emulator.gateway.selection import RouteDecision, RouteReason, RouteSelector
from emulator.model.selection import compile_expression

# AWS's documented example body (spec §3.2.1, DG:apigateway-websocket-api-selection-expressions).
BODY = '{"service":"chat","action":"join","data":{"room":"room1234"}}'
PARSED = '{"service": "chat", "action": "join", "data": {"room": "room1234"}}'
KEYS = ("join", "chat/join", "action", "$default")
FORBIDDEN_FRAME = '{"message": "Forbidden", "connectionId":"...", "requestId":"..."}'


def _lines(explanation: Explanation) -> list[str]:
    """The steps, stripped, with runs of spaces (column padding) collapsed."""
    return [re.sub(r" {2,}", " ", step.strip()) for step in str(explanation).splitlines()]


# The six documented examples (spec §3.2.1): expression, result, variable lines.
DOCUMENTED = [
    pytest.param(
        "$request.body.action",
        "join",
        ["$request.body.action JSONPath $.action: found \"join\", stringified 'join'"],
        id="unbraced",
    ),
    pytest.param(
        "${request.body.action}",
        "join",
        ["${request.body.action} JSONPath $.action: found \"join\", stringified 'join'"],
        id="braced",
    ),
    pytest.param(
        "${request.body.service}/${request.body.action}",
        "chat/join",
        [
            "${request.body.service} JSONPath $.service: found \"chat\", stringified 'chat'",
            "${request.body.action} JSONPath $.action: found \"join\", stringified 'join'",
        ],
        id="two-variables",
    ),
    pytest.param(
        "${request.body.action}-${request.body.invalidPath}",
        "join-",
        [
            "${request.body.action} JSONPath $.action: found \"join\", stringified 'join'",
            "${request.body.invalidPath} JSONPath $.invalidPath: found nothing,"
            " so it contributes ''",
        ],
        id="missing-path",
    ),
    pytest.param("action", "action", [], id="static"),
    pytest.param("\\$default", "$default", [], id="escaped-dollar"),
]


@pytest.mark.parametrize(("expression", "result", "variables"), DOCUMENTED)
def test_documented_example_without_route_keys(
    expression: str, result: str, variables: list[str]
) -> None:
    explanation = explain(compile_expression(expression), BODY)
    lines = _lines(explanation)
    assert explanation.decision is None
    assert lines[:2] == [f"expression: {expression}", f"message: {BODY}"]
    assert f"1. The message is JSON: {PARSED}" in lines
    if variables:
        assert "2. Each variable of the expression, evaluated against the message:" in lines
        start = lines.index("2. Each variable of the expression, evaluated against the message:")
        assert lines[start + 1 : start + 1 + len(variables)] == variables
    else:
        assert f"2. The expression has no variables: it is the static text {result!r}." in lines
    assert f"3. The expression evaluates to {result!r}." in lines
    assert lines[-2:] == [
        f"→ the route whose key is exactly {result!r}, if the API has one;",
        "otherwise $default, and without $default the client gets the Forbidden frame.",
    ]


@pytest.mark.parametrize(("expression", "result", "variables"), DOCUMENTED)
def test_documented_example_with_route_keys(
    expression: str, result: str, variables: list[str]
) -> None:
    compiled = compile_expression(expression)
    explanation = explain(compiled, BODY, KEYS)
    lines = _lines(explanation)
    assert explanation.decision == RouteSelector(compiled, KEYS).select(BODY)
    assert "4. Route keys of the API: $default, action, chat/join, join" in lines
    for variable in variables:
        assert variable in lines
    assert f"3. The expression evaluates to {result!r}." in lines
    if result in KEYS:
        assert explanation.decision == RouteDecision(result, RouteReason.MATCHED, result)
        assert lines[-1] == f"→ {result!r} equals the route key exactly: route {result}."
    else:  # join-: no such route, AWS falls back to $default (spec §3.2.2 step 4)
        assert explanation.decision == RouteDecision("$default", RouteReason.FALLBACK, result)
        assert lines[-1] == (
            f"→ no route key equals {result!r} (keys are compared exactly, case included):"
            " route $default."
        )


# The decision is RouteSelector's (spec §3.2.2): expression, message, keys, expected.
DECISIONS = [
    pytest.param(
        "$request.body.action", BODY, ("join", "$default"), ("join", "matched", "join"),
        id="matched",
    ),
    pytest.param(
        "$request.body.action", '{"action":"leave"}', ("join", "$default"),
        ("$default", "fallback", "leave"), id="fallback",
    ),
    pytest.param(
        "$request.body.action", '{"action":"leave"}', ("join",),
        (None, "forbidden", "leave"), id="forbidden",
    ),
    pytest.param(
        "$request.body.action", "hello", ("join", "$default"),
        ("$default", "not-json", None), id="not-json",
    ),
    pytest.param(
        "$request.body.action", "hello", ("join",), (None, "forbidden", None),
        id="not-json-forbidden",
    ),
    pytest.param(
        "action", "hello", ("action", "$default"), ("$default", "not-json", None),
        id="static-not-json",
    ),
    pytest.param(
        "$request.body.action", '{"action":"$connect"}', ("$connect", "$disconnect", "$default"),
        ("$default", "fallback", "$connect"), id="lifecycle-key",
    ),
    pytest.param(
        "$request.body.action", '{"action":"sendMessage"}', ("sendmessage", "$default"),
        ("$default", "fallback", "sendMessage"), id="case-mismatch",
    ),
    pytest.param(
        "$request.body.data.room", BODY, ("room1234", "$default"),
        ("room1234", "matched", "room1234"), id="nested-path",
    ),
    pytest.param(
        "$request.body[2]", '[2,"48","StatusNotification",{}]', ("StatusNotification",),
        ("StatusNotification", "matched", "StatusNotification"), id="array-index",
    ),
    pytest.param(
        "$request.body.action", '{"action":1}', ("1", "$default"), ("1", "matched", "1"),
        id="number",
    ),
    pytest.param(
        "$request.body.action", '{"action":["a","b"]}', ("[a, b]",),
        ("[a, b]", "matched", "[a, b]"), id="array-stringified",
    ),
    pytest.param(
        "$request.body.action", '{"action":null}', ("$default",), ("$default", "fallback", ""),
        id="null",
    ),
    pytest.param(
        "$request.body.action", "{}", ("join", "$default"), ("$default", "fallback", ""),
        id="missing",
    ),
    pytest.param(
        "$request.body.action", '{"action": NaN}', ("NaN", "$default"),
        ("$default", "not-json", None), id="nan-is-not-json",
    ),
    pytest.param(
        "\\$default", "{}", ("$default",), ("$default", "matched", "$default"),
        id="static-default",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "message", "keys", "expected"), DECISIONS)
def test_decision_is_the_selectors(
    expression: str,
    message: str,
    keys: Collection[str],
    expected: tuple[str | None, str, str | None],
) -> None:
    compiled = compile_expression(expression)
    route_key, reason, evaluated = expected
    decision = RouteDecision(route_key, RouteReason(reason), evaluated)
    assert RouteSelector(compiled, keys).select(message) == decision
    assert explain(compiled, message, keys).decision == decision


# What the text says in each kind of case: expression, message, keys, lines expected.
STORIES = [
    pytest.param(
        "$request.body.action", "hello", ("join", "$default"),
        [
            "1. The message is not JSON (Expecting value: line 1 column 1 (char 0)).",
            "API Gateway does not evaluate the expression for it: non-JSON messages",
            "→ route $default.",
        ],
        id="not-json",
    ),
    pytest.param(
        "$request.body.action", "hello", ("join",),
        [
            "1. The message is not JSON (Expecting value: line 1 column 1 (char 0)).",
            "→ non-JSON, and the API has no $default route: the client gets",
            f"{FORBIDDEN_FRAME} and stays connected.",
        ],
        id="not-json-forbidden",
    ),
    pytest.param(
        "$request.body.action", "hello", None,
        ["→ the $default route, if the API has one; else the Forbidden frame."],
        id="not-json-no-keys",
    ),
    pytest.param(
        "$request.body.action", '{"action":"leave"}', ("join",),
        [
            "4. Route keys of the API: join",
            "→ no route key equals 'leave', and the API has no $default route: the client gets",
            f"{FORBIDDEN_FRAME} and stays connected.",
        ],
        id="forbidden",
    ),
    pytest.param(
        "$request.body.action", '{"action":"$connect"}', ("$connect", "$default"),
        ["→ '$connect' names a lifecycle route, which a message never selects: route $default."],
        id="lifecycle-key",
    ),
    pytest.param(
        "$request.body.action", '{"action":"sendMessage"}', ("sendmessage", "$default"),
        [
            "→ no route key equals 'sendMessage' (keys are compared exactly, case included):"
            " route $default.",
        ],
        id="case-mismatch",
    ),
    pytest.param(
        "$request.body.data.room", BODY, ("room1234",),
        [
            "$request.body.data.room JSONPath $.data.room: found \"room1234\","
            " stringified 'room1234'",
            "→ 'room1234' equals the route key exactly: route room1234.",
        ],
        id="nested-path",
    ),
    pytest.param(
        "$request.body[2]", '[2,"48","StatusNotification",{}]', ("StatusNotification",),
        [
            '1. The message is JSON: [2, "48", "StatusNotification", {}]',
            "$request.body[2] JSONPath $[2]: found \"StatusNotification\","
            " stringified 'StatusNotification'",
        ],
        id="array-index",
    ),
    pytest.param(
        "$request.body.data", BODY, None,
        [
            "$request.body.data JSONPath $.data: found {\"room\": \"room1234\"},"
            " stringified '{\"room\":\"room1234\"}'",
        ],
        id="object-value",
    ),
    pytest.param(
        "$request.body.action", '{"action":["a",1,true]}', None,
        [
            "$request.body.action JSONPath $.action: found [\"a\", 1, true],"
            " stringified '[a, 1, true]'",
        ],
        id="array-value",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "message", "keys", "expected"), STORIES)
def test_explanation_says(
    expression: str, message: str, keys: Collection[str] | None, expected: list[str]
) -> None:
    lines = _lines(explain(compile_expression(expression), message, keys))
    for line in expected:
        assert line in lines, f"{line!r} not in:\n" + "\n".join(lines)


def test_non_json_explanation_does_not_evaluate_the_expression() -> None:
    lines = _lines(explain(compile_expression("$request.body.action"), "hello", ("$default",)))
    assert not any(line.startswith(("2.", "3.")) for line in lines)
    assert not any("JSONPath" in line for line in lines)


def test_nan_body_is_explained_as_not_json() -> None:
    # The server routes {"action": NaN} as non-JSON (RFC 8259 has no NaN); the
    # explanation must tell that story, not evaluate the expression.
    compiled = compile_expression("$request.body.action")
    explanation = explain(compiled, '{"action": NaN}', ("NaN", "$default"))
    assert explanation.decision == RouteDecision("$default", RouteReason.NOT_JSON, None)
    lines = _lines(explanation)
    assert any(line.startswith("1. The message is not JSON") for line in lines), lines
    assert "3. The expression evaluates to 'NaN'." not in lines


def test_body_too_deep_to_stringify_is_explained() -> None:
    # json accepts the body; stringifying the value does not fit the recursion
    # limit. The selector routes it like non-JSON (selection.py select_parsed).
    depth = sys.getrecursionlimit() * 3 // 5
    message = '{"a":' + "[" * depth + "]" * depth + "}"
    json.loads(message)  # valid JSON within the limit
    compiled = compile_expression("$request.body.a")
    decision = RouteSelector(compiled, ("$default",)).select(message)
    assert decision == RouteDecision("$default", RouteReason.NOT_JSON, None)
    assert explain(compiled, message, ("$default",)).decision == decision
