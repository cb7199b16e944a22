"""The gateway's log: one line per connect, frame and close (``emulator.events``).

Each line says which connection, which route and why, which integration, how
long it took and what came of it; the ``apigw`` extra carries the same as
fields, for ``--log-format json`` and for tools. Callers check
``EVENTS.isEnabledFor(logging.INFO)`` first, so that nothing is built for a
line nobody reads.

A line costs a LogRecord only when someone may want one. ``apigw-ws serve``
registers its handler as a :class:`LineWriter` (:func:`write_lines_to`): while
that handler is the only one a line would reach, with no filter on the way,
the line's text goes to it directly, without a record, its fields or the
caller's frame being looked up. A handler or filter of the user's (pytest's
``caplog``, a ``logging.config`` of their own) gets records as before.
"""

from __future__ import annotations

import logging
from typing import Any

from emulator.runtime.invocation import Invocation

__all__ = ["EVENTS", "LineWriter", "log_close", "log_connect", "log_frame", "write_lines_to"]

EVENTS = logging.getLogger("emulator.events")
_EMULATOR = logging.getLogger("emulator")
_ROOT = logging.getLogger()


class LineWriter(logging.Handler):
    """A logging handler that also takes a line of the gateway's log as text."""

    def write_line(self, text: str) -> None:
        raise NotImplementedError


_writer: LineWriter | None = None  # the handler serve installed on the root logger


def write_lines_to(writer: LineWriter | None) -> None:
    """Give the gateway's lines to ``writer`` (a handler on the root logger)
    while it is the only handler they would reach; None: records again."""
    global _writer
    _writer = writer


def _wrote(text: str) -> bool:
    """Hand ``text`` to the writer, if a record would reach it and nothing else
    (the same loggers' handlers, filters and propagation as
    ``Logger.callHandlers``); False: the caller logs a record."""
    writer = _writer
    roots = _ROOT.handlers
    if (
        writer is None
        or len(roots) != 1
        or roots[0] is not writer
        or writer.filters
        or writer.level > logging.INFO
        or EVENTS.handlers
        or EVENTS.filters
        or not EVENTS.propagate
        or _EMULATOR.handlers
        or _EMULATOR.filters
        or not _EMULATOR.propagate
        or _ROOT.filters
    ):
        return False
    writer.write_line(text)
    return True


def _outcome(invocation: Invocation) -> str:
    """``0.8 ms ok, 2 posted``: how an invocation went."""
    scope = invocation.scope
    text = f"{invocation.duration_ms:.1f} ms {invocation.outcome}"
    if invocation.error is not None:
        text += f": {type(invocation.error).__name__}: {invocation.error}"
    if scope is not None and scope.posts:
        text += f", {scope.posts} posted"
    return text


def _details(
    invocation: Invocation | None, handler: str | None, request_id: str | None
) -> dict[str, Any]:
    """The fields of an integration's run, the same whatever its type."""
    if invocation is None:
        return {}
    scope = invocation.scope
    details: dict[str, Any] = {
        "handler": handler,
        "durationMs": round(invocation.duration_ms, 3),
        "outcome": invocation.outcome.value,
        "requestId": request_id,  # API Gateway's
        "lambdaRequestId": None if scope is None else scope.request_id or None,
        "posts": 0 if scope is None else scope.posts,
    }
    if invocation.error is not None:
        details["error"] = f"{type(invocation.error).__name__}: {invocation.error}"
    return details


def log_connect(
    connection_id: str,
    source_ip: str,
    status: int,
    handler: str | None,
    invocation: Invocation | None,
    why: str = "",
    step: str = "$connect",
    request_id: str | None = None,
) -> None:
    answer = "open" if 200 <= status < 300 else f"refused {status}"
    text = f"{connection_id} connect from {source_ip}: {answer}"
    if why:
        text += f", {why}"
    if handler is not None and invocation is not None:
        text += f" ({step} {handler} {_outcome(invocation)})"
    if _wrote(text):
        return
    EVENTS.info(
        text,
        extra={
            "apigw": {
                "kind": "connect",
                "connectionId": connection_id,
                "sourceIp": source_ip,
                "status": status,
                "step": step,
                "why": why,
                **_details(invocation, handler, request_id),
            }
        },
    )


def log_frame(
    connection_id: str,
    route_key: str | None,
    reason: str,
    evaluated: str | None,
    handler: str | None = None,
    invocation: Invocation | None = None,
    request_id: str | None = None,
) -> None:
    if reason == "matched":
        why = f"matched {evaluated!r}"
    elif reason == "fallback":
        why = f"fallback, no route {evaluated!r}"
    elif reason == "not-json":
        why = "not JSON"
    else:
        why = "not JSON" if evaluated is None else f"no route {evaluated!r}"
        why += " and no $default"
    if route_key is None:
        text = f"{connection_id} frame → Forbidden frame ({why})"
    else:
        assert invocation is not None, "a routed frame is logged with its invocation"
        text = f"{connection_id} frame → {route_key} ({why}) {handler} {_outcome(invocation)}"
    if _wrote(text):
        return
    EVENTS.info(
        text,
        extra={
            "apigw": {
                "kind": "frame",
                "connectionId": connection_id,
                "routeKey": route_key,
                "reason": reason,
                "evaluated": evaluated,
                **_details(invocation, handler, request_id),
            }
        },
    )


def log_close(
    connection_id: str,
    code: int,
    reason: str,
    handler: str | None,
    invocation: Invocation | None,
    request_id: str | None = None,
) -> None:
    text = f"{connection_id} close {code} {reason!r}"
    if handler is not None and invocation is not None:
        text += f" ($disconnect {handler} {_outcome(invocation)})"
    if _wrote(text):
        return
    EVENTS.info(
        text,
        extra={
            "apigw": {
                "kind": "close",
                "connectionId": connection_id,
                "code": code,
                "reason": reason,
                **_details(invocation, handler, request_id),
            }
        },
    )
