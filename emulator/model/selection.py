"""Route selection expressions: compiled once, evaluated on a message's JSON body.

Implements spec §3.2, after the AWS Developer Guide pages "Working with selection
expressions for WebSocket APIs" (DG:apigateway-websocket-api-selection-expressions)
and "Working with routes for WebSocket APIs" (DG:websocket-api-develop-routes):

* ``$request.body.<JSONPath>`` and ``${request.body.<JSONPath>}`` read the message,
  mixed with literal text; ``\\$`` is a literal dollar (as in ``\\$default``).
* Each variable's result is stringified; a path that matches nothing gives ``""``.
* The result must equal a route key exactly (case-sensitive); otherwise the message
  goes to ``$default``, and without ``$default`` the client gets the Forbidden frame.
  Non-JSON messages go to ``$default``.

An expression is compiled once, at load time (:func:`compile_expression`);
:class:`~emulator.gateway.selection.RouteSelector` evaluates it on every frame.
This is the only module that imports ``jsonpath_ng``.

The work per message is bounded. Most paths are single names and indexes,
followed step by step. Other paths are evaluated by jsonpath-ng node by node,
counting the JSON values they visit: a path with two ``..`` visits the square of
a message's size (a 3 KB message nested 400 deep took seconds). A path may
visit four times the values of the message (any path with at most one ``..``
fits), at least :data:`MIN_VISITS` and at most :data:`MAX_VISITS`; past that,
or past :data:`MAX_RESULT` characters of result, the evaluation stops with
:class:`TooMuchWork` and the message is routed like one that is not JSON.
AWS's behaviour there is [UNKNOWN].
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.jsonpath import (
    Child,
    DatumInContext,
    Descendants,
    Fields,
    Index,
    JSONPath,
    Parent,
    Root,
)
from jsonpath_ng.lexer import JsonPathLexer
from jsonpath_ng.parser import JsonPathParser

from emulator.errors import SelectionExpressionError

__all__ = [
    "MAX_RESULT",
    "MAX_VISITS",
    "MIN_VISITS",
    "VISITS_PER_VALUE",
    "SelectionExpression",
    "TooMuchWork",
    "VariableTrace",
    "compile_expression",
    "parse_body",
]

# JSON values one evaluation of a variable may visit: VISITS_PER_VALUE times the
# message's values, within these bounds. A message of 128 KB holds at most some
# 64k values; a path with at most one `..` visits each at most three times.
VISITS_PER_VALUE: Final = 4
MIN_VISITS: Final = 10_000
MAX_VISITS: Final = 500_000
# Characters of one variable's stringified result: a result longer than any
# route key or template key can only fall back anyway.
MAX_RESULT: Final = 1 << 20


class TooMuchWork(ValueError):
    """Evaluating a path on this document would take more than the bounded work."""


_BODY: Final = "request.body"
_MISSING: Final = object()

# `\$`, `${...}` (group 1, group 2 is the closing brace), or a bare `$name` whose
# token extends over [A-Za-z0-9_.[]'"-] (spec §3.2.3; AWS's exact tokenisation is
# [UNKNOWN]). A `$` followed by none of these stays literal, as in the spec's sketch.
_TOKEN: Final = re.compile(r"\\\$|\$\{([^}]*)(\}?)|\$([A-Za-z0-9_.\[\]'\"-]+)")

_Step = str | int  # str: an object member; int: an array index (negative from the end)


class _Lexer(JsonPathLexer):
    """jsonpath-ng's lexer without its ``where``/``wherenot`` keywords.

    They are jsonpath-ng extensions, not JSONPath; without this, ``$request.body.where``
    (a valid expression on AWS) would not compile.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reserved_words = {}


@dataclass(frozen=True)
class VariableTrace:
    """How one variable of an expression evaluated, for explaining a decision."""

    source: str  # as written: "$request.body.action", "${request.body.data.room}"
    path: str  # the JSONPath after request.body: "action", "data.room", "[2]", ""
    found: bool  # whether the path matched anything
    value: object  # the raw JSON value (a list for a multi-match path); None if not found
    text: str  # its stringification


@dataclass(frozen=True)
class _Variable:
    source: str
    path: str
    query: JSONPath
    # The fast path: set when the query is only single names and single indexes,
    # which is also what makes it singular (one value, not a list).
    steps: tuple[_Step, ...] | None

    def lookup(self, document: object) -> object:
        if self.steps is not None:
            return _walk(self.steps, document)
        return _query(self.query, document)


