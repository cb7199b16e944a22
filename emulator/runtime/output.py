"""A handler's output, attributed to the invocation that wrote it.

Each invocation runs with its :class:`InvocationScope` in a context variable,
:data:`current_scope` (threads it starts inherit it). Lines a handler writes
with ``print`` (through :class:`AttributedStream`, which replaces
``sys.stdout`` and ``sys.stderr`` while the emulator serves) and records it
logs (tagged by :class:`AttributionFilter`) go to the ``emulator.handler``
logger under the function and request id that wrote them, as CloudWatch groups
a Lambda's output. Anything written outside an invocation goes to the real streams.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
from typing import Any, TextIO

__all__ = [
    "HANDLER_OUTPUT",
    "AttributedStream",
    "AttributionFilter",
    "InvocationScope",
    "capture_output",
    "current_scope",
    "real_stderr",
    "release_output",
]

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


class AttributedStream(io.TextIOBase):
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


class AttributionFilter(logging.Filter):
    """Tags records logged by handler code with the invocation they came from."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "apigw"):
            scope = current_scope.get()
            if scope is not None:
                record.apigw = _output_fields(scope, "logging")
        return True


def capture_output() -> None:
    """Attribute what handlers print from now on (idempotent)."""
    if not isinstance(sys.stdout, AttributedStream):
        sys.stdout = AttributedStream(sys.stdout, "stdout")
    if not isinstance(sys.stderr, AttributedStream):
        sys.stderr = AttributedStream(sys.stderr, "stderr")


def release_output() -> None:
    """Give ``sys.stdout`` and ``sys.stderr`` back."""
    if isinstance(sys.stdout, AttributedStream):
        sys.stdout = sys.stdout.real
    if isinstance(sys.stderr, AttributedStream):
        sys.stderr = sys.stderr.real


def real_stderr() -> TextIO:
    """The process's stderr, whether or not output is captured."""
    return sys.stderr.real if isinstance(sys.stderr, AttributedStream) else sys.stderr
