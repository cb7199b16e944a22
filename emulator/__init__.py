"""A local emulator of Amazon API Gateway WebSocket APIs.

The public API, importable from here:

* :class:`Emulator`, one API served on one host and port;
* loading an API: :func:`load_config`, :func:`parse_config`, :func:`with_limits`,
  :func:`load_template` (SAM, CloudFormation, serverless.yml), and the values
  they give (:class:`ApiConfig`, :class:`RouteConfig`, :class:`AuthorizerConfig`,
  :class:`Limits`); :func:`export_sam` writes one back as a SAM template;
* route selection: :func:`compile_expression`, :class:`RouteSelector`, and
  :func:`explain` to tell how a message is routed;
* testing: :class:`Harness`, :class:`Client`, :class:`Record` (with
  :class:`InvocationRecord` and :class:`SentRecord`);
* the exception tree, rooted at :class:`EmulatorError`.

Importing :mod:`emulator` stays cheap: the names that need asyncio, websockets,
YAML or an HTTP client are imported from their modules on first use (PEP 562),
so that a pure module imported on its own pulls none of them in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from emulator.errors import (
    BadRequestError,
    ConfigError,
    EmulatorError,
    ForbiddenError,
    GoneError,
    LimitExceededError,
    ManagementApiError,
    PayloadTooLargeError,
    SelectionExpressionError,
)

# Imported now, not on first use: importing the submodule emulator.explain
# would otherwise bind the package's `explain` to the module, not the function.
from emulator.explain import explain
from emulator.selection import RouteSelector, compile_expression

if TYPE_CHECKING:
    from emulator.app import Emulator
    from emulator.config import (
        ApiConfig,
        AuthorizerConfig,
        Limits,
        RouteConfig,
        load_config,
        parse_config,
        with_limits,
    )
    from emulator.export import export_sam
    from emulator.templates import load_template
    from emulator.testing import Client, Harness, InvocationRecord, Record, SentRecord

__all__ = [
    "ApiConfig",
    "AuthorizerConfig",
    "BadRequestError",
    "Client",
    "ConfigError",
    "Emulator",
    "EmulatorError",
    "ForbiddenError",
    "GoneError",
    "Harness",
    "InvocationRecord",
    "LimitExceededError",
    "Limits",
    "ManagementApiError",
    "PayloadTooLargeError",
    "Record",
    "RouteConfig",
    "RouteSelector",
    "SelectionExpressionError",
    "SentRecord",
    "compile_expression",
    "explain",
    "export_sam",
    "load_config",
    "load_template",
    "parse_config",
    "with_limits",
]

# Where each name imported on first use lives.
_LAZY = {
    "Emulator": "emulator.app",
    "ApiConfig": "emulator.config",
    "AuthorizerConfig": "emulator.config",
    "Limits": "emulator.config",
    "RouteConfig": "emulator.config",
    "load_config": "emulator.config",
    "parse_config": "emulator.config",
    "with_limits": "emulator.config",
    "export_sam": "emulator.export",
    "load_template": "emulator.templates",
    "Client": "emulator.testing",
    "Harness": "emulator.testing",
    "InvocationRecord": "emulator.testing",
    "Record": "emulator.testing",
    "SentRecord": "emulator.testing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without calling this
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
