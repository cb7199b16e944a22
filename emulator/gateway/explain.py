"""How API Gateway routes one message, step by step, in words.

The decision is the server's own (:class:`~emulator.model.selection.RouteSelector`);
this module only tells the story of it, for ``apigw-ws route``, the log and
anyone learning how route selection works.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from emulator.gateway.selection import RouteDecision, RouteReason, RouteSelector
from emulator.model.selection import SelectionExpression, TooMuchWork, parse_body

__all__ = ["Explanation", "explain"]

_LIFECYCLE = ("$connect", "$disconnect")


@dataclass(frozen=True)
class Explanation:
    decision: RouteDecision | None  # None when no route keys were given
    steps: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.steps)


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _parse(message: str) -> tuple[bool, object, str]:
    # The server's own reading of a body, so that the story and the decision agree.
    try:
        return True, parse_body(message), ""
    except ValueError as exc:
        return False, None, str(exc)


def explain(
    expression: SelectionExpression, message: str, route_keys: Collection[str] | None = None
) -> Explanation:
    """Explain how ``message`` is routed by ``expression`` among ``route_keys``."""
    steps = [f"expression: {expression.source}", f"message:    {message}", ""]
    is_json, document, error = _parse(message)
    decision = RouteSelector(expression, route_keys).select(message) if route_keys else None
    if not is_json:
        steps.append(f"1. The message is not JSON ({error}).")
        steps.append("   API Gateway does not evaluate the expression for it: non-JSON messages")
        steps.append("   go to the $default route (Developer Guide, route selection).")
        steps.extend(_conclusion(decision, None))
        return Explanation(decision, tuple(steps))
    try:
        shown = _show(document)
        result, traces = expression.trace(document)
    except (RecursionError, TooMuchWork) as exc:
        # As the server does: a document too deep to stringify, or one the path
        # would need unbounded work on, counts as not JSON.
        if isinstance(exc, RecursionError):
            steps.append("1. The message is JSON, but nested too deeply to evaluate.")
        else:
            steps.append(
                f"1. The message is JSON, but evaluating the expression on it stops: {exc}."
            )
        steps.append("   The server routes it like a message that is not JSON.")
        steps.extend(_conclusion(decision, None))
        return Explanation(decision, tuple(steps))
    steps.append(f"1. The message is JSON: {shown}")
    if not traces:
        steps.append(f"2. The expression has no variables: it is the static text {result!r}.")
    else:
        steps.append("2. Each variable of the expression, evaluated against the message:")
        width = max(len(t.source) for t in traces)
        for trace in traces:
            path = f"$.{trace.path}" if trace.path and trace.path[0] != "[" else f"${trace.path}"
            if trace.found:
                found = f"found {_show(trace.value)}, stringified {trace.text!r}"
            else:
                found = "found nothing, so it contributes ''"
            steps.append(f"     {trace.source.ljust(width)}  JSONPath {path}: {found}")
    steps.append(f"3. The expression evaluates to {result!r}.")
    steps.extend(_conclusion(decision, result, route_keys))
    return Explanation(decision, tuple(steps))


def _conclusion(
    decision: RouteDecision | None,
    result: str | None,
    route_keys: Collection[str] | None = None,
) -> list[str]:
    if decision is None:
        if result is None:
            return ["→ the $default route, if the API has one; else the Forbidden frame."]
        return [
            f"→ the route whose key is exactly {result!r}, if the API has one;",
            "  otherwise $default, and without $default the client gets the Forbidden frame.",
        ]
    keys = ", ".join(sorted(route_keys or ()))
    lines = [f"4. Route keys of the API: {keys}"] if result is not None else []
    if decision.reason is RouteReason.MATCHED:
        lines.append(f"→ {result!r} equals the route key exactly: route {decision.route_key}.")
    elif decision.reason is RouteReason.NOT_JSON:
        lines.append("→ route $default.")
    elif decision.reason is RouteReason.FALLBACK:
        if result in _LIFECYCLE:
            why = f"{result!r} names a lifecycle route, which a message never selects"
        else:
            why = f"no route key equals {result!r} (keys are compared exactly, case included)"
        lines.append(f"→ {why}: route $default.")
    else:
        why = "non-JSON" if result is None else f"no route key equals {result!r}"
        lines.append(f"→ {why}, and the API has no $default route: the client gets")
        lines.append(
            '  {"message": "Forbidden", "connectionId":"...", "requestId":"..."} '
            "and stays connected."
        )
    return lines
