"""Route selection (spec §3.2): expressions, stringification, the selection algorithm."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import ConfigError, SelectionExpressionError
from emulator.gateway import selection as gateway_selection
from emulator.gateway.selection import RouteDecision, RouteReason, RouteSelector
from emulator.model import selection
from emulator.model.selection import SelectionExpression, VariableTrace, compile_expression

# The document of the AWS examples (DG:apigateway-websocket-api-selection-expressions).
CHAT = {"service": "chat", "action": "join", "data": {"room": "room1234"}}
# An OCPP-style array message (aws/serverless-application-model#1709).
OCPP = [2, "48", "StatusNotification", {}]


def evaluate(expression: str, document: object) -> str:
    return compile_expression(expression).evaluate(document)


def decide(expression: str, route_keys: list[str], body: str) -> RouteDecision:
    return RouteSelector(compile_expression(expression), route_keys).select(body)


# --- the documented examples --------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("$request.body.action", "join", id="unbraced"),
        pytest.param("${request.body.action}", "join", id="braced"),
        pytest.param("${request.body.service}/${request.body.action}", "chat/join", id="two-vars"),
        pytest.param("${request.body.action}-${request.body.invalidPath}", "join-", id="missing"),
        pytest.param("action", "action", id="static"),
        pytest.param(r"\$default", "$default", id="escaped-dollar"),
    ],
)
def test_documented_examples(expression: str, expected: str) -> None:
    assert evaluate(expression, CHAT) == expected


# --- paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "document", "expected"),
    [
        pytest.param("$request.body.data.room", CHAT, "room1234", id="nested"),
        pytest.param("${request.body.data.room}", CHAT, "room1234", id="nested-braced"),
        pytest.param("$request.body[2]", OCPP, "StatusNotification", id="array-index"),
        pytest.param("$request.body[0]", OCPP, "2", id="array-index-number"),
        pytest.param("$request.body[-2]", OCPP, "StatusNotification", id="negative-index"),
        pytest.param("$request.body[9]", OCPP, "", id="index-out-of-range"),
        pytest.param("$request.body[-9]", OCPP, "", id="negative-out-of-range"),
        pytest.param("$request.body[0]", {"0": "x"}, "", id="index-on-object"),
        pytest.param("$request.body.action", OCPP, "", id="name-on-array"),
        pytest.param("$request.body.action.x", CHAT, "", id="name-on-string"),
        pytest.param("$request.body[0]", "text", "", id="index-on-string"),
        pytest.param("$request.body.action", 42, "", id="scalar-document"),
        pytest.param("$request.body['action']", CHAT, "join", id="single-quoted"),
        pytest.param('$request.body["action"]', CHAT, "join", id="double-quoted"),
        pytest.param("${request.body['a b'].c}", {"a b": {"c": "d"}}, "d", id="quoted-space"),
        pytest.param("${request.body['a.b']}", {"a.b": "dot"}, "dot", id="quoted-dot"),
        pytest.param("${request.body['*']}", {"*": "star", "x": 1}, "star", id="quoted-star"),
        pytest.param("$request.body.where", {"where": "w"}, "w", id="where-is-a-name"),
        pytest.param("$request.body.0", {"0": "zero"}, "zero", id="digit-name"),
        pytest.param("$request.body.action-beta", {"action-beta": "b"}, "b", id="dash-in-token"),
        pytest.param("${request.body.action}-beta", CHAT, "join-beta", id="braces-end-token"),
        pytest.param("$request.body.ação", {"ação": "sim"}, "ção", id="non-ascii-ends-token"),
        pytest.param("${request.body.Action}", CHAT, "", id="names-case-sensitive"),
        pytest.param("$request.body", "hi", "hi", id="whole-body"),
        pytest.param("$request.body", OCPP, "[2, 48, StatusNotification, {}]", id="whole-array"),
        pytest.param("${request.body..room}", CHAT, "[room1234]", id="descendants"),
        pytest.param("${request.body[*]}", [1, "a"], "[1, a]", id="wildcard"),
        pytest.param("${request.body[*]}", ["one"], "[one]", id="wildcard-one-match"),
        pytest.param("${request.body[*]}", [], "", id="wildcard-no-match"),
        pytest.param("${request.body.data.*}", CHAT, "[room1234]", id="member-wildcard"),
        pytest.param("${request.body[0,2]}", OCPP, "[2, StatusNotification]", id="two-indexes"),
        pytest.param("${request.body[1:3]}", OCPP, "[48, StatusNotification]", id="slice"),
        pytest.param("${request.body['service','action']}", CHAT, "[chat, join]", id="two-names"),
    ],
)
def test_paths(expression: str, document: object, expected: str) -> None:
    assert evaluate(expression, document) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param(r"\$default", "$default", id="escaped-default"),
        pytest.param(r"pre-\$-post", "pre-$-post", id="escaped-inside"),
        pytest.param(r"\${request.body.action}", "${request.body.action}", id="escaped-brace"),
        pytest.param(r"\\$", "\\$", id="backslash-then-escape"),
        pytest.param("a\\b", "a\\b", id="lone-backslash"),
        pytest.param("$", "$", id="lone-dollar"),
        pytest.param("cost: $ 5", "cost: $ 5", id="dollar-space"),
        pytest.param("x}", "x}", id="closing-brace"),
        pytest.param("<${request.body.action}>", "<join>", id="literal-around"),
        pytest.param("$request.body.action$request.body.service", "joinchat", id="adjacent"),
        pytest.param("${request.body.action}${request.body.action}", "joinjoin", id="repeated"),
    ],
)
def test_literal_text(expression: str, expected: str) -> None:
    assert evaluate(expression, CHAT) == expected


# --- stringification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param({}, "", id="missing"),
        pytest.param({"v": None}, "", id="null"),
        pytest.param({"v": "text"}, "text", id="string"),
        pytest.param({"v": ""}, "", id="empty-string"),
        pytest.param({"v": '{"a": 1}'}, '{"a": 1}', id="string-not-reencoded"),
        pytest.param({"v": True}, "true", id="true"),
        pytest.param({"v": False}, "false", id="false"),
        pytest.param({"v": 1}, "1", id="int"),
        pytest.param({"v": -7}, "-7", id="negative-int"),
        pytest.param({"v": 10**30}, str(10**30), id="big-int"),
        pytest.param({"v": 1.5}, "1.5", id="float"),
        pytest.param({"v": 1.0}, "1.0", id="float-integral"),
        pytest.param({"v": 1e100}, "1e+100", id="float-exponent"),
        pytest.param({"v": ["a", "b"]}, "[a, b]", id="array-documented"),
        pytest.param({"v": []}, "[]", id="empty-array"),
        pytest.param({"v": [1, True, None, 2.5]}, "[1, true, , 2.5]", id="array-mixed"),
        pytest.param({"v": [[1, 2], ["x"]]}, "[[1, 2], [x]]", id="array-nested"),
        pytest.param({"v": [{"a": 1}]}, '[{"a":1}]', id="array-of-object"),
        pytest.param({"v": {"b": 1, "a": [1, 2]}}, '{"b":1,"a":[1,2]}', id="object-compact"),
        pytest.param({"v": {}}, "{}", id="empty-object"),
        pytest.param({"v": {"k": "é"}}, '{"k":"é"}', id="object-unicode"),
    ],
)
def test_stringification(document: object, expected: str) -> None:
    assert evaluate("$request.body.v", document) == expected


# --- compile errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        pytest.param("", "selection expression is empty", id="empty"),
        pytest.param("${request.body.action", "unterminated '${' at offset 0", id="unterminated"),
        pytest.param(
            "a-${request.body.a}-${", "unterminated '${' at offset 20", id="unterminated-2"
        ),
        pytest.param("$context.routeKey", "unsupported variable '$context.routeKey'", id="context"),
        pytest.param("${request.header.x}", "unsupported variable '${request.header.x}'", id="hdr"),
        pytest.param("$request.querystring.a", "reads only $request.body", id="querystring"),
        pytest.param("$default", "write \\$ for a literal dollar", id="unescaped-default"),
        pytest.param("$request.bodyx", "unsupported variable '$request.bodyx'", id="body-prefix"),
        pytest.param("${}", "unsupported variable '${}'", id="empty-braces"),
        pytest.param("${ request.body.a}", "unsupported variable", id="space-in-braces"),
        pytest.param(
            "$request.body.", "invalid JSONPath '.' after request.body", id="trailing-dot"
        ),
        pytest.param("$request.body..", "invalid JSONPath '..'", id="bare-descent"),
        pytest.param("$request.body[", "invalid JSONPath '['", id="open-bracket"),
        pytest.param("$request.body]", "unsupported variable '$request.body]'", id="close-bracket"),
        pytest.param("${request.body['x}", 'invalid JSONPath "[\'x"', id="open-quote"),
        pytest.param("${request.body.1a}", "invalid JSONPath '.1a'", id="bad-name"),
        pytest.param("${request.body[?(@.a)]}", "invalid JSONPath '[?(@.a)]'", id="filter"),
        pytest.param("${request.body.`foo`}", "invalid JSONPath '.`foo`'", id="named-operator"),
        pytest.param("$request.body.a[*]", "write ${...} around other paths", id="unbraced-star"),
        pytest.param("${request.body.a|b}", "unsupported JSONPath '.a|b'", id="union"),
        pytest.param("${request.body.a&b}", "unsupported JSONPath '.a&b'", id="intersection"),
    ],
)
def test_compile_errors(source: str, problem: str) -> None:
    with pytest.raises(SelectionExpressionError) as caught:
        compile_expression(source)
    message = str(caught.value)
    assert problem in message
    assert isinstance(caught.value, ConfigError)
    assert not message.endswith(".")
    if source:
        assert repr(source) in message  # names the expression


def test_invalid_path_chains_the_jsonpath_error() -> None:
    with pytest.raises(SelectionExpressionError) as caught:
        compile_expression("$request.body.")
    assert caught.value.__cause__ is not None


def test_compile_error_is_located_by_the_caller() -> None:
    with pytest.raises(SelectionExpressionError) as caught:
        compile_expression("$context.x")
    located = caught.value.at("routeSelectionExpression", "routes.yaml")
    assert str(located).startswith("routes.yaml: routeSelectionExpression: unsupported variable")


@given(st.text(alphabet="$\\{}[]'\".*-_ab0 request.body", max_size=30))
@settings(max_examples=300)
def test_compile_either_compiles_or_raises_the_domain_error(source: str) -> None:
    try:
        compiled = compile_expression(source)
    except SelectionExpressionError:
        return
    compiled.evaluate(CHAT)
    compiled.trace(OCPP)


# --- the compiled expression --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "static"),
    [
        pytest.param("action", True, id="word"),
        pytest.param(r"\$default", True, id="escaped"),
        pytest.param("$", True, id="lone-dollar"),
        pytest.param("$request.body.action", False, id="unbraced"),
        pytest.param("v${request.body.version}", False, id="mixed"),
        pytest.param("$request.body", False, id="whole-body"),
    ],
)
def test_is_static(source: str, static: bool) -> None:
    assert compile_expression(source).is_static is static


def test_expression_is_a_frozen_value_compared_by_source() -> None:
    first = compile_expression("${request.body.action}")
    assert first == compile_expression("${request.body.action}")
    assert hash(first) == hash(compile_expression("${request.body.action}"))
    assert first != compile_expression("$request.body.action")
    assert first.source == "${request.body.action}"
    assert "request.body.action" in repr(first)
    with pytest.raises(AttributeError):
        first.source = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "document", "result", "traces"),
    [
        pytest.param(
            "${request.body.service}/${request.body.nope}",
            CHAT,
            "chat/",
            (
                VariableTrace("${request.body.service}", "service", True, "chat", "chat"),
                VariableTrace("${request.body.nope}", "nope", False, None, ""),
            ),
            id="found-and-missing",
        ),
        pytest.param(
            "$request.body.data.room",
            CHAT,
            "room1234",
            (VariableTrace("$request.body.data.room", "data.room", True, "room1234", "room1234"),),
            id="nested",
        ),
        pytest.param(
            "$request.body[2]",
            OCPP,
            "StatusNotification",
            (
                VariableTrace(
                    "$request.body[2]", "[2]", True, "StatusNotification", "StatusNotification"
                ),
            ),
            id="index",
        ),
        pytest.param(
            "$request.body.v",
            {"v": None},
            "",
            (VariableTrace("$request.body.v", "v", True, None, ""),),
            id="null-is-found",
        ),
        pytest.param(
            "${request.body..room}",
            CHAT,
            "[room1234]",
            (VariableTrace("${request.body..room}", "..room", True, ["room1234"], "[room1234]"),),
            id="multi-match-is-a-list",
        ),
        pytest.param(
            "$request.body",
            [1],
            "[1]",
            (VariableTrace("$request.body", "", True, [1], "[1]"),),
            id="whole-body",
        ),
        pytest.param(r"\$default", CHAT, "$default", (), id="static"),
    ],
)
def test_trace(
    expression: str, document: object, result: str, traces: tuple[VariableTrace, ...]
) -> None:
    compiled = compile_expression(expression)
    assert compiled.trace(document) == (result, traces)
    assert compiled.evaluate(document) == result


# --- the selection algorithm ---------------------------------------------------------------

ACTION = "$request.body.action"
WITH_DEFAULT = ["$connect", "$disconnect", "$default", "join", "sendMessage"]
NO_DEFAULT = ["$connect", "$disconnect", "join"]
MATCHED, FALLBACK, NOT_JSON, FORBIDDEN = RouteReason


@pytest.mark.parametrize(
    ("expression", "route_keys", "body", "expected"),
    [
        pytest.param(
            ACTION, WITH_DEFAULT, '{"action":"join"}', ("join", MATCHED, "join"), id="match"
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"leave"}',
            ("$default", FALLBACK, "leave"),
            id="fallback",
        ),
        pytest.param(ACTION, WITH_DEFAULT, "{}", ("$default", FALLBACK, ""), id="missing-path"),
        pytest.param(ACTION, WITH_DEFAULT, "hello", ("$default", NOT_JSON, None), id="not-json"),
        pytest.param(ACTION, WITH_DEFAULT, "", ("$default", NOT_JSON, None), id="empty-body"),
        pytest.param(
            ACTION, WITH_DEFAULT, '{"action":', ("$default", NOT_JSON, None), id="truncated"
        ),
        pytest.param(ACTION, WITH_DEFAULT, "NaN", ("$default", NOT_JSON, None), id="nan-not-json"),
        pytest.param(
            ACTION, WITH_DEFAULT, '{"a":Infinity}', ("$default", NOT_JSON, None), id="infinity"
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            "{'action':'join'}",
            ("$default", NOT_JSON, None),
            id="single-quotes",
        ),
        pytest.param(
            ACTION, WITH_DEFAULT, ' {"action":"join"}\n', ("join", MATCHED, "join"), id="padded"
        ),
        pytest.param(ACTION, WITH_DEFAULT, "42", ("$default", FALLBACK, ""), id="json-number"),
        pytest.param(ACTION, WITH_DEFAULT, '"join"', ("$default", FALLBACK, ""), id="json-string"),
        pytest.param(ACTION, WITH_DEFAULT, "null", ("$default", FALLBACK, ""), id="json-null"),
        pytest.param(ACTION, WITH_DEFAULT, "[1,2]", ("$default", FALLBACK, ""), id="json-array"),
        pytest.param(
            ACTION, NO_DEFAULT, '{"action":"leave"}', (None, FORBIDDEN, "leave"), id="forbidden"
        ),
        pytest.param(ACTION, NO_DEFAULT, "hello", (None, FORBIDDEN, None), id="not-json-forbidden"),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"sendmessage"}',
            ("$default", FALLBACK, "sendmessage"),
            id="case-sensitive",
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"sendMessage"}',
            ("sendMessage", MATCHED, "sendMessage"),
            id="exact-case",
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"join "}',
            ("$default", FALLBACK, "join "),
            id="no-trimming",
        ),
        # jsonpath-ng's `parent` of the body itself: nothing, a missing path
        # (it failed inside jsonpath-ng on every message).
        pytest.param(
            "${request.body.`parent`}",
            WITH_DEFAULT,
            '{"action":"join"}',
            ("$default", FALLBACK, ""),
            id="parent-of-the-body",
        ),
        pytest.param(
            "${request.body.action.`parent`.action}",
            WITH_DEFAULT,
            '{"action":"join"}',
            ("$default", FALLBACK, "[join]"),  # not a singular path: a list
            id="parent-of-a-member",
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"$connect"}',
            ("$default", FALLBACK, "$connect"),
            id="never-connect",
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"$disconnect"}',
            ("$default", FALLBACK, "$disconnect"),
            id="never-disconnect",
        ),
        pytest.param(
            ACTION,
            NO_DEFAULT,
            '{"action":"$connect"}',
            (None, FORBIDDEN, "$connect"),
            id="never-connect-forbidden",
        ),
        pytest.param(
            ACTION,
            WITH_DEFAULT,
            '{"action":"$default"}',
            ("$default", MATCHED, "$default"),
            id="default-by-name",
        ),
        pytest.param(
            ACTION,
            NO_DEFAULT,
            '{"action":"$default"}',
            (None, FORBIDDEN, "$default"),
            id="default-undeclared",
        ),
        pytest.param(
            "$request.body[2]",
            ["StatusNotification"],
            json.dumps(OCPP),
            ("StatusNotification", MATCHED, "StatusNotification"),
            id="ocpp",
        ),
        pytest.param(
            "${request.body.service}/${request.body.action}",
            ["chat/join"],
            json.dumps(CHAT),
            ("chat/join", MATCHED, "chat/join"),
            id="composite",
        ),
        pytest.param("$request.body.n", ["1"], '{"n":1}', ("1", MATCHED, "1"), id="number-key"),
        pytest.param(
            "$request.body.ok", ["true"], '{"ok":true}', ("true", MATCHED, "true"), id="bool-key"
        ),
        pytest.param("join", ["join"], "{}", ("join", MATCHED, "join"), id="static-json"),
        pytest.param(
            "join",
            ["join", "$default"],
            "not json",
            ("$default", NOT_JSON, None),
            id="static-not-json",
        ),
        pytest.param(
            "join", ["join"], "not json", (None, FORBIDDEN, None), id="static-not-json-forbidden"
        ),
        pytest.param(
            "leave",
            ["join", "$default"],
            "{}",
            ("$default", FALLBACK, "leave"),
            id="static-fallback",
        ),
        pytest.param(
            r"\$default", ["$default"], "[]", ("$default", MATCHED, "$default"), id="static-default"
        ),
        pytest.param(
            r"\$connect", ["$connect"], "{}", (None, FORBIDDEN, "$connect"), id="static-connect"
        ),
    ],
)
def test_select(
    expression: str, route_keys: list[str], body: str, expected: tuple[Any, ...]
) -> None:
    assert decide(expression, route_keys, body) == RouteDecision(*expected)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"action":"join"}', id="match"),
        pytest.param('{"action":"nope"}', id="fallback"),
        pytest.param("[]", id="array"),
        pytest.param('"join"', id="string"),
    ],
)
@pytest.mark.parametrize("expression", [ACTION, "join", "${request.body..action}"])
def test_select_parsed_agrees_with_select(expression: str, body: str) -> None:
    selector = RouteSelector(compile_expression(expression), WITH_DEFAULT)
    assert selector.select_parsed(json.loads(body)) == selector.select(body)


def test_selector_accepts_any_iterable_and_exposes_its_inputs() -> None:
    expression = compile_expression(ACTION)
    selector = RouteSelector(expression, (key for key in ["join", "$default", "join"]))
    assert selector.expression is expression
    assert selector.route_keys == frozenset({"join", "$default"})
    assert selector.select('{"action":"join"}').route_key == "join"


def test_selector_rejects_a_string_of_route_keys() -> None:
    with pytest.raises(TypeError, match="not the string '\\$default'"):
        RouteSelector(compile_expression(ACTION), "$default")


def test_matched_decisions_are_precomputed() -> None:
    selector = RouteSelector(compile_expression(ACTION), WITH_DEFAULT)
    body = '{"action":"join"}'
    assert selector.select(body) is selector.select(body)


def _nested_list(depth: int) -> list[object]:
    document: list[object] = []
    for _ in range(depth):
        document = [document]
    return document


def test_too_deep_to_parse_is_not_json() -> None:
    body = "[" * 100_000 + "]" * 100_000
    assert decide(ACTION, WITH_DEFAULT, body) == RouteDecision("$default", NOT_JSON, None)


def test_too_deep_to_stringify_is_routed_like_non_json() -> None:
    selector = RouteSelector(compile_expression("$request.body"), NO_DEFAULT)
    decision = selector.select_parsed(_nested_list(100_000))
    assert decision == RouteDecision(None, FORBIDDEN, None)


# --- the fast path against jsonpath-ng ----------------------------------------------------

# These reach into the module on purpose: both evaluators must agree on every singular path.
_walk, _query, _MISSING = selection._walk, selection._query, selection._MISSING


def _variable(expression: str) -> Any:
    (variable,) = compile_expression(expression)._parts
    return variable


@pytest.mark.parametrize(
    ("expression", "steps"),
    [
        pytest.param("$request.body", (), id="whole-body"),
        pytest.param("$request.body.action", ("action",), id="name"),
        pytest.param("$request.body.data.room", ("data", "room"), id="nested"),
        pytest.param("$request.body[2]", (2,), id="index"),
        pytest.param("$request.body[-1]", (-1,), id="negative-index"),
        pytest.param("${request.body['a b'][0].c}", ("a b", 0, "c"), id="mixed"),
        pytest.param('$request.body["x"]', ("x",), id="double-quoted"),
        pytest.param("$request.body.0", ("0",), id="digit-name-is-a-name"),
        pytest.param("${request.body.(a.b)}", ("a", "b"), id="parenthesised"),
        pytest.param("${request.body[*]}", None, id="wildcard"),
        pytest.param("${request.body..a}", None, id="descendants"),
        pytest.param("${request.body[0,1]}", None, id="two-indexes"),
        pytest.param("${request.body['a','b']}", None, id="two-names"),
        pytest.param("${request.body[0:1]}", None, id="slice"),
        pytest.param("${request.body.$}", None, id="root-again"),
        pytest.param("${request.body.`this`}", None, id="this"),
    ],
)
def test_fast_path_is_taken_for_names_and_indexes_only(
    expression: str, steps: tuple[object, ...] | None
) -> None:
    assert _variable(expression).steps == steps


SINGULAR = [
    "$request.body",
    "$request.body.action",
    "$request.body.data.room",
    "$request.body.data",
    "$request.body[0]",
    "$request.body[2]",
    "$request.body[-1]",
    "$request.body[3].x",
    "$request.body.a[1].b",
    "$request.body.where",
    "$request.body.0",
]
DOCUMENTS = [CHAT, OCPP, {"a": [0, {"b": "deep"}]}, [1, 2, 3, {"x": None}], {"0": 0}, "s", None, []]


def _agree(variable: Any, document: object) -> None:
    walked = _walk(variable.steps, document)
    found = _query(variable.query, document)
    assert found == (_MISSING if walked is _MISSING else [walked])


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: json.dumps(d)[:24])
@pytest.mark.parametrize("expression", SINGULAR)
def test_fast_path_agrees_with_jsonpath_ng(expression: str, document: object) -> None:
    _agree(_variable(expression), document)


# --- properties ---------------------------------------------------------------------------

NAMES = ["a", "b", "where", "x y", "0", "it's", "back\\slash", "é", ""]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)
steps = st.lists(st.sampled_from(NAMES) | st.integers(min_value=-5, max_value=5), max_size=4)


def _render(step: str | int, style: int) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if style == 0 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step):
        return f".{step}"
    if style == 1 and '"' not in step and "\\" not in step:
        return f'["{step}"]'
    escaped = step.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def reference_text(value: object) -> str:
    """A second, independent reading of the stringification rules."""
    match value:
        case None:
            return ""
        case str():
            return value
        case bool():
            return str(value).lower()
        case int() | float():
            return json.dumps(value)
        case list():
            return "[" + ", ".join(map(reference_text, value)) + "]"
        case _:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reference_evaluate(document: object, path: list[str | int]) -> str:
    value = document
    for step in path:
        match value, step:
            case list(), int() if -len(value) <= step < len(value):
                value = value[step]
            case dict(), str() if step in value:
                value = value[step]
            case _:
                return ""
    return reference_text(value)


@given(document=json_values, path=steps, styles=st.lists(st.integers(0, 2), min_size=4))
@settings(max_examples=400)
def test_evaluate_agrees_with_a_reference(
    document: object, path: list[str | int], styles: list[int]
) -> None:
    rendered = "".join(_render(step, style) for step, style in zip(path, styles, strict=False))
    compiled = compile_expression(f"<${{request.body{rendered}}}>")
    expected = reference_evaluate(document, path)
    assert compiled.evaluate(document) == f"<{expected}>"
    (variable,) = (part for part in compiled._parts if not isinstance(part, str))
    assert variable.steps == tuple(path)
    _agree(variable, document)


@given(document=json_values)
@settings(max_examples=200, deadline=None)  # a property, not a timing: CI machines are shared
def test_evaluate_never_raises_on_json(document: object) -> None:
    for expression in [
        "${request.body..a}",
        "${request.body[*]}",
        "${request.body.*.b}",
        "$request.body",
    ]:
        result, traces = compile_expression(expression).trace(document)
        assert result == "".join(trace.text for trace in traces)
    body = json.dumps(document)
    assert RouteSelector(compile_expression(ACTION), ["$default"]).select(body).reason in {
        MATCHED,
        FALLBACK,
    }


# --- bounded work ---------------------------------------------------------------------------


def _chain(depth: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}: a small message on which each `..a` multiplies the work."""
    document: dict[str, Any] = {}
    for _ in range(depth):
        document = {"a": document}
    return document


