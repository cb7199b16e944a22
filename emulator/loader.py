"""Resolving Lambda handler strings (``module.function``) to Python callables."""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.config import ApiConfig, RouteConfig
from emulator.errors import ConfigError

__all__ = ["LoadedHandler", "load_handler", "load_handlers"]


@dataclass(frozen=True)
class LoadedHandler:
    """A route's handler, ready to call."""

    route: RouteConfig
    function: Callable[..., Any]
    is_async: bool


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_handler(route: RouteConfig, base_dir: Path) -> LoadedHandler:
    """Import ``route.handler`` as Lambda would, relative to ``base_dir``.

    Raises :class:`ConfigError` at key ``routes.<key>.handler`` when the module
    cannot be imported or the attribute is missing or not callable.
    """
    key = f"routes.{route.route_key}.handler"
    folder = str(base_dir.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(route.module)
    except Exception as exc:
        raise ConfigError(
            f"cannot import module {route.module!r}: {_describe(exc)}", key=key
        ) from exc
    function = getattr(module, route.function, None)
    if function is None:
        raise ConfigError(f"module {route.module!r} has no function {route.function!r}", key=key)
    if not callable(function):
        raise ConfigError(
            f"{route.handler!r} is not callable (it is a {type(function).__name__})", key=key
        )
    return LoadedHandler(route, function, inspect.iscoroutinefunction(function))


def load_handlers(config: ApiConfig) -> dict[str, LoadedHandler]:
    """Every route's handler, or the first :class:`ConfigError` (with its source)."""
    handlers = {}
    for route_key, route in config.routes.items():
        try:
            handlers[route_key] = load_handler(route, config.base_dir)
        except ConfigError as exc:
            raise exc.at("", config.source) from exc.__cause__
    return handlers
