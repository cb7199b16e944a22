"""Request parameter mapping, resolved per request: ``Integration.RequestParameters`` (spec §A.2).

A pure module; the grammar is checked at load time by :mod:`emulator.model.mapping`.
A mapping's key is a destination,
``integration.request.{header|querystring|path}.NAME``; its value a source
(DG:websocket-api-data-mapping):

* ``route.request.header.NAME``, ``route.request.querystring.NAME`` and their
  ``multivalue`` forms: the ``$connect`` request's (header names match
  case-insensitively; multiple values are joined with ``,``, an [UNKNOWN] choice);
* ``route.request.body.JSONPATH``: the message, read like route selection does;
* ``context.NAME`` (dotted: ``context.authorizer.principalId``),
  ``stageVariables.NAME``;
* ``'static value'``: the text between the quotes, sent as is.

A source with no value (absent header, missing path, body not JSON) leaves its
destination out: REST's behaviour for absent optional parameters, [INFER] for
WebSocket APIs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from emulator.model.mapping import DESTINATION_PREFIX, body_expression, is_static

__all__ = [
    "MappedParameters",
    "RouteRequestData",
    "map_parameters",
    "route_parameter",
    "stringify_context",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class RouteRequestData:
    """What one route request offers to mappings and templates.

    ``headers`` and ``query`` hold every value per name, as received (empty
    outside ``$connect``, but for ``$disconnect``'s fixed headers); ``document``
    is the parsed body, or None when ``is_json`` is false. ``context`` holds the
    ``$context`` variables (spec §A.5.1).
    """

    body: str = ""
    document: object = None
    is_json: bool = False
    headers: Mapping[str, Sequence[str]] = field(default_factory=lambda: _EMPTY)
    query: Mapping[str, Sequence[str]] = field(default_factory=lambda: _EMPTY)
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    stage_variables: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class MappedParameters:
    """What a mapping adds to the integration request."""

    headers: tuple[tuple[str, str], ...] = ()
    querystring: tuple[tuple[str, str], ...] = ()
    path: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


def map_parameters(mapping: Mapping[str, str], data: RouteRequestData) -> MappedParameters:
    """Resolve ``mapping`` (already checked by :func:`mapping_problem`) against ``data``."""
    headers: list[tuple[str, str]] = []
    query: list[tuple[str, str]] = []
    path: dict[str, str] = {}
    for destination, source in mapping.items():
        kind, _, name = destination.removeprefix(DESTINATION_PREFIX).partition(".")
        value = _source_value(source, data)
        if value is None or value == "":
            continue
        if kind == "header":
            headers.append((name, value))
        elif kind == "querystring":
            query.append((name, value))
        else:
            path[name] = value
    return MappedParameters(tuple(headers), tuple(query), MappingProxyType(path))


def route_parameter(name: str, data: RouteRequestData) -> str | None:
    """The value of ``route.request.header.X`` (or another route source), or None."""
    return _source_value(name, data)


def _source_value(source: str, data: RouteRequestData) -> str | None:
    if is_static(source):
        return source[1:-1]
    if source.startswith("route.request.body"):
        if not data.is_json:
            return None
        return body_expression(source).evaluate(data.document)
    if source.startswith("route.request."):
        kind, _, name = source.removeprefix("route.request.").partition(".")
        table = data.headers if kind.endswith("header") else data.query
        values = _lookup(table, name, case_insensitive=kind.endswith("header"))
        if not values:
            return None
        return ",".join(values) if kind.startswith("multivalue") else values[-1]
    if source.startswith("stageVariables."):
        return data.stage_variables.get(source.removeprefix("stageVariables."))
    if source.startswith("context."):
        value: Any = data.context
        for part in source.removeprefix("context.").split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return stringify_context(value)
    return None


def _lookup(
    table: Mapping[str, Sequence[str]], name: str, *, case_insensitive: bool
) -> Sequence[str]:
    if not case_insensitive:
        return table.get(name, ())
    folded = name.lower()
    for key, values in table.items():
        if key.lower() == folded:
            return values
    return ()


def stringify_context(value: object) -> str | None:
    """A context value as a mapped parameter or an authorizer value: a string.

    AWS stringifies authorizer context values (``1`` → ``"1"``, ``true`` →
    ``"true"``, spec §A.5.1).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={stringify_context(v) or ''}" for k, v in value.items()) + "}"
    return str(value)
