"""Resolving handler strings to callables (emulator/loader.py).

Every test writes its own modules into its tmp_path under names made unique by
that folder's name, and forgets them afterwards: ``sys.modules`` caches imports
for the whole session and the loader puts ``base_dir`` on ``sys.path``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.errors import ConfigError
from emulator.model.config import parse_config
from emulator.model.function import FunctionConfig, function_name_for
from emulator.runtime.loader import LoadedHandler, load_handler, load_handlers


@pytest.fixture
def name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module name no other test uses; its modules and sys.path entry go away after."""
    unique = f"m_{tmp_path.name}"
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader's insertion is undone
    yield unique
    for module in [m for m in sys.modules if m == unique or m.startswith(f"{unique}.")]:
        del sys.modules[module]


def _module(folder: Path, dotted: str, source: str, *, packages: bool = True) -> None:
    """Write module ``dotted`` under ``folder`` (with __init__.py files if ``packages``)."""
    *parents, leaf = dotted.split(".")
    directory = folder
    for part in parents:
        directory = directory / part
        directory.mkdir(exist_ok=True)
        if packages:
            (directory / "__init__.py").touch()
    (directory / f"{leaf}.py").write_text(source, encoding="utf-8")
    importlib.invalidate_caches()


def _function(handler: str, route_key: str = "$default") -> FunctionConfig:
    """The implicit function a route's ``handler`` makes."""
    return FunctionConfig(function_name_for(handler), handler, where=f"routes.{route_key}")


def _load(handler: str, base_dir: Path, route_key: str = "$default") -> LoadedHandler:
    return load_handler(_function(handler, route_key), base_dir)


# Failures: a ConfigError at routes.<key>.handler that says what went wrong

BROKEN_MODULES = [
    pytest.param(
        None,
        "handler",
        [
            "Runtime.ImportModuleError: Unable to import module {module!r}",
            "No module named {module!r}",
            "(looked in {folder!r}",
            "sys.path: [",
        ],
        ModuleNotFoundError,
        id="module-not-found",
    ),
    pytest.param(
        "import json\n\ndef handler(event, context:\n    return json\n",
        "handler",
        [
            "Runtime.UserCodeSyntaxError: Syntax error in module {module!r}:",
            "({file}, line 3)",
        ],
        SyntaxError,
        id="syntax-error",
    ),
    pytest.param(
        "x = 1\nraise RuntimeError('cannot start')\n",
        "handler",
        ["function '{module}-handler': RuntimeError: cannot start ({file}, line 2)"],
        RuntimeError,
        id="raises-at-import",
    ),
    pytest.param(
        "import m_no_such_dependency_anywhere\n",
        "handler",
        [
            "Runtime.ImportModuleError: Unable to import module {module!r}",
            "No module named 'm_no_such_dependency_anywhere' ({file}, line 1)",
        ],
        ModuleNotFoundError,
        id="missing-dependency",
    ),
    pytest.param(
        "def handle(event, context):\n    return None\n",
        "handler",
        [
            "function '{module}-handler' ({file}):",
            "Runtime.HandlerNotFound: Handler 'handler' missing on module {module!r};"
            " did you mean 'handle'?",
        ],
        None,
        id="attribute-missing",
    ),
    pytest.param(
        "handler = 42\n",
        "handler",
        ["'{module}.handler' is not callable (it is a int)"],
        None,
        id="attribute-not-callable",
    ),
]


@pytest.mark.parametrize(("source", "function", "fragments", "cause"), BROKEN_MODULES)
def test_load_handler_reports_what_is_wrong(
    tmp_path: Path,
    name: str,
    source: str | None,
    function: str,
    fragments: list[str],
    cause: type[BaseException] | None,
) -> None:
    if source is not None:
        _module(tmp_path, name, source)
    file = tmp_path.resolve() / f"{name}.py"
    with pytest.raises(ConfigError) as raised:
        _load(f"{name}.{function}", tmp_path, route_key="sendmessage")
    error = raised.value
    assert error.key == "routes.sendmessage.handler"
    for fragment in fragments:
        assert fragment.format(module=name, file=file, folder=str(tmp_path.resolve())) in (
            error.problem
        )
    if cause is None:
        assert error.__cause__ is None
    else:
        assert isinstance(error.__cause__, cause)
    # A module that failed to import is not left half-initialised in the cache.
    imported = source is not None and cause is None
    assert (name in sys.modules) is imported


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        pytest.param(None, "Runtime.ImportModuleError", id="module-not-found"),
        pytest.param("handler = 'text'\n", "is not callable (it is a str)", id="not-callable"),
    ],
)
def test_load_handlers_names_the_file_and_the_route(
    tmp_path: Path, name: str, source: str | None, problem: str
) -> None:
    if source is not None:
        _module(tmp_path, name, source)
    config = parse_config(
        {"routes": {"$connect": f"{name}.handler", "$default": f"{name}.handler"}},
        base_dir=tmp_path,
        source="routes.yaml",
    )
    with pytest.raises(ConfigError) as raised:
        load_handlers(config)
    # The first route in file order is the one reported.
    assert str(raised.value).startswith("routes.yaml: routes.$connect.handler: ")
    assert problem in str(raised.value)


