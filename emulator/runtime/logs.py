"""What the emulator tells its user: one line per connection and per frame.

Each line says which connection, which route and why, which handler, how long
it took and what came of it. ``--log-format json`` gives the same as JSON
lines. A handler's own ``print`` and ``logging`` output is attributed to its
invocation (function and request id), as CloudWatch groups a Lambda's output.

The attribution rides on a context variable, :data:`current_scope`, set for
each invocation in the context it runs in (threads it starts inherit it).
"""

from __future__ import annotations

import contextvars
import datetime
import io
import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from emulator.runtime.invocation import Invocation

__all__ = [
    "EVENTS",
    "HANDLER_OUTPUT",
    "InvocationScope",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "current_scope",
    "log_close",
    "log_connect",
    "log_frame",
    "unconfigure",
]

EVENTS = logging.getLogger("emulator.events")
HANDLER_OUTPUT = logging.getLogger("emulator.handler")


class InvocationScope:
    """One invocation, as seen from inside it: who runs, and what it posted."""

    __slots__ = ("buffers", "function_name", "posts", "request_id", "route_key")

    def __init__(self, function_name: str, request_id: str, route_key: str) -> None:
        self.function_name = function_name
        self.request_id = request_id
        self.route_key = route_key
        self.posts = 0
        self.buffers: dict[str, str] = {}

    def flush(self) -> None:
        """Emit output that did not end with a newline."""
        for stream, text in self.buffers.items():
            if text:
                _emit_output(self, stream, text)
        self.buffers.clear()


current_scope: contextvars.ContextVar[InvocationScope | None] = contextvars.ContextVar(
    "emulator_invocation_scope", default=None
)


_emitting = threading.local()


def _emit_output(scope: InvocationScope, stream: str, line: str) -> None:
    _emitting.active = True
    try:
        _log_output(scope, stream, line)
    finally:
        _emitting.active = False


def _log_output(scope: InvocationScope, stream: str, line: str) -> None:
    HANDLER_OUTPUT.info(line, extra={"apigw": _output_fields(scope, stream)})


def _output_fields(scope: InvocationScope, stream: str) -> dict[str, Any]:
    """What a line of a handler's output is tagged with: whose, and from where."""
    return {
        "kind": "output",
        "stream": stream,
        "function": scope.function_name,
        "requestId": scope.request_id,
        "routeKey": scope.route_key,
    }


class _AttributedStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr``: lines written inside an invocation go to
    the log under that invocation; anything else goes to the real stream."""

    def __init__(self, real: TextIO, name: str) -> None:
        self.real = real
        self.name = name

    def write(self, text: str) -> int:
        scope = current_scope.get()
        # Outside an invocation, or written while logging one of its lines (a
        # failing log handler reports on stderr): straight to the real stream.
        if scope is None or getattr(_emitting, "active", False):
            return self.real.write(text)
        pending = scope.buffers.get(self.name, "") + text
        *lines, rest = pending.split("\n")
        scope.buffers[self.name] = rest
        for line in lines:
            _emit_output(scope, self.name, line)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.real.encoding


class _AttributionFilter(logging.Filter):
    """Tags records logged by handler code with the invocation they came from."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "apigw"):
            scope = current_scope.get()
            if scope is not None:
                record.apigw = _output_fields(scope, "logging")
        return True


def _clock(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created)
    return moment.strftime("%H:%M:%S.") + f"{int(record.msecs):03d}"


class TextFormatter(logging.Formatter):
    """``12:00:01.234 <message>``; a handler's output is indented under its name."""

    def format(self, record: logging.LogRecord) -> str:
        details: dict[str, Any] | None = getattr(record, "apigw", None)
        message = record.getMessage()
        if details is not None and details.get("kind") == "output":
            level = "" if details["stream"] != "logging" else f"[{record.levelname}] "
            who = f"{details['function']} {details['requestId']}"
            text = f"{_clock(record)}   {who} | {level}{message}"
        elif details is not None:
            text = f"{_clock(record)} {message}"
        else:
            text = f"{_clock(record)} {record.levelname.lower()}: {message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the same facts as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
        }
        entry.update(getattr(record, "apigw", None) or {"kind": "log", "logger": record.name})
        entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_configured: logging.Handler | None = None


def configure(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) in ``fmt``; capture handlers' print output.

    Calling it again replaces the previous set-up; :func:`unconfigure` undoes it.
    """
    global _configured
    unconfigure()
    real_stderr = sys.stderr.real if isinstance(sys.stderr, _AttributedStream) else sys.stderr
    handler = logging.StreamHandler(stream or real_stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_AttributionFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Lambda's Python runtime leaves the root logger at WARNING: a handler that
    # wants its INFO lines sets the level itself, on AWS as here.
    root.setLevel(logging.WARNING)
    logging.getLogger("emulator").setLevel(logging.INFO)
    _configured = handler
    # websockets' own per-connection chatter is not what a user wants here.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("emulator.transport.websockets").setLevel(logging.WARNING)
    if not isinstance(sys.stdout, _AttributedStream):
        sys.stdout = _AttributedStream(sys.stdout, "stdout")
    if not isinstance(sys.stderr, _AttributedStream):
        sys.stderr = _AttributedStream(sys.stderr, "stderr")
    return handler


def unconfigure() -> None:
    """Remove what :func:`configure` installed, and give the streams back."""
    global _configured
    if _configured is not None:
        logging.getLogger().removeHandler(_configured)
        _configured = None
    if isinstance(sys.stdout, _AttributedStream):
        sys.stdout = sys.stdout.real
    if isinstance(sys.stderr, _AttributedStream):
        sys.stderr = sys.stderr.real


def _outcome(invocation: Invocation) -> str:
    """``0.8 ms ok, 2 posted``: how an invocation went."""
    scope = invocation.scope
    text = f"{invocation.duration_ms:.1f} ms {invocation.outcome.value}"
    if invocation.error is not None:
        text += f": {type(invocation.error).__name__}: {invocation.error}"
    if scope is not None and scope.posts:
        text += f", {scope.posts} posted"
    return text


def _details(invocation: Invocation | None, handler: str | None) -> dict[str, Any]:
    if invocation is None:
        return {}
    details: dict[str, Any] = {
        "handler": handler,
        "durationMs": round(invocation.duration_ms, 3),
        "outcome": invocation.outcome.value,
    }
    if invocation.scope is not None:
        details["requestId"] = invocation.scope.request_id
        details["posts"] = invocation.scope.posts
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
) -> None:
    answer = "open" if 200 <= status < 300 else f"refused {status}"
    text = f"{connection_id} connect from {source_ip}: {answer}"
    if why:
        text += f", {why}"
    if handler is not None and invocation is not None:
        text += f" ({step} {handler} {_outcome(invocation)})"
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
                **_details(invocation, handler),
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
    EVENTS.info(
        text,
        extra={
            "apigw": {
                "kind": "frame",
                "connectionId": connection_id,
                "routeKey": route_key,
                "reason": reason,
                "evaluated": evaluated,
                **_details(invocation, handler),
            }
        },
    )


def log_close(
    connection_id: str, code: int, reason: str, handler: str | None, invocation: Invocation | None
) -> None:
    text = f"{connection_id} close {code} {reason!r}"
    if handler is not None and invocation is not None:
        text += f" ($disconnect {handler} {_outcome(invocation)})"
    EVENTS.info(
        text,
        extra={
            "apigw": {
                "kind": "close",
                "connectionId": connection_id,
                "code": code,
                "reason": reason,
                **_details(invocation, handler),
            }
        },
    )
