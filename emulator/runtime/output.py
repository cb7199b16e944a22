"""A handler's output, attributed to the invocation that wrote it.

Each invocation runs with its :class:`InvocationScope` in a context variable,
:data:`current_scope` (threads it starts inherit it). Lines a handler writes
with ``print`` (through :class:`AttributedStream`, which replaces
``sys.stdout`` and ``sys.stderr`` while ``apigw-ws serve`` runs) and the lines
its root logger writes in Lambda's format (:mod:`.lambda_logs`) go to the
``emulator.handler`` logger under the function and request id that wrote
them, as CloudWatch groups a Lambda's output (:func:`emit_line`). Anything
written outside an invocation goes to the real streams.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from emulator.runtime.logroot import outside

__all__ = [
    "HANDLER_OUTPUT",
    "AttributedStream",
    "InvocationScope",
    "capture_output",
    "current_scope",
    "emit_line",
    "real_stderr",
    "release_output",
]

HANDLER_OUTPUT = logging.getLogger("emulator.handler")


class InvocationScope:
    """One invocation (or a function's init), as seen from inside it: who runs,
    what it posted, and what it asked to run once it is done.

    ``request_id`` is Lambda's request id (``context.aws_request_id``): empty
    during init, as in Lambda's own log lines. ``plain_text`` is False when the
    function's JSON log level filters out plain text (lambda-runtime-spec §4.2).
    """

    __slots__ = (
        "after",
        "buffers",
        "cold",
        "connection_id",
        "function_name",
        "plain_text",
        "posts",
        "request_id",
        "route_key",
        "tail",
    )

    def __init__(
        self, function_name: str, request_id: str, route_key: str, *, plain_text: bool = True
    ) -> None:
        self.function_name = function_name
        self.request_id = request_id
        self.route_key = route_key
        self.plain_text = plain_text
        self.posts = 0
        self.buffers: dict[str, str] = {}
        # What runs when the invocation is over (an `Event` invocation it made).
        self.after: list[Callable[[], None]] = []
        self.cold = False  # the first invocation after its function's init
        # The WebSocket connection whose event it handles, if any.
        self.connection_id = ""
        # Its log lines, kept when the caller asked for them (Invoke's LogType: Tail).
        self.tail: list[str] | None = None

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


def emit_line(scope: InvocationScope, stream: str, line: str, level: int = logging.INFO) -> None:
    """Hand one line a function wrote (``stream``: stdout, stderr, logging,
    platform) to the emulator's log, under the invocation that wrote it."""
    if scope.tail is not None:
        scope.tail.append(line)
    _emitting.active = True
    try:
        record = HANDLER_OUTPUT.makeRecord(
            HANDLER_OUTPUT.name,
            level,
            "(handler)",
            0,
            line,
            (),
            None,
            extra={"apigw": _output_fields(scope, stream)},
        )
        # As the process, not the function: its root logger is not the emulator's.
        # `handle`, not `info`: the function's own level has decided already.
        with outside():
            HANDLER_OUTPUT.handle(record)
    finally:
        _emitting.active = False


def _emit_output(scope: InvocationScope, stream: str, line: str) -> None:
    if scope.plain_text:
        emit_line(scope, stream, line)


def _output_fields(scope: InvocationScope, stream: str) -> dict[str, Any]:
    """What a line of a handler's output is tagged with: whose, and from where."""
    return {
        "kind": "output",
        "stream": stream,
        "function": scope.function_name,
        "requestId": scope.request_id,
        "routeKey": scope.route_key,
        "connectionId": scope.connection_id or None,
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