INDEFINITE = [
    "${request.body..a}",
    "${request.body..a..b}",
    "${request.body..*}",
    "${request.body[*]}",
    "${request.body.*.b}",
    "${request.body..[0]}",
    "${request.body[0:2]}",
    "${request.body['a','b']}",
    "${request.body..b.`parent`}",
]


@given(document=json_values, expression=st.sampled_from(INDEFINITE))
@settings(max_examples=400, database=None)
def test_the_bounded_evaluation_agrees_with_jsonpath_ng(document: object, expression: str) -> None:
    variable = _variable(expression)
    expected = [match.value for match in variable.query.find(document)]
    assert _query(variable.query, document) == (expected if expected else _MISSING)


def test_two_descents_on_a_deep_message_stop_and_route_like_non_json() -> None:
    # Two `..` visit the square of the message: 400 levels (a 3 KB message) took
    # seconds; the evaluation stops past MAX_VISITS values instead.
    body = json.dumps(_chain(700))
    decision = decide("${request.body..a..a}", WITH_DEFAULT, body)
    assert decision == RouteDecision("$default", NOT_JSON, None)
    with pytest.raises(selection.TooMuchWork, match="visits more than"):
        evaluate("${request.body..a..a}", _chain(700))


@pytest.mark.parametrize(
    "expression", ["${request.body..b}", "${request.body..*}", "${request.body.a[*].b}"]
)
def test_a_path_with_one_descent_reads_the_largest_message_whole(expression: str) -> None:
    # 128 KB of JSON, some 40,000 values: every one of them may be visited.
    document = {"a": [{"b": n % 10} for n in range(13_000)]}
    assert len(json.dumps(document)) > 120_000
    evaluated = evaluate(expression, document)
    assert evaluated.count(", ") >= 12_999