@dataclass(frozen=True)
class SelectionExpression:
    """A compiled route selection expression; build it with :func:`compile_expression`."""

    source: str
    _parts: tuple[str | _Variable, ...] = field(repr=False, compare=False)
    _static: str | None = field(repr=False, compare=False)
    # The usual expression, one member of the body (``$request.body.action``):
    # its name, read straight from the document when it holds a string.
    _member: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_static(self) -> bool:
        """True when the expression has no variables (``action``, ``\\$default``)."""
        return self._static is not None

    def evaluate(self, document: object) -> str:
        """The expression's result on an already parsed JSON document."""
        if self._static is not None:
            return self._static
        member = self._member
        if member is not None and type(document) is dict:
            value = document.get(member)
            if type(value) is str:
                return value  # what the general way below makes of it, without its calls
        return "".join(
            [p if isinstance(p, str) else _stringify(p.lookup(document)) for p in self._parts]
        )

    def trace(self, document: object) -> tuple[str, tuple[VariableTrace, ...]]:
        """Like :meth:`evaluate`, with how each variable evaluated."""
        pieces: list[str] = []
        traces: list[VariableTrace] = []
        for part in self._parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = part.lookup(document)
            found = value is not _MISSING
            text = _stringify(value)
            traces.append(
                VariableTrace(part.source, part.path, found, value if found else None, text)
            )
            pieces.append(text)
        return "".join(pieces), tuple(traces)


def compile_expression(source: str) -> SelectionExpression:
    """Compile a route selection expression, or raise :class:`SelectionExpressionError`."""
    if not source:
        raise SelectionExpressionError("selection expression is empty")
    parts: list[str | _Variable] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(source):
        literal.append(source[position : match.start()])
        position = match.end()
        braced, closed, bare = match.groups()
        if braced is None and bare is None:
            literal.append("$")  # `\$`
            continue
        if bare is None and not closed:
            problem = f"unterminated '${{' at offset {match.start()} in selection expression"
            raise SelectionExpressionError(f"{problem} {source!r}")
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(_compile_variable(source, match.group(0), bare or braced))
    literal.append(source[position:])
    if "".join(literal):
        parts.append("".join(literal))
    static = None if any(isinstance(p, _Variable) for p in parts) else "".join(map(str, parts))
    member = None
    if len(parts) == 1 and isinstance(parts[0], _Variable):
        steps = parts[0].steps
        if steps is not None and len(steps) == 1 and isinstance(steps[0], str):
            member = steps[0]
    return SelectionExpression(source, tuple(parts), static, member)


def parse_body(body: str) -> object:
    """A message body as JSON the way route selection reads it.

    Raises ``ValueError`` when API Gateway would not take it as JSON: invalid,
    NaN or Infinity (not JSON per RFC 8259), or nested beyond what can be read.
    """
    # JSONDecoder.decode's steps (whitespace, one value, whitespace, the end, and
    # its errors) on its scanner, without the two method calls and two regex
    # matches it costs a frame whose first character is not whitespace.
    start = 0 if body[:1] not in _JSON_SPACE else _after_space(body, 0)
    try:
        document, end = _SCAN(body, start)
    except StopIteration as stop:  # the scanner's "no value here", at stop.value
        raise json.JSONDecodeError("Expecting value", body, stop.value) from None
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    if end != len(body):
        end = _after_space(body, end)
        if end != len(body):
            raise json.JSONDecodeError("Extra data", body, end)
    return document


def _after_space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    assert match is not None, "[ \t\n\r]* matches the empty string"
    return match.end()


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are not JSON (RFC 8259); Python's json accepts them by default.
# One decoder, built once: json.loads(body, **kw) would build a new one per frame.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
# The scanner decode() runs (C), set on each decoder; not in typeshed's stubs.
_SCAN: Final[Callable[[str, int], tuple[object, int]]] = vars(_DECODER)["scan_once"]
# JSON's whitespace (RFC 8259 §2), as json.decoder's own WHITESPACE.
_JSON_SPACE: Final = " \t\n\r"
_SPACE: Final = re.compile(r"[ \t\n\r]*")


def _compile_variable(expression: str, written: str, name: str) -> _Variable:
    rest = name[len(_BODY) :]
    if not name.startswith(_BODY) or rest[:1] not in ("", ".", "["):
        raise SelectionExpressionError(
            f"unsupported variable {written!r} in selection expression {expression!r}: "
            "route selection reads only $request.body (write \\$ for a literal dollar)"
        )
    path = rest[1:] if rest.startswith(".") and not rest.startswith("..") else rest
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            query = JsonPathParser(lexer_class=_Lexer).parse("$" + rest)
    except JSONPathError as exc:
        problem = f"invalid JSONPath {rest!r} after request.body in selection expression"
        problem += f" {expression!r}: {str(exc).strip()}"
        if not written.startswith("${"):
            problem += " (an unbraced variable ends before any character but A-Za-z0-9_.[]'\"-;"
            problem += " write ${...} around other paths)"
        raise SelectionExpressionError(problem) from exc
    if caught:  # `|` and `&`: deprecated by jsonpath-ng, not JSONPath at all
        problem = f"unsupported JSONPath {rest!r} in selection expression {expression!r}"
        raise SelectionExpressionError(f"{problem}: {str(caught[0].message).rstrip('.')}")
    return _Variable(written, path, query, _steps(query))


