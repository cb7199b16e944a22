from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from emulator.tools.testing import Harness

pytest_plugins = ["pytester"]

HANDLERS = Path(__file__).parent / "handlers"
ROOT = Path(__file__).parent.parent

StartApi = Callable[..., Awaitable[Harness]]


def handler_module(name: str) -> ModuleType:
    """A module of ``tests/handlers`` as the emulator imports it: by its bare name, like Lambda.

    ``tests.handlers.route_probe`` would be a second copy, with its own gates and plans.
    """
    folder = str(HANDLERS.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


@pytest.fixture
async def start_api() -> AsyncIterator[StartApi]:
    """Start an emulator on 127.0.0.1:0 for routes naming ``probe.*`` handlers.

    ``await start_api({"$default": "probe.echo"}, stage="dev")``: the keyword
    arguments are further top-level routes.yaml keys.
    """
    started: list[Harness] = []

    async def start(routes: dict[str, Any], **top: Any) -> Harness:
        harness = Harness.from_config({"routes": routes, **top}, base_dir=HANDLERS)
        await harness.__aenter__()
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.stop()
