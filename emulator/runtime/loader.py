"""Resolving Lambda handler strings (``module.function``) to Python callables.

Each function's module is imported from its code folder: the config's folder,
or the function's ``codeUri`` under it, the way Lambda imports from a function's task
root. The folder is put first on ``sys.path`` while the module is imported (so
that ``import utils`` finds the ``utils.py`` beside it) and stays on it (for
imports made later, inside the handler).

Functions in different folders often share a module name: a SAM template with
``CodeUri: onconnect/`` and ``CodeUri: sendmessage/``, each holding an
``app.py`` with ``Handler: app.handler``. On AWS they are separate functions
with separate interpreters; here they share one. When two functions of a
config use one module name from two folders, or the name is already imported from
another folder, the module is imported under a name unique to its folder
(``_apigw_ws_code_onconnect_1a2b3c4d.app``), so each function gets its own module
object. Limitation: that applies to the handler's module (and a package it is
in), not to what it imports by absolute name. Two ``utils.py`` in two folders
are one ``utils`` in ``sys.modules``: whichever was imported first.

A module is imported with its function's environment variables in
``os.environ`` (over the process's own), as Lambda runs a function's init with
them: ``table = dynamodb.Table(os.environ["TABLE_NAME"])`` at import works.
"""

from __future__ import annotations

import contextlib
import contextvars
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
from emulator.model.api import ApiConfig
from emulator.model.function import FunctionConfig
from emulator.runtime.environ import Overlay, install, use_overlay

# The key of the authorizer's function among the loaded handlers.
AUTHORIZER = "$authorizer"

__all__ = [
    "AUTHORIZER",
    "LoadedHandler",
    "code_folder",
    "load_functions",
    "load_handler",
    "load_handlers",
]

_ISOLATED_PREFIX = "_apigw_ws_code"


@dataclass(frozen=True)
class LoadedHandler:
    """A function's handler, ready to call, and the folder its module came from."""

    config: FunctionConfig
    function: Callable[..., Any]
    is_async: bool
    folder: Path | None = None


def code_folder(function: FunctionConfig, base_dir: Path) -> Path:
    """The absolute folder ``function``'s module is imported from."""
    folder = base_dir / function.code_uri if function.code_uri is not None else base_dir
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


def load_handler(
    function: FunctionConfig, base_dir: Path, *, isolated: bool = False
) -> LoadedHandler:
    """Import ``function.handler`` as Lambda would, from the function's code folder.

    ``isolated`` imports the module under a name unique to its folder (see the
    module's docstring); it is implied when the module's name is already
    imported from another folder. Raises :class:`ConfigError` at key
    ``<where>.handler`` (``routes.$default.handler``) when the module cannot be
    imported or the attribute is missing or not callable, and at
    ``<where>.codeUri`` when the folder does not exist.
    """
    prefix = f"{function.where}." if function.where else ""
    key = f"{prefix}handler"
    folder = code_folder(function, base_dir)
    if function.code_uri is not None and not folder.is_dir():
        problem = f"the code folder {str(folder)!r} does not exist or is not a folder"
        raise ConfigError(problem, key=f"{prefix}codeUri")
    package = None
    if isolated or _imported_elsewhere(function.module, folder):
        package = _isolated_package_name(folder)
    try:
        module = _import_with_environment(function, folder, package)
    except Exception as exc:
        problem = f"cannot import module {function.module!r}: {_describe(exc, package, folder)}"
        raise ConfigError(problem, key=key) from exc
    handler = getattr(module, function.attribute, None)
    if handler is None:
        problem = f"module {function.module!r} has no function {function.attribute!r}"
        raise ConfigError(problem, key=key)
    if not callable(handler):
        problem = f"{function.handler!r} is not callable (it is a {type(handler).__name__})"
        raise ConfigError(problem, key=key)
    return LoadedHandler(function, handler, inspect.iscoroutinefunction(handler), folder)


def load_functions(config: ApiConfig) -> dict[str, LoadedHandler]:
    """Every function's handler, by function name, or the first :class:`ConfigError`."""
    folders: dict[str, set[Path]] = {}
    for function in config.functions.values():
        top = _top_level(function.module)
        folders.setdefault(top, set()).add(code_folder(function, config.base_dir))
    loaded = {}
    for name, function in config.functions.items():
        shared_name = len(folders[_top_level(function.module)]) > 1
        try:
            loaded[name] = load_handler(function, config.base_dir, isolated=shared_name)
        except ConfigError as exc:
            raise exc.at("", config.source) from exc.__cause__
    return loaded


def load_handlers(config: ApiConfig) -> dict[str, LoadedHandler]:
    """The handler of every Lambda route, by route key, and the authorizer's
    (at :data:`AUTHORIZER`); or the first :class:`ConfigError` (with its source)."""
    functions = load_functions(config)
    handlers = {
        route_key: functions[route.function.name]
        for route_key, route in config.routes.items()
        if route.function is not None
    }
    if config.authorizer is not None:
        # Not a route: the key starts with '$', so no message can select it.
        handlers[AUTHORIZER] = functions[config.authorizer.function.name]
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


def _import_with_environment(
    function: FunctionConfig, folder: Path, package: str | None
) -> ModuleType:
    """Import the module in a context whose ``os.environ`` has the function's variables."""
    install()

    def run() -> ModuleType:
        use_overlay(Overlay(function.environment))
        return _import(function.module, folder, package)

    return contextvars.copy_context().run(run)


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
