"""The inspector's feed entries: what the page shows of each thing that happens.

A pure module: it turns the emulator's observer notifications (kinds ``open``,
``refuse``, ``frame``, ``invoke``, ``send``, ``close``) into the JSON-ready
entries :mod:`emulator.tools.inspector` sends, and explains a message's routing for
the page (:func:`route_report`). Bodies, events and results are clipped to a
few KB, with a marker saying how much is not shown.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from emulator.gateway.explain import explain
from emulator.gateway.selection import RouteDecision
from emulator.model.selection import SelectionExpression

if TYPE_CHECKING:
    from emulator.runtime.invocation import Invocation

__all__ = [
    "CLIP",
    "EVENT_CLIP",
    "STEP_CLIP",
    "clip",
    "entry_for",
    "frame_entry",
    "open_entry",
    "route_report",
    "to_json",
]

CLIP = 2048  # characters shown of a body, a post, a result
EVENT_CLIP = 4096  # characters shown of the event a handler got
STEP_CLIP = 400  # characters shown of one line of a routing explanation


def clip(text: str, limit: int = CLIP) -> str:
    """``text``, or its first ``limit`` characters and how many more there are."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters not shown]"


def to_json(value: object) -> str:
    """Compact JSON; ``repr`` for what JSON cannot hold, so that showing never fails."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):  # circular, or nested too deeply
        return repr(value)


def _decision(decision: RouteDecision | None) -> dict[str, Any]:
    if decision is None:  # explain() without route keys
        return {"routeKey": None, "reason": None, "evaluated": None}
    evaluated = None if decision.evaluated is None else clip(decision.evaluated)
    return {"routeKey": decision.route_key, "reason": decision.reason.value, "evaluated": evaluated}


def route_report(
    expression: SelectionExpression,
    message: str,
    route_keys: Collection[str],
    decision: RouteDecision | None = None,
) -> dict[str, Any]:
    """How ``message`` is routed, for the page: the decision, each variable, the story.

    The same code path as ``apigw-ws route`` (:func:`~emulator.gateway.explain.explain`);
    ``decision`` is the server's own, for a frame it routed.
    """
    explanation = explain(expression, message, route_keys)
    if decision is None:
        decision = explanation.decision
    traces: list[dict[str, Any]] = []
    # explain() parses the message too; the variables are evaluated only for JSON.
    if decision is None or decision.evaluated is not None:
        try:
            document = json.loads(message)
            variables = expression.trace(document)[1]
        except (ValueError, RecursionError):  # TooMuchWork is a ValueError
            pass
        else:
            for trace in variables:
                traces.append(
                    {
                        "source": trace.source,
                        "path": trace.path,
                        "found": trace.found,
                        "value": clip(to_json(trace.value)) if trace.found else None,
                        "text": clip(trace.text),
                    }
                )
    return {
        **_decision(decision),
        "expression": expression.source,
        "trace": traces,
        "steps": [clip(step, STEP_CLIP) for step in explanation.steps],
    }


def frame_entry(details: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """A ``frame`` notification's entry, with its :func:`route_report`."""
    body: str = details["body"]
    return {"kind": "frame", "id": details["connectionId"], "body": clip(body), **report}


def open_entry(details: Mapping[str, Any]) -> dict[str, Any]:
    """An ``open`` notification's entry, also a row of the open connections' table."""
    return {
        "kind": "open",
        "id": details["connectionId"],
        "sourceIp": details["sourceIp"],
        "userAgent": clip(details["userAgent"] or "", 200),
        "connectedAt": details["connectedAt"],
        "authorizer": details["authorizer"],
    }


def entry_for(kind: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """The entry of any notification but ``frame`` (``frame``: :func:`frame_entry`)."""
    if kind == "invoke":
        return _invoke_entry(details)
    if kind == "lambda":
        return _lambda_entry(details)
    if kind == "output":
        return {
            "kind": kind,
            "id": details.get("connectionId"),
            "function": details["function"],
            "requestId": details["requestId"] or None,
            "routeKey": details["routeKey"] or None,
            "stream": details["stream"],
            "level": details["level"],
            "text": clip(details["text"]),
        }
    if kind == "send":
        data = details["data"]
        shown = clip(data) if isinstance(data, str) else f"[{len(data)} bytes, binary]"
        return {
            "kind": kind,
            "id": details["connectionId"],
            "data": shown,
            "source": details["source"],
        }
    if kind == "open":
        return open_entry(details)
    if kind == "refuse":
        return {
            "kind": kind,
            "id": details["connectionId"],
            "sourceIp": details["sourceIp"],
            "path": clip(details["path"], 200),
            "status": details["status"],
        }
    if kind == "close":
        return {"kind": kind, "id": details["connectionId"], "code": details["code"]}
    return {"kind": kind, "details": clip(to_json(dict(details)))}  # a kind added later


def _lambda_entry(details: Mapping[str, Any]) -> dict[str, Any]:
    """A function invoked through the Lambda API (by another function, or over HTTP)."""
    invocation: Invocation = details["invocation"]
    error = invocation.error
    scope = invocation.scope
    return {
        "kind": "lambda",
        "function": details["function"],
        "invocationType": details["invocationType"],
        "caller": details["caller"],
        "requestId": scope.request_id if scope is not None else None,
        "outcome": invocation.outcome.value,
        "durationMs": round(invocation.duration_ms, 2),
        "posts": scope.posts if scope is not None else 0,
        "result": None if invocation.value is None else clip(to_json(invocation.value)),
        "error": None if error is None else clip(f"{type(error).__name__}: {error}"),
        "event": clip(to_json(details["event"]), EVENT_CLIP),
    }


def _invoke_entry(details: Mapping[str, Any]) -> dict[str, Any]:
    invocation: Invocation = details["invocation"]
    event = details["event"]
    context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(context, dict):
        context = {}
    error = invocation.error
    return {
        "kind": "invoke",
        "id": context.get("connectionId"),
        "routeKey": details["routeKey"],
        "requestId": context.get("requestId"),
        "lambdaRequestId": invocation.scope.request_id if invocation.scope is not None else None,
        "outcome": invocation.outcome.value,
        "durationMs": round(invocation.duration_ms, 2),
        "posts": invocation.scope.posts if invocation.scope is not None else 0,
        "result": None if invocation.value is None else clip(to_json(invocation.value)),
        "error": None if error is None else clip(f"{type(error).__name__}: {error}"),
        "event": clip(to_json(event), EVENT_CLIP),
    }
