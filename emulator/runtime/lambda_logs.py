"""Logs in the format of Lambda's Python runtime (lambda-runtime-spec §3.8, §4).

Each execution environment's root logger (:mod:`.logroot`) starts as the
runtime leaves it: one :class:`LambdaLogHandler`, and the level ``WARNING``
in the text format (a function that wants its INFO lines sets the level
itself, on AWS as here) or ``AWS_LAMBDA_LOG_LEVEL``'s with
``LogFormat: JSON``. Lines are formatted as the runtime interface client
formats them and handed to the emulator's log under the invocation that wrote
them (:func:`~.output.emit_line`). :func:`start_line`, :func:`end_line` and
:func:`report_line` are the START, END and REPORT lines of one invocation, for ``--platform-logs``.
"""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from collections.abc import Mapping
from typing import Any, Final

from emulator.model.function import LogFormat, LoggingConfig
from emulator.runtime.logroot import RootState
from emulator.runtime.output import InvocationScope, current_scope, emit_line

__all__ = [
    "JSON_LEVELS",
    "LambdaJsonFormatter",
    "LambdaLogHandler",
    "LambdaTextFormatter",
    "end_line",
    "error_record",
    "report_line",
    "root_state",
    "start_line",
]

# AWS: AWS_LAMBDA_LOG_LEVEL's values as the runtime maps them onto the root
# logger (lambda-runtime-spec §4.5: TRACE -> DEBUG, WARN -> WARNING, FATAL -> CRITICAL).
JSON_LEVELS: Final = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
# The attributes every LogRecord has: the JSON format adds any others (`extra=`).
_RESERVED: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_LEVEL_NAMES: Final = {0: "NOTSET", 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR"}


def _request_id() -> str:
    scope = current_scope.get()
    return scope.request_id if scope is not None else ""


class LambdaTextFormatter(logging.Formatter):
    """``[INFO]\\t2020-02-14T18:19:39.441Z\\t<request id>\\tmessage`` (spec §4.1)."""

    converter = staticmethod(time.gmtime)  # UTC, as the runtime sets it

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )

    def format(self, record: logging.LogRecord) -> str:
        record.aws_request_id = _request_id()
        return super().format(record)


class LambdaJsonFormatter(logging.Formatter):
    """One JSON object per record, with the runtime's keys in its order (spec §4.4)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": _json_level(record.levelno),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["stackTrace"] = traceback.format_tb(error.__traceback__)
            entry["errorType"] = type(error).__name__
            entry["errorMessage"] = str(error)
        entry["requestId"] = _request_id()
        if record.exc_info:
            entry["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for key, value in vars(record).items():
            if key not in _RESERVED and key != "aws_request_id":
                entry[key] = value
        return json.dumps(
            {key: value for key, value in entry.items() if value is not None},
            ensure_ascii=False,
        )


def _json_level(levelno: int) -> str:
    """The runtime's level names: rounded down to a multiple of 10, 0 to 50."""
    rounded = max(0, min(50, levelno // 10 * 10))
    return _LEVEL_NAMES.get(rounded, "CRITICAL")


class LambdaLogHandler(logging.Handler):
    """The handler Lambda's runtime puts on the root logger: one line per record.

    With JSON, records below ``ApplicationLogLevel`` are dropped whatever the
    logger's level: Lambda filters them again on its side (spec §4.5).
    """

    def __init__(self, logging_config: LoggingConfig) -> None:
        super().__init__()
        json_format = logging_config.log_format is LogFormat.JSON
        self.setFormatter(LambdaJsonFormatter() if json_format else LambdaTextFormatter())
        level = logging_config.application_log_level
        self.floor = JSON_LEVELS.get(level, 0) if json_format and level else 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < self.floor:
            return
        scope = current_scope.get()
        if scope is None:
            return  # a thread outliving every invocation of the function: nowhere to go
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            return
        emit_line(scope, "logging", line, record.levelno)


def root_state(logging_config: LoggingConfig) -> RootState:
    """A new execution environment's root logger, as Lambda's runtime sets it up."""
    level = logging.WARNING
    if logging_config.log_format is LogFormat.JSON:
        # The runtime maps AWS_LAMBDA_LOG_LEVEL onto the root logger (spec §4.5);
        # UNKNOWN default when JSON is chosen without levels: the spec recommends INFO.
        level = JSON_LEVELS[logging_config.application_log_level or "INFO"]
    return RootState(level, [LambdaLogHandler(logging_config)])


def plain_text_shown(logging_config: LoggingConfig) -> bool:
    """Whether ``print`` output reaches the log: JSON levels above INFO filter it (§4.2)."""
    if logging_config.log_format is not LogFormat.JSON:
        return True
    return JSON_LEVELS[logging_config.application_log_level or "INFO"] <= logging.INFO


def error_record(failure: Mapping[str, Any], logging_config: LoggingConfig) -> str:
    """What the runtime writes for a function that raised: ``failure`` is the
    error object (``errorType``, ``errorMessage``, ``stackTrace``), spec §4.3.

    Text: ``[ERROR] Type: message``, ``Traceback (most recent call last):``,
    then the stack's lines indented with no-break spaces, as one event.
    """
    if logging_config.log_format is LogFormat.JSON:
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "log_level": "ERROR",
            "errorMessage": failure.get("errorMessage"),
            "errorType": failure.get("errorType"),
            "requestId": failure.get("requestId", ""),
            "stackTrace": failure.get("stackTrace", []),
        }
        return json.dumps(entry, ensure_ascii=False)
    description = "[ERROR]"
    error_type, message = failure.get("errorType"), failure.get("errorMessage")
    if error_type:
        description += f" {error_type}"
    if message:
        description += f"{':' if error_type else ''} {message}"
    lines = [description, "Traceback (most recent call last):"]
    for element in failure.get("stackTrace", []):
        lines.extend(_indented(line) for line in str(element).splitlines() or [""])
    return "\n".join(lines)


def _indented(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(stripped)) + stripped


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
) -> str:
    """The REPORT line: tabs between fields, ``Status`` only for timeouts and
    runtime failures; a successful one ends with a tab (spec §3.8)."""
    billed = math.ceil(duration_ms + (init_duration_ms or 0.0))
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_size} MB",
        # Not measurable in-process; RIE reports the memory size too (spec §3.8).
        f"Max Memory Used: {memory_size} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is None:
        return "\t".join(fields) + "\t"
    fields.append(f"Status: {status}")
    return "\t".join(fields)


def emit_platform(scope: InvocationScope, line: str) -> None:
    """One of Lambda's own lines (START, END, REPORT) for ``scope``'s invocation."""
    emit_line(scope, "platform", line)
