"""The public API of ``emulator``: exactly these names, each its module's own."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import emulator

EXPORTED = {
    # The emulator
    "Emulator",
    # Loading (and writing) an API
    "ApiConfig",
    "AuthorizerConfig",
    "Limits",
    "RouteConfig",
    "export_sam",
    "load_cdk",
    "load_config",
    "load_template",
    "load_terraform",
    "parse_config",
    "with_limits",
    # Route selection
    "RouteSelector",
    "compile_expression",
    "explain",
    # Testing
    "Client",
    "Harness",
    "InvocationRecord",
    "Record",
    "SentRecord",
    # The exception tree
    "AwsCallRefused",
    "BadRequestError",
    "ConfigError",
    "EmulatorError",
    "ForbiddenError",
    "GoneError",
    "LimitExceededError",
    "ManagementApiError",
    "PayloadTooLargeError",
    "SelectionExpressionError",
}


def test_the_public_api_is_pinned() -> None:
    assert set(emulator.__all__) == EXPORTED
    assert len(emulator.__all__) == len(EXPORTED)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_each_name_is_the_one_its_module_exports(name: str) -> None:
    value = getattr(emulator, name)
    home = importlib.import_module(value.__module__)
    assert getattr(home, name) is value
    assert name in home.__all__
    assert name in dir(emulator)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = emulator.Nope  # type: ignore[attr-defined]


def test_explain_is_the_function_even_once_its_module_is_imported() -> None:
    importlib.import_module("emulator.gateway.explain")
    assert callable(emulator.explain)
    assert emulator.explain is sys.modules["emulator.gateway.explain"].explain


def test_importing_the_package_is_cheap() -> None:
    # The CLI's start-up is benchmarked; the adapters come in on first use only.
    code = (
        "import sys, emulator; "
        "heavy = {'asyncio', 'websockets', 'socket', 'yaml', 'httpx', 'watchfiles', "
        "'playwright', 'emulator.app', 'emulator.tools.inspector'}; "
        "print(sorted(heavy & set(sys.modules))); "
        "emulator.Harness; "
        "print('emulator.tools.testing' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
