"""A Lambda function of the API: its handler, code and configuration.

A pure module. Routes name their function (the ``AWS_PROXY`` integration),
and so does the ``$connect`` authorizer; one function may serve several
routes, as one Lambda function may sit behind several integrations. A
function declared in routes.yaml's ``functions`` section has the settings it
is given; a route's ``handler:`` makes an implicit one with Lambda's defaults.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_TIMEOUT",
    "FunctionConfig",
    "LogFormat",
    "LoggingConfig",
    "function_name_for",
]

# AWS: Timeout defaults to 3 s, MemorySize to 128 MB (botocore lambda CreateFunction).
DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY_SIZE = 128
_EMPTY: Mapping[str, str] = MappingProxyType({})


class LogFormat(enum.Enum):
    """``LoggingConfig.LogFormat`` (botocore lambda ``LogFormat``)."""

    TEXT = "Text"
    JSON = "JSON"


@dataclass(frozen=True)
class LoggingConfig:
    """``LoggingConfig``: the log format, and the levels that apply with JSON.

    ``application_log_level`` (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) and
    ``system_log_level`` (DEBUG, INFO, WARN) filter only JSON logs
    (lambda-runtime-spec §4.5); None leaves the runtime's defaults.
    """

    log_format: LogFormat = LogFormat.TEXT
    application_log_level: str | None = None
    system_log_level: str | None = None


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function.

    ``code_uri`` is the folder its module is imported from, as written
    (relative to the config's folder, ``ApiConfig.base_dir``); None means that
    folder itself. ``timeout`` is Lambda's function timeout in seconds (apart
    from how long API Gateway waits, the integration's timeout).
    ``environment`` is what the function's configuration gives it, the
    top-level ``environment`` included; what Lambda sets itself comes on top
    when it runs. ``where`` names where it is declared (``functions.chat``,
    ``routes.$default``, ``authorizer``), for error messages.
    """

    name: str
    handler: str
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    code_uri: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    memory_size: int = DEFAULT_MEMORY_SIZE
    logging: LoggingConfig = LoggingConfig()
    where: str = field(default="", compare=False)

    @property
    def module(self) -> str:
        """The handler's module, ``handlers.chat`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        """The handler's function, ``on_connect`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[2]


def function_name_for(handler: str) -> str:
    """A Lambda-valid function name for a handler string: ``handlers-chat-on_connect``."""
    return handler.replace(".", "-")[:64]