def test_a_module_fixed_after_a_failed_import_loads(tmp_path: Path, name: str) -> None:
    _module(tmp_path, name, "raise RuntimeError('not yet')\n")
    with pytest.raises(ConfigError):
        _load(f"{name}.handler", tmp_path)
    _module(tmp_path, name, "def handler(event, context):\n    return 'fixed'\n")
    assert _load(f"{name}.handler", tmp_path).function({}, None) == "fixed"


# Success


def test_a_module_is_imported_with_its_functions_environment(tmp_path: Path, name: str) -> None:
    """Lambda runs a function's init with its variables: AWS's samples read them at import."""
    _module(
        tmp_path,
        name,
        "import os\nTABLE = os.environ['TABLE_NAME']\n"
        "def handler(event, context):\n    return TABLE\n",
    )
    function = FunctionConfig(
        "connect", f"{name}.handler", environment={"TABLE_NAME": "connections"}
    )
    loaded = load_handler(function, tmp_path)
    assert loaded.function({}, None) == "connections"
    assert "TABLE_NAME" not in os.environ  # the process environment is left alone


@pytest.mark.parametrize(
    ("source", "is_async"),
    [
        pytest.param("def handler(event, context):\n    return 1\n", False, id="def"),
        pytest.param("async def handler(event, context):\n    return 1\n", True, id="async-def"),
        pytest.param("handler = lambda event, context: 1\n", False, id="lambda"),
        pytest.param(
            "import functools\n"
            "async def _base(event, context, extra):\n    return extra\n"
            "handler = functools.partial(_base, extra=1)\n",
            True,
            id="partial-of-async-def",
        ),
        pytest.param(
            "class _Handler:\n    def __call__(self, event, context):\n        return 1\n"
            "handler = _Handler()\n",
            False,
            id="callable-object",
        ),
    ],
)
def test_load_handler_detects_async_functions(
    tmp_path: Path, name: str, source: str, is_async: bool
) -> None:
    _module(tmp_path, name, source)
    loaded = _load(f"{name}.handler", tmp_path)
    assert loaded.is_async is is_async
    assert loaded.function is sys.modules[name].handler
    assert loaded.config.handler == f"{name}.handler"


@pytest.mark.parametrize("packages", [True, False], ids=["regular-packages", "namespace-packages"])
def test_load_handler_imports_dotted_packages(tmp_path: Path, name: str, packages: bool) -> None:
    # Lambda: handler "pkg.sub.module.func" is pkg/sub/module.py's func.
    _module(
        tmp_path,
        f"{name}.sub.module",
        "def func(event, context):\n    return {'statusCode': 200, 'body': __name__}\n",
        packages=packages,
    )
    loaded = _load(f"{name}.sub.module.func", tmp_path)
    assert loaded.is_async is False
    assert loaded.function({}, None) == {"statusCode": 200, "body": f"{name}.sub.module"}


def test_load_handlers_returns_one_handler_per_route(tmp_path: Path, name: str) -> None:
    _module(
        tmp_path,
        name,
        "def connect(event, context):\n    return None\n"
        "async def message(event, context):\n    return None\n",
    )
    config = parse_config(
        {"routes": {"$connect": f"{name}.connect", "$default": f"{name}.message"}},
        base_dir=tmp_path,
    )
    loaded = load_handlers(config)
    assert {key: (h.function.__name__, h.is_async) for key, h in loaded.items()} == {
        "$connect": ("connect", False),
        "$default": ("message", True),
    }
    assert all(h.config is config.routes[key].function for key, h in loaded.items())
