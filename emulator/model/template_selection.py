"""Template selection expressions of integrations and integration responses (spec §A.4).

A pure module. An integration's ``templateSelectionExpression`` "supports
``${request.body.jsonPath}`` and static values"; an integration response's also
``${integration.response.statuscode}``, ``${integration.response.header.NAME}``
and ``${integration.response.multivalueheader.NAME}``
(DG:websocket-api-data-transformations). The grammar is the route selection
expression's (spec §3.2.1): ``$name`` or ``${name}`` mixed with literal text,
``\\$`` a literal dollar. ``request.body`` paths are evaluated by
:mod:`emulator.model.selection`, so JSONPath and stringification are the same.
``integration.response.body.*`` is accepted but always evaluates to ``""``:
AWS-validated tests show it never selects a template (spec §A.4.6).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from emulator.errors import SelectionExpressionError
from emulator.model.selection import SelectionExpression, compile_expression

__all__ = ["SelectionInput", "TemplateSelection", "compile_template_selection"]

# The route selection expression's tokens (spec §3.2.3), with the wider name set.
_TOKEN: Final = re.compile(r"\\\$|\$\{([^}]*)(\}?)|\$([A-Za-z0-9_.\[\]'\"-]+)")
_STATUS: Final = "integration.response.statuscode"
_HEADER: Final = "integration.response.header."
_MULTI_HEADER: Final = "integration.response.multivalueheader."
_RESPONSE_BODY: Final = "integration.response.body"


@dataclass(frozen=True)
class SelectionInput:
    """What an expression may read. ``document`` is the parsed request body
    (``None`` when it is not JSON); ``headers`` are the integration response's."""

    document: object = None
    status_code: int | None = None
    headers: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class _Part:
    kind: str  # "text", "body", "status", "header", "multiheader", "empty"
    value: str = ""
    body: SelectionExpression | None = None


@dataclass(frozen=True)
class TemplateSelection:
    """A compiled template selection expression; build with :func:`compile_template_selection`."""

    source: str
    _parts: tuple[_Part, ...] = field(repr=False, compare=False)

    @property
    def is_static(self) -> bool:
        return all(part.kind == "text" for part in self._parts)

    def evaluate(self, given: SelectionInput) -> str:
        return "".join(_evaluate(part, given) for part in self._parts)


def _evaluate(part: _Part, given: SelectionInput) -> str:
    if part.kind == "text":
        return part.value
    if part.kind == "body":
        assert part.body is not None
        return part.body.evaluate(given.document)
    if part.kind == "status":
        return "" if given.status_code is None else str(given.status_code)
    if part.kind in ("header", "multiheader"):
        values = [v for n, v in given.headers if n.lower() == part.value]
        if not values:
            return ""
        return ",".join(values) if part.kind == "multiheader" else values[-1]
    return ""


def compile_template_selection(source: str) -> TemplateSelection:
    """Compile an expression, or raise :class:`SelectionExpressionError`."""
    if not source:
        raise SelectionExpressionError("template selection expression is empty")
    parts: list[_Part] = []
    position = 0
    for match in _TOKEN.finditer(source):
        if match.start() > position:
            parts.append(_Part("text", source[position : match.start()]))
        position = match.end()
        braced, closed, bare = match.groups()
        if braced is None and bare is None:
            parts.append(_Part("text", "$"))
            continue
        if bare is None and not closed:
            problem = f"unterminated '${{' at offset {match.start()} in selection expression"
            raise SelectionExpressionError(f"{problem} {source!r}")
        parts.append(_variable(source, bare or braced))
    if position < len(source):
        parts.append(_Part("text", source[position:]))
    return TemplateSelection(source, tuple(parts))


def _variable(source: str, name: str) -> _Part:
    if name == "request.body" or name.startswith(("request.body.", "request.body[")):
        return _Part("body", body=compile_expression("${" + name + "}"))
    if name == _STATUS:
        return _Part("status")
    if name.startswith(_HEADER) and len(name) > len(_HEADER):
        return _Part("header", name[len(_HEADER) :].lower())
    if name.startswith(_MULTI_HEADER) and len(name) > len(_MULTI_HEADER):
        return _Part("multiheader", name[len(_MULTI_HEADER) :].lower())
    if name == _RESPONSE_BODY or name.startswith(_RESPONSE_BODY + "."):
        return _Part("empty")
    raise SelectionExpressionError(
        f"unsupported variable {name!r} in template selection expression {source!r}: "
        "supported are request.body.*, integration.response.statuscode, "
        "integration.response.header.* and integration.response.multivalueheader.*"
    )