def test_a_result_past_the_bound_stops() -> None:
    # Each match holds the rest of the chain: the result is the square of the message
    # (past 1 MiB from 600 levels). Well under the recursion limit, whatever the
    # stack the test runs on (pytest-xdist's workers start deeper).
    with pytest.raises(selection.TooMuchWork, match="longer than"):
        evaluate("${request.body..a}", _chain(650))


def test_three_descents_return_at_once() -> None:
    # Without a bound this never returns: in a fresh interpreter, with a guard.
    code = (
        "import json, sys\n"
        "from emulator.gateway.selection import RouteSelector\n"
        "from emulator.model.selection import compile_expression\n"
        "doc = {}\n"
        "for _ in range(900): doc = {'a': doc}\n"
        "selector = RouteSelector(compile_expression('${request.body..a..a..a}'), ['$default'])\n"
        "print(selector.select(json.dumps(doc)).reason.value)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "not-json"


# --- the module --------------------------------------------------------------------------


def test_public_api() -> None:
    assert sorted(selection.__all__) == [
        "MAX_RESULT",
        "MAX_VISITS",
        "MIN_VISITS",
        "SelectionExpression",
        "TooMuchWork",
        "VISITS_PER_VALUE",
        "VariableTrace",
        "compile_expression",
        "parse_body",
    ]
    assert sorted(gateway_selection.__all__) == ["RouteDecision", "RouteReason", "RouteSelector"]
    assert isinstance(compile_expression("x"), SelectionExpression)
    assert [reason.value for reason in RouteReason] == [
        "matched",
        "fallback",
        "not-json",
        "forbidden",
    ]


def test_module_is_pure() -> None:
    code = (
        "import sys, emulator.model.selection as s; "
        "print(sorted({'asyncio', 'websockets', 'socket'} & set(sys.modules)), 'time' in vars(s))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[] False"


# --- parse_body reads JSON as json's own decoder does ---------------------------------------


def _json_reads(body: str) -> tuple[bool, object]:
    """json's own reading, with NaN and Infinity refused as parse_body refuses them."""

    def reject(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        return True, json.JSONDecoder(parse_constant=reject).decode(body)
    except RecursionError:
        return False, "nested too deeply to read"
    except ValueError as exc:
        return False, str(exc)


def _parse_body_reads(body: str) -> tuple[bool, object]:
    try:
        return True, selection.parse_body(body)
    except ValueError as exc:
        return False, str(exc)


@pytest.mark.parametrize(
    "body",
    [
        '{"action":"join"}',
        ' \t\n\r{"action":"join"} \t\n\r',
        '{"action":"join"}   ',
        '{"action":"join"}x',
        '{"action":"join"} {}',
        "\x0c{}",  # form feed: not JSON whitespace
        "{}\x0c",
        "\ufeff{}",  # a byte order mark is not JSON either
        "\u00a0{}",
        "",
        " ",
        "\n\n",
        "42",
        " 42 ",
        "4 2",
        "-0.5e3",
        '"text"',
        "true",
        "null ",
        "nul",
        "NaN",
        "[NaN]",
        "-Infinity",
        '{"a": Infinity}',
        "[" * 50_000 + "]" * 50_000,
        '{"a":1,}',
        "[1,2]",
    ],
)
def test_parse_body_reads_what_json_reads(body: str) -> None:
    assert _parse_body_reads(body) == _json_reads(body)


@settings(max_examples=200)
@given(
    st.text(alphabet=' \t\n\r\x0c{}[]",:0123456789.eE+-abnlrstu\\', max_size=24)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    ).map(json.dumps)
)
def test_parse_body_agrees_with_json(body: str) -> None:
    assert _parse_body_reads(body) == _json_reads(body)


@pytest.mark.parametrize(
    "document",
    [
        {"action": "join"},
        {"action": ""},
        {"action": "é→\ud800"},
        {"action": 1},
        {"action": 1.5},
        {"action": True},
        {"action": None},
        {"action": ["a", 1]},
        {"action": {"b": "c"}},
        {"other": "join"},
        {},
        ["action"],
        "action",
        None,
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    "expression", ["$request.body.action", "${request.body.action}", "$request.body['action']"]
)
def test_one_member_reads_as_the_general_path_does(expression: str, document: object) -> None:
    compiled = compile_expression(expression)
    assert compiled.evaluate(document) == compiled.trace(document)[0]
