"""Resolving Lambda handler strings (``module.function``) to Python callables.

Each route's module is imported from its code folder: the config's folder, or
the route's ``codeUri`` under it, the way Lambda imports from a function's task
root. The folder is put first on ``sys.path`` while the module is imported (so
that ``import utils`` finds the ``utils.py`` beside it) and stays on it (for
imports made later, inside the handler).

Functions in different folders often share a module name: a SAM template with
``CodeUri: onconnect/`` and ``CodeUri: sendmessage/``, each holding an
``app.py`` with ``Handler: app.handler``. On AWS they are separate functions
with separate interpreters; here they share one. When two routes of a config
use one module name from two folders, or the name is already imported from
another folder, the module is imported under a name unique to its folder
(``_apigw_ws_code_onconnect_1a2b3c4d.app``), so each route gets its own module
object. Limitation: that applies to the handler's module (and a package it is
in), not to what it imports by absolute name. Two ``utils.py`` in two folders
are one ``utils`` in ``sys.modules``: whichever was imported first.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.config import ApiConfig, RouteConfig

# The key of the authorizer's function among the loaded handlers.
AUTHORIZER = "$authorizer"

__all__ = ["AUTHORIZER", "LoadedHandler", "code_folder", "load_handler", "load_handlers"]

_ISOLATED_PREFIX = "_apigw_ws_code"


@dataclass(frozen=True)
class LoadedHandler:
    """A route's handler, ready to call, and the folder its module came from."""

    route: RouteConfig
    function: Callable[..., Any]
    is_async: bool
    folder: Path | None = None


def code_folder(route: RouteConfig, base_dir: Path) -> Path:
    """The absolute folder ``route``'s module is imported from."""
    folder = base_dir / route.code_uri if route.code_uri is not None else base_dir
    return folder.resolve()


def _describe(exc: BaseException, package: str | None, folder: Path) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}"
    if isinstance(exc, ModuleNotFoundError) and package and (exc.name or "").startswith(package):
        # Not the synthetic package's name: the module the user wrote, and where.
        missing = (exc.name or "")[len(package) + 1 :]
        return f"ModuleNotFoundError: No module named {missing!r} in {str(folder)!r}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_handler(route: RouteConfig, base_dir: Path, *, isolated: bool = False) -> LoadedHandler:
    """Import ``route.handler`` as Lambda would, from the route's code folder.

    ``isolated`` imports the module under a name unique to its folder (see the
    module's docstring); it is implied when the module's name is already
    imported from another folder. Raises :class:`ConfigError` at key
    ``routes.<key>.handler`` when the module cannot be imported or the attribute
    is missing or not callable, and at ``routes.<key>.codeUri`` when the folder
    does not exist.
    """
    key = f"routes.{route.route_key}.handler"
    folder = code_folder(route, base_dir)
    if route.code_uri is not None and not folder.is_dir():
        problem = f"the code folder {str(folder)!r} does not exist or is not a folder"
        raise ConfigError(problem, key=f"routes.{route.route_key}.codeUri")
    package = None
    if isolated or _imported_elsewhere(route.module, folder):
        package = _isolated_package_name(folder)
    try:
        module = _import(route.module, folder, package)
    except Exception as exc:
        raise ConfigError(
            f"cannot import module {route.module!r}: {_describe(exc, package, folder)}", key=key
        ) from exc
    function = getattr(module, route.function, None)
    if function is None:
        raise ConfigError(f"module {route.module!r} has no function {route.function!r}", key=key)
    if not callable(function):
        raise ConfigError(
            f"{route.handler!r} is not callable (it is a {type(function).__name__})", key=key
        )
    return LoadedHandler(route, function, inspect.iscoroutinefunction(function), folder)


def load_handlers(config: ApiConfig) -> dict[str, LoadedHandler]:
    """Every route's handler, or the first :class:`ConfigError` (with its source)."""
    folders: dict[str, set[Path]] = {}
    for route in config.routes.values():
        folders.setdefault(_top_level(route.module), set()).add(code_folder(route, config.base_dir))
    handlers = {}
    for route_key, route in config.routes.items():
        shared_name = len(folders[_top_level(route.module)]) > 1
        try:
            handlers[route_key] = load_handler(route, config.base_dir, isolated=shared_name)
        except ConfigError as exc:
            raise exc.at("", config.source) from exc.__cause__
    if config.authorizer is not None:
        # Not a route: the key starts with '$', so no message can select it.
        function = config.authorizer.function
        try:
            handlers[AUTHORIZER] = load_handler(function, config.base_dir)
        except ConfigError as exc:
            located = ConfigError(exc.problem, key="authorizer.handler", source=config.source)
            raise located from exc.__cause__
    return handlers


def _top_level(module: str) -> str:
    return module.partition(".")[0]


def _imported_elsewhere(module: str, folder: Path) -> bool:
    """Whether ``module``'s top-level name is in ``sys.modules`` from another folder."""
    cached = sys.modules.get(_top_level(module))
    if cached is None:
        return False
    roots = {Path(entry).resolve().parent for entry in getattr(cached, "__path__", None) or ()}
    file = getattr(cached, "__file__", None)
    if not roots and file:
        roots.add(Path(file).resolve().parent)
    return folder not in roots


def _isolated_package_name(folder: Path) -> str:
    digest = hashlib.sha256(str(folder).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    readable = re.sub(r"\W", "_", folder.name.lower()) or "root"
    return f"{_ISOLATED_PREFIX}_{readable}_{digest}"


def _import(module: str, folder: Path, package: str | None) -> ModuleType:
    with _first_on_path(str(folder)):
        if package is None:
            return importlib.import_module(module)
        created = package not in sys.modules
        if created:
            # A namespace-like package whose only location is the code folder.
            spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
            spec.submodule_search_locations = [str(folder)]
            sys.modules[package] = importlib.util.module_from_spec(spec)
        try:
            return importlib.import_module(f"{package}.{module}")
        except BaseException:
            if created and not any(name.startswith(f"{package}.") for name in sys.modules):
                del sys.modules[package]
            raise


@contextlib.contextmanager
def _first_on_path(folder: str) -> Iterator[None]:
    """``folder`` first on ``sys.path`` while importing; on it afterwards."""
    if folder not in sys.path:
        sys.path.insert(0, folder)  # stays: handlers may import lazily
        yield
        return
    moved = sys.path[0] != folder
    if moved:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if moved and sys.path and sys.path[0] == folder:
            del sys.path[0]
