"""A local emulator of Amazon API Gateway WebSocket APIs.

The public API, importable from here:

* :class:`Emulator`, one API served on one host and port;
* loading an API: :func:`load_config`, :func:`parse_config`, :func:`with_limits`,
  :func:`load_template` (SAM, CloudFormation, serverless.yml), :func:`load_cdk`
  (a synthesized CDK app), :func:`load_terraform` (a Terraform configuration),
  and the values
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
    AwsCallRefused,
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

if TYPE_CHECKING:
    from emulator.app import Emulator
    from emulator.gateway.explain import explain
    from emulator.gateway.selection import RouteSelector
    from emulator.model.api import ApiConfig, AuthorizerConfig, Limits, RouteConfig
    from emulator.model.config import load_config, parse_config, with_limits
    from emulator.model.selection import compile_expression
    from emulator.model.templates import load_cdk, load_template, load_terraform
    from emulator.tools.export.sam import export_sam
    from emulator.tools.testing import Client, Harness, InvocationRecord, Record, SentRecord

__all__ = [
    "ApiConfig",
    "AuthorizerConfig",
    "AwsCallRefused",
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
    "load_cdk",
    "load_config",
    "load_template",
    "load_terraform",
    "parse_config",
    "with_limits",
]

# Where each name imported on first use lives.
_LAZY = {
    "Emulator": "emulator.app",
    "ApiConfig": "emulator.model.api",
    "AuthorizerConfig": "emulator.model.api",
    "Limits": "emulator.model.api",
    "RouteConfig": "emulator.model.api",
    "load_config": "emulator.model.config",
    "parse_config": "emulator.model.config",
    "with_limits": "emulator.model.config",
    "RouteSelector": "emulator.gateway.selection",
    "compile_expression": "emulator.model.selection",
    "explain": "emulator.gateway.explain",
    "export_sam": "emulator.tools.export.sam",
    "load_template": "emulator.model.templates",
    "load_cdk": "emulator.model.templates",
    "load_terraform": "emulator.model.templates",
    "Client": "emulator.tools.testing",
    "Harness": "emulator.tools.testing",
    "InvocationRecord": "emulator.tools.testing",
    "Record": "emulator.tools.testing",
    "SentRecord": "emulator.tools.testing",
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