def _flatten(node: JSONPath) -> list[JSONPath]:
    if isinstance(node, Child):
        return _flatten(node.left) + _flatten(node.right)
    return [node]


def _steps(query: JSONPath) -> tuple[_Step, ...] | None:
    """The query as member/index steps, or None when it needs jsonpath-ng."""
    root, *nodes = _flatten(query)
    if not isinstance(root, Root):
        return None
    steps: list[_Step] = []
    for node in nodes:
        if isinstance(node, Fields) and len(node.fields) == 1:
            steps.append(node.fields[0])
        elif isinstance(node, Index) and len(node.indices) == 1:
            steps.append(node.indices[0])
        else:
            return None
    return tuple(steps)


def _walk(steps: tuple[_Step, ...], document: object) -> object:
    """Follow ``steps``; the same result as jsonpath-ng's ``find`` on a singular path."""
    current = document
    for step in steps:
        if isinstance(step, str):
            if not isinstance(current, dict):
                return _MISSING
            current = current.get(step, _MISSING)
            if current is _MISSING:
                return _MISSING
        elif isinstance(current, (list, tuple)) and -len(current) <= step < len(current):
            current = current[step]
        else:
            return _MISSING
    return current


def _query(query: JSONPath, document: object) -> object:
    # A path that can match several nodes ([*], .., slices, a,b) gives a list even
    # for one match, as Jayway JsonPath does for "indefinite" paths; nothing matched
    # is a missing path (""). AWS's behaviour for these paths is [UNKNOWN].
    budget = [min(MAX_VISITS, max(MIN_VISITS, VISITS_PER_VALUE * _count_values(document)))]
    values = [match.value for match in _find(query, [DatumInContext.wrap(document)], budget)]
    return values if values else _MISSING


# A member's path as jsonpath-ng builds it: since 1.8, Fields("*") would be the
# deprecated wildcard, so a member named "*" needs its compliant constructor.
_field_path = getattr(Fields, "_compliant_constructor", Fields)


def _count_values(document: object) -> int:
    """How many values ``document`` holds, itself included (without recursion)."""
    count = 0
    stack = [document]
    while stack:
        value = stack.pop()
        count += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


def _spend(budget: list[int], visits: int) -> None:
    budget[0] -= visits
    if budget[0] < 0:
        raise TooMuchWork(
            f"the path visits more than {VISITS_PER_VALUE} times the message's values"
        )


def _find(node: JSONPath, data: list[DatumInContext], budget: list[int]) -> list[DatumInContext]:
    """jsonpath-ng's ``find``, node by node, counting the values visited.

    Child and Descendants are walked here (they are what multiplies work);
    every other node (names, indexes, slices, wildcards, ``parent``) finds among
    one value's children, and is left to jsonpath-ng.
    """
    if isinstance(node, Child):
        return _find(node.right, _find(node.left, data, budget), budget)
    if isinstance(node, Descendants):
        # As jsonpath-ng's Descendants.find: <right> on each value under each
        # <left> match, depth first, in pre-order.
        matches: list[DatumInContext] = []
        stack = _find(node.left, data, budget)[::-1]
        while stack:
            datum = stack.pop()
            _spend(budget, 1)
            matches.extend(_find(node.right, [datum], budget))
            value = datum.value
            if isinstance(value, list):
                stack.extend(
                    DatumInContext(value[i], context=datum, path=Index(i))
                    for i in range(len(value) - 1, -1, -1)
                )
            elif isinstance(value, dict):
                stack.extend(
                    DatumInContext(child, context=datum, path=_field_path(field))
                    for field, child in reversed(value.items())
                )
        return matches
    found: list[DatumInContext] = []
    for datum in data:
        if datum.context is None and isinstance(node, Parent):
            # The body itself has no parent: nothing matches (jsonpath-ng
            # would fail an assertion, on every message).
            continue
        matches = node.find(datum)
        _spend(budget, len(matches) + 1)
        found.extend(matches)
    return found


def _stringify(value: object) -> str:
    # AWS documents only arrays ("[item1, item2]"); the rest is [UNKNOWN] and follows
    # the spec's recommendation: 1 -> "1", true -> "true", null -> "", objects compact.
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_stringify_items(value)) + "]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _stringify_items(items: list[object] | tuple[object, ...]) -> Iterator[str]:
    size = 0
    for item in items:
        text = _stringify(item)
        size += len(text) + 2
        if size > MAX_RESULT:
            raise TooMuchWork(f"the path's result is longer than {MAX_RESULT} characters")
        yield text
