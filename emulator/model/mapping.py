"""The grammar of request parameter mappings: ``Integration.RequestParameters`` (spec §A.2).

A pure module. A mapping's key is a destination,
``integration.request.{header|querystring|path}.NAME``; its value a source
(DG:websocket-api-data-mapping): ``route.request.header.NAME``,
``route.request.querystring.NAME`` and their ``multivalue`` forms,
``route.request.body.JSONPATH``, ``context.NAME``, ``stageVariables.NAME``, or
a ``'static value'``. :func:`mapping_problem` checks one at load time;
:mod:`emulator.gateway.integrations.mapping` resolves them per request.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from emulator.errors import SelectionExpressionError
from emulator.model.selection import SelectionExpression, compile_expression

__all__ = [
    "DESTINATION_KINDS",
    "DESTINATION_PREFIX",
    "body_expression",
    "is_static",
    "mapping_problem",
]

DESTINATION_KINDS: Final = ("header", "querystring", "path")
DESTINATION_PREFIX: Final = "integration.request."
# AWS: "PARAM_NAME must match the regular expression '^[a-zA-Z0-9._$-]+$'".
_NAME: Final = re.compile(r"[a-zA-Z0-9._$-]+")
_ROUTE_SOURCES: Final = ("header", "querystring", "multivalueheader", "multivaluequerystring")


def mapping_problem(destination: str, source: str) -> str | None:
    """Why ``destination: source`` is not a valid mapping, or None."""
    kind, _, name = destination.removeprefix(DESTINATION_PREFIX).partition(".")
    if not destination.startswith(DESTINATION_PREFIX) or kind not in DESTINATION_KINDS:
        return (
            f"destination {destination!r} must be integration.request.header.NAME,"
            " integration.request.querystring.NAME or integration.request.path.NAME"
        )
    if not _NAME.fullmatch(name):
        return f"destination {destination!r}: the name must match [a-zA-Z0-9._$-]+"
    if is_static(source):
        return None
    if source.startswith("route.request.body"):
        try:
            body_expression(source)
        except SelectionExpressionError as exc:
            return f"source {source!r}: {exc.problem}"
        return None
    prefix, _, rest = source.partition(".")
    if prefix == "route" and rest.startswith("request."):
        kind, _, name = rest.removeprefix("request.").partition(".")
        if kind in _ROUTE_SOURCES and _NAME.fullmatch(name):
            return None
    elif prefix in ("context", "stageVariables") and rest:
        return None
    return (
        f"source {source!r} must be route.request.header.NAME, route.request.querystring.NAME,"
        " route.request.body.PATH, context.NAME, stageVariables.NAME or a 'quoted' value"
    )


def is_static(source: str) -> bool:
    """Whether ``source`` is a ``'quoted'`` static value."""
    return len(source) >= 2 and source.startswith("'") and source.endswith("'")


@functools.lru_cache(maxsize=256)
def body_expression(source: str) -> SelectionExpression:
    """``route.request.body.a.b``, compiled: it reads like ``$request.body.a.b`` (spec §3.2.1)."""
    return compile_expression("${" + source.removeprefix("route.") + "}")
