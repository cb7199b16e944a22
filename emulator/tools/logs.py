"""What ``apigw-ws serve`` prints: one line per connection and per frame.

Each line says which connection, which route and why, which integration, how
long it took and what came of it (:mod:`emulator.gateway.log` writes them);
a handler's own ``print`` and ``logging`` output appears under the function
and request id that wrote it (:mod:`emulator.runtime.output`).
``--log-format json`` gives the same as JSON lines.

Lines are written in batches: a line joins the batch, and the batch is written
with one call :data:`BATCH_S` later, from serve's event loop (:func:`bind`;
at once when it is not running), so that a busy API's frames cost a write per
batch, not one each; a person reading the log cannot tell 20 ms. The gateway's
own lines come as text, without a LogRecord
(:func:`emulator.gateway.log.write_lines_to`).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import threading
import time
from typing import Any, TextIO

from emulator.gateway.log import LineWriter, write_lines_to
from emulator.runtime.output import (
    capture_output,
    real_stderr,
    release_output,
)

__all__ = [
    "BatchedStreamHandler",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "configure",
    "unconfigure",
]


class _Clock:
    """``12:00:01.234`` for a moment: the ``12:00:01.`` part worked out once a
    second; a gateway line's whole stamp once a millisecond (a busy API logs
    several lines in each)."""

    def __init__(self) -> None:
        # One value each, so that a thread never pairs one moment with another's text.
        self._second: tuple[int, str] = (-1, "")
        self._milli: tuple[int, str] = (-1, "")

    def _seconds(self, second: int) -> str:
        known = self._second
        if known[0] != second:
            known = self._second = (second, time.strftime("%H:%M:%S.", time.localtime(second)))
        return known[1]

    def __call__(self, moment: float, msecs: float) -> str:
        return f"{self._seconds(int(moment))}{int(msecs):03d}"

    def now(self) -> str:
        """The stamp of this moment."""
        milli = time.time_ns() // 1_000_000
        known = self._milli
        if known[0] != milli:
            second, rest = divmod(milli, 1000)
            known = self._milli = (milli, f"{self._seconds(second)}{rest:03d}")
        return known[1]


_clock_at = _Clock()

BATCH_S = 0.02  # how long a line may wait for others to be written with
# A batch this old when a line joins it lost its write (its loop stopped first).
_OVERDUE_S = 1.0


def _clock(record: logging.LogRecord) -> str:
    return _clock_at(record.created, record.msecs)


class TextFormatter(logging.Formatter):
    """``12:00:01.234 <message>``; a handler's output is indented under its name."""

    def format(self, record: logging.LogRecord) -> str:
        details: dict[str, Any] | None = getattr(record, "apigw", None)
        message = record.getMessage()
        if details is not None and details.get("kind") == "output":
            # A logging line is in Lambda's own format already: level, time, request id.
            who = f"{details['function']} {details['requestId'] or '(init)'}"
            text = f"{_clock(record)}   {who} | {message}"
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


class BatchedStreamHandler(logging.StreamHandler, LineWriter):  # type: ignore[type-arg]
    """A stream handler whose lines are written in batches (:data:`BATCH_S`
    after the first line of each), in the order they came, from whichever
    thread; and which takes the gateway's lines as ready text (``write_line``)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._batch: list[str] = []
        self._batch_lock = threading.Lock()
        self._batch_since = 0.0  # monotonic time of the batch's first line
        # The loop that writes the batches (serve's, :meth:`bind`), and its thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Write batches from ``loop``, called on its thread; None: every line at once.

        Explicit, not whatever loop a line is logged from: a handler that runs
        an event loop of its own (``asyncio.run`` in a sync handler) would take
        the batch's write with it when that loop ends.
        """
        self.flush()
        self._loop = loop
        self._loop_thread = threading.get_ident() if loop is not None else 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._add(self.format(record) + self.terminator)
        except Exception:  # noqa: BLE001 - as StreamHandler.emit: say so on stderr, never raise
            self.handleError(record)

    def write_line(self, text: str) -> None:
        """A gateway line (``emulator.events``, INFO), timestamped as the text format does."""
        self._add(f"{_clock_at.now()} {text}\n")

    def _add(self, line: str) -> None:
        now = time.monotonic()
        with self._batch_lock:
            self._batch.append(line)
            first = len(self._batch) == 1
            if first:
                self._batch_since = now
            overdue = now - self._batch_since > _OVERDUE_S
        if not first:
            if overdue:  # its write was lost with a loop that stopped: write it now
                self.flush()
            return  # a write is on its way
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                if threading.get_ident() == self._loop_thread:
                    if loop.is_running():
                        loop.call_later(BATCH_S, self.flush)
                        return
                else:  # from a handler's thread
                    loop.call_soon_threadsafe(loop.call_later, BATCH_S, self.flush)
                    return
            except RuntimeError:  # closed meanwhile
                pass
        self.flush()

    def flush(self) -> None:
        with self._batch_lock:
            lines, self._batch = self._batch, []
        self.acquire()
        try:
            if lines:
                self.stream.write("".join(lines))
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        except (OSError, ValueError):  # a stream closed or broken under us
            pass
        finally:
            self.release()


_configured: BatchedStreamHandler | None = None


def configure(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) in ``fmt``; capture handlers' print output.

    Calling it again replaces the previous set-up; :func:`unconfigure` undoes it.
    """
    global _configured
    unconfigure()
    handler = BatchedStreamHandler(stream or real_stderr())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    # JSON lines carry the fields of a record: they take the record's way.
    write_lines_to(handler if fmt == "text" else None)
    # Lambda's Python runtime leaves the root logger at WARNING: a handler that
    # wants its INFO lines sets the level itself, on AWS as here.
    root.setLevel(logging.WARNING)
    logging.getLogger("emulator").setLevel(logging.INFO)
    _configured = handler
    # websockets' own per-connection chatter is not what a user wants here.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("emulator.transport.websockets").setLevel(logging.WARNING)
    capture_output()
    return handler


def bind(loop: asyncio.AbstractEventLoop | None) -> None:
    """Write the log's lines in batches from ``loop`` (serve's, on its thread);
    None: each at once again. Nothing to do when :func:`configure` was not called."""
    if _configured is not None:
        _configured.bind(loop)


def unconfigure() -> None:
    """Remove what :func:`configure` installed, and give the streams back."""
    global _configured
    write_lines_to(None)
    if _configured is not None:
        logging.getLogger().removeHandler(_configured)
        _configured.flush()
        _configured = None
    release_output()
