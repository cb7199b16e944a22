"""Route selection: the first step of the pipeline, a route for every message (spec §3.2.2).

A pure module. The route selection expression (compiled by
:mod:`emulator.model.selection`) is evaluated on the message's JSON body; the
result must equal a route key exactly (case-sensitive); otherwise the message
goes to ``$default``, and without ``$default`` the client gets the Forbidden
frame. Non-JSON messages go to ``$default``. The :class:`RouteSelector` runs on
every frame, so it precomputes every decision it can.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from emulator.model.selection import SelectionExpression, TooMuchWork, parse_body

__all__ = ["RouteDecision", "RouteReason", "RouteSelector"]

_DEFAULT_ROUTE: Final = "$default"
# AWS ignores the expression for $connect/$disconnect (localstack#7153); whether a
# message may select them is [UNKNOWN]: we follow the spec's recommendation (never).
_LIFECYCLE_ROUTES: Final = frozenset({"$connect", "$disconnect"})


class RouteReason(enum.StrEnum):
    """Why a message went where it went; each member is its text (``matched``)."""

    MATCHED = "matched"  # the evaluated key equals a declared route key
    FALLBACK = "fallback"  # JSON, but no route matched -> $default
    NOT_JSON = "not-json"  # the body is not JSON -> $default
    FORBIDDEN = "forbidden"  # no route and no $default -> the Forbidden frame


@dataclass(frozen=True, init=False)
class RouteDecision:
    """The outcome of route selection for one message.

    ``evaluated`` is None when the body was not JSON (reason ``NOT_JSON``, or
    ``FORBIDDEN`` when there is no ``$default`` either).
    """

    route_key: str | None  # None only when FORBIDDEN
    reason: RouteReason
    evaluated: str | None

    # One per message that falls back: set through the instance's dict, as
    # Invocation's (emulator.runtime.invocation says why); tests/test_values.py pins it.
    def __init__(self, route_key: str | None, reason: RouteReason, evaluated: str | None) -> None:
        fields = self.__dict__
        fields["route_key"] = route_key
        fields["reason"] = reason
        fields["evaluated"] = evaluated


class RouteSelector:
    """Selects the route of each message (spec §3.2.2).

    AWS: "Non-JSON messages are directed to a $default route"; otherwise the route
    whose key "exactly matches" the evaluated expression, else ``$default``, else the
    client receives ``{"message": "Forbidden", ...}`` (DG:websocket-api-develop-routes).
    """

    __slots__ = ("_expression", "_fallback", "_matched", "_not_json", "_route_keys", "_static")

    def __init__(self, expression: SelectionExpression, route_keys: Iterable[str]) -> None:
        if isinstance(route_keys, str):
            raise TypeError(
                f"route_keys must be an iterable of keys, not the string {route_keys!r}"
            )
        self._expression = expression
        self._route_keys = frozenset(route_keys)
        has_default = _DEFAULT_ROUTE in self._route_keys
        self._matched = {
            key: RouteDecision(key, RouteReason.MATCHED, key)
            for key in self._route_keys - _LIFECYCLE_ROUTES
        }
        self._fallback = (
            (_DEFAULT_ROUTE, RouteReason.FALLBACK) if has_default else (None, RouteReason.FORBIDDEN)
        )
        self._not_json = (
            RouteDecision(_DEFAULT_ROUTE, RouteReason.NOT_JSON, None)
            if has_default
            else RouteDecision(None, RouteReason.FORBIDDEN, None)
        )
        static = expression.evaluate(None) if expression.is_static else None
        self._static = None if static is None else self._decide(static)

    @property
    def expression(self) -> SelectionExpression:
        return self._expression

    @property
    def route_keys(self) -> frozenset[str]:
        """Every declared route key, ``$connect``/``$disconnect`` included."""
        return self._route_keys

    def select(self, body: str) -> RouteDecision:
        """Select the route of a text message."""
        try:
            document = parse_body(body)
        except ValueError:  # not JSON, or nested too deeply to read
            return self._not_json
        return self.select_parsed(document)

    def select_parsed(self, document: object) -> RouteDecision:
        """Select the route of a message whose body the caller already parsed as JSON."""
        if self._static is not None:
            return self._static  # still only after the body proved to be JSON
        try:
            key = self._expression.evaluate(document)
        except (RecursionError, TooMuchWork):
            # A document at the interpreter's nesting limit (json.loads accepted it,
            # stringifying it did not), or one the path would need unbounded work on:
            # route it like a body that is not JSON.
            return self._not_json
        return self._decide(key)

    def _decide(self, key: str) -> RouteDecision:
        decision = self._matched.get(key)
        if decision is not None:
            return decision
        route_key, reason = self._fallback
        return RouteDecision(route_key, reason, key)
