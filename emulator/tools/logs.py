"""What ``apigw-ws serve`` prints: one line per connection and per frame.

Each line says which connection, which route and why, which integration, how
long it took and what came of it (:mod:`emulator.gateway.log` writes them);
a handler's own ``print`` and ``logging`` output appears under the function
and request id that wrote it (:mod:`emulator.runtime.output`).
``--log-format json`` gives the same as JSON lines.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any, TextIO

from emulator.runtime.output import (
    capture_output,
    real_stderr,
    release_output,
)

__all__ = ["JsonFormatter", "TextFormatter", "configure", "unconfigure"]


def _clock(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created)
    return moment.strftime("%H:%M:%S.") + f"{int(record.msecs):03d}"


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


_configured: logging.Handler | None = None


def configure(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) in ``fmt``; capture handlers' print output.

    Calling it again replaces the previous set-up; :func:`unconfigure` undoes it.
    """
    global _configured
    unconfigure()
    handler = logging.StreamHandler(stream or real_stderr())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
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
    capture_output()
    return handler


def unconfigure() -> None:
    """Remove what :func:`configure` installed, and give the streams back."""
    global _configured
    if _configured is not None:
        logging.getLogger().removeHandler(_configured)
        _configured = None
    release_output()
