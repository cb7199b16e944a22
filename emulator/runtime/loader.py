"""Importing each function's handler the way Lambda's init does (lambda-runtime-spec §2).

A function's module is imported from its code folder (the config's folder,
or its ``codeUri`` under it), the folder first on ``sys.path`` as Lambda puts
``/var/task`` first, and under the function's environment: the import runs
in the function's :class:`~.sandbox.Sandbox`, so module-level code that reads
``os.environ``, creates boto3 clients or sets the root logger's level sees
what it would see on Lambda. An init that runs past Lambda's 10 s limit is
reported as such instead of hanging start-up, and a failed one as Lambda
reports it (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``, or the
exception), naming the function and its file.

Functions that share a code folder, a configured environment and a logging
configuration share one import of their modules. Functions with a different
folder, environment or logging configuration get modules of their own, as
separate Lambda environments would, under the modules' real names: the first
such group imports into ``sys.modules`` as usual (so tests importing a handler
module get that copy), each later group imports its own copies of every module
of the API's folders, which live in its handlers' globals only. Libraries
(site-packages) are imported once.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import importlib
import inspect
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.function import FunctionConfig, LoggingConfig
from emulator.model.references import references
from emulator.runtime.lambda_logs import root_state
from emulator.runtime.sandbox import INIT_TIMEOUT, AwsAccess, LambdaApi, Sandbox

__all__ = [
    "AUTHORIZER",
    "LoadedHandler",
    "code_folder",
    "load_functions",
    "load_handler",
    "load_handlers",
]

# The key of the authorizer's function among the loaded handlers.
AUTHORIZER = "$authorizer"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the emulator's own code


@dataclass(frozen=True)
class LoadedHandler:
    """A function's handler, ready to call: its module's folder and environment."""

    config: FunctionConfig
    function: Callable[..., Any]
    is_async: bool
    folder: Path | None = None
    sandbox: Sandbox | None = field(default=None, compare=False)


def code_folder(function: FunctionConfig, base_dir: Path) -> Path:
    """The absolute folder ``function``'s module is imported from."""
    folder = base_dir / function.code_uri if function.code_uri is not None else base_dir
    return folder.resolve()


def load_handler(
    function: FunctionConfig,
    base_dir: Path,
    *,
    region: str = "us-east-1",
    init_timeout: float = INIT_TIMEOUT,
) -> LoadedHandler:
    """Init one function on its own: its module imported under its environment.

    Raises :class:`ConfigError` at ``<where>.handler`` (``routes.$default.handler``)
    when the init fails or the handler is missing or not callable, and at
    ``<where>.codeUri`` when the folder does not exist.
    """
    folder = _checked_folder(function, base_dir)
    group = _Group(folder, region, init_timeout, roots=(base_dir.resolve(), folder))
    with _fresh_modules((), [function.module] if _elsewhere(function.module, folder) else []):
        return group.load([function])[function.name]


def load_functions(
    config: ApiConfig,
    *,
    region: str = "us-east-1",
    init_timeout: float = INIT_TIMEOUT,
    lambda_api: LambdaApi | None = None,
    problems: list[ConfigError] | None = None,
    fresh: bool = True,
    aws: AwsAccess | None = None,
) -> dict[str, LoadedHandler]:
    """Every function's handler, by function name, or the first :class:`ConfigError`.

    ``fresh``: what an earlier load imported of the API's modules is imported
    again, as a new execution environment would (not for a live reload).

    With ``problems``, every function's error is added to it instead, and the
    functions that did load are returned (``apigw-ws check``). ``aws`` says how
    the functions' AWS calls are answered (by default: refused, placeholder
    credentials), with ``config``'s resources and ``awsEndpoints``.

    The functions run from the calling context, with the context variables
    their group's inits set over it: on Lambda the handler runs in the context
    that imported its module.
    """
    aws = replace(aws or AwsAccess(), resources=config.resources, endpoints=config.aws_endpoints)
    # Each group is one init, and one root logger: its handler is the logging
    # configuration's, so functions whose configurations differ cannot share one.
    groups: dict[tuple[Path, frozenset[tuple[str, str]], LoggingConfig], list[FunctionConfig]] = {}
    for function in config.functions.values():
        try:
            folder = _checked_folder(function, config.base_dir)
        except ConfigError as exc:
            if problems is None:
                raise exc.at("", config.source) from exc.__cause__
            problems.append(exc.at("", config.source))
            continue
        key = (folder, frozenset(function.environment.items()), function.logging)
        groups.setdefault(key, []).append(function)
    roots = (config.base_dir.resolve(), *(folder for folder, _, _ in groups))
    # A new execution environment inits anew: what an earlier load of these
    # folders imported (an emulator before this one, `check`) is imported again.
    if fresh:
        _forget_inits(roots)
    caller = contextvars.copy_context()
    before = set(sys.modules)
    loaded: dict[str, LoadedHandler] = {}
    for index, ((folder, _, _), functions) in enumerate(groups.items()):
        group = _Group(folder, region, init_timeout, roots=roots, lambda_api=lambda_api, aws=aws)
        # The first group imports into sys.modules as usual, unless a module of
        # the same name is there from elsewhere (another API's folder).
        foreign = [f.module for f in functions if _elsewhere(f.module, folder)]
        found: list[ConfigError] = []
        try:
            with _fresh_modules(roots if index > 0 else (), foreign):
                loaded.update(
                    group.load(
                        functions,
                        None if problems is None else found,
                        caller=caller,
                    )
                )
        except ConfigError as exc:
            raise config.located(exc) from exc.__cause__
        if problems is not None:
            problems.extend(config.located(problem) for problem in found)
        if index == 0:
            _remember_inits(set(sys.modules) - before, roots)
    return loaded


# The API modules a load imported into sys.modules, by name: id of the module.
_inits: dict[str, int] = {}
_UNSET = object()  # a context variable an init found unset


def _remember_inits(names: set[str], roots: Sequence[Path]) -> None:
    for name in names:
        module = sys.modules.get(name)
        if module is not None and _is_own(module, roots):
            _inits[name] = id(module)


def _forget_inits(roots: Sequence[Path]) -> None:
    """Drop from sys.modules the API modules an earlier load imported, and only
    those: a module the user imported (a test sharing state with its handler)
    is used as it is."""
    for name, ident in list(_inits.items()):
        module = sys.modules.get(name)
        if module is None or id(module) != ident:
            del _inits[name]
        elif _is_own(module, roots):
            del sys.modules[name]
            del _inits[name]


def load_handlers(
    config: ApiConfig,
    *,
    region: str = "us-east-1",
    init_timeout: float = INIT_TIMEOUT,
    lambda_api: LambdaApi | None = None,
) -> dict[str, LoadedHandler]:
    """The handler of every Lambda route, by route key, and the authorizer's
    (at :data:`AUTHORIZER`); or the first :class:`ConfigError` (with its source)."""
    functions = load_functions(
        config, region=region, init_timeout=init_timeout, lambda_api=lambda_api
    )
    handlers = {
        route_key: functions[route.function.name]
        for route_key, route in config.routes.items()
        if route.function is not None
    }
    if config.authorizer is not None:
        # Not a route: the key starts with '$', so no message can select it.
        handlers[AUTHORIZER] = functions[config.authorizer.function.name]
    return handlers


def _checked_folder(function: FunctionConfig, base_dir: Path) -> Path:
    folder = code_folder(function, base_dir)
    if function.code_uri is not None and not folder.is_dir():
        problem = f"the code folder {str(folder)!r} does not exist or is not a folder"
        raise ConfigError(problem, key=_key(function, "codeUri"))
    return folder


def _key(function: FunctionConfig, name: str) -> str:
    return f"{function.where}.{name}" if function.where else name


class _Group:
    """Functions sharing a code folder, a configured environment and a logging
    configuration: one init."""

    def __init__(
        self,
        folder: Path,
        region: str,
        init_timeout: float,
        *,
        roots: Sequence[Path],
        lambda_api: LambdaApi | None = None,
        aws: AwsAccess | None = None,
    ) -> None:
        self.folder = folder
        self.lambda_api = lambda_api
        self.aws = aws
        self.region = region
        self.init_timeout = init_timeout
        self.roots = roots

    def load(
        self,
        functions: Sequence[FunctionConfig],
        problems: list[ConfigError] | None = None,
        *,
        caller: contextvars.Context | None = None,
    ) -> dict[str, LoadedHandler]:
        """Init each module once; with ``problems``, a function that fails is left out.

        The functions run from ``caller`` (by default the calling context), with
        what this group's inits set in theirs over it (:meth:`Sandbox.start_from`):
        the group shares its modules, and so what they set at import.
        """
        caller = caller if caller is not None else contextvars.copy_context()
        imported: dict[contextvars.ContextVar[Any], Any] = {}
        first = functions[0]
        root = root_state(first.logging)
        sandboxes = {
            f.name: Sandbox(
                f,
                region=self.region,
                task_root=self.folder,
                root=root,
                lambda_api=self.lambda_api,
                aws=self.aws,
            )
            for f in functions
        }
        modules: dict[str, ModuleType] = {}
        started = time.monotonic()
        failed: set[str] = set()
        for function in functions:
            if function.module in modules or function.module in failed:
                continue
            sandbox = sandboxes[function.name]
            sandbox.start_from(caller, imported)  # an init sees what earlier ones set
            try:
                modules[function.module] = self._init(function, sandbox, imported)
            except ConfigError as exc:
                if problems is None:
                    raise
                problems.append(exc)
                failed.add(function.module)
        init_ms = (time.monotonic() - started) * 1000
        loaded = {}
        for function in functions:
            if function.module in failed:
                continue
            sandbox = sandboxes[function.name]
            sandbox.init_duration_ms = init_ms
            sandbox.start_from(caller, imported)
            try:
                handler = _handler(modules[function.module], function)
            except ConfigError as exc:
                if problems is None:
                    raise
                problems.append(exc)
                continue
            loaded[function.name] = LoadedHandler(
                function,
                handler,
                inspect.iscoroutinefunction(handler),
                self.folder,
                sandbox,
            )
        return loaded

    def _init(
        self,
        function: FunctionConfig,
        sandbox: Sandbox,
        imported: dict[contextvars.ContextVar[Any], Any],
    ) -> ModuleType:
        """Import ``function``'s module in its sandbox, within the init limit;
        add the context variables the init set to ``imported``."""
        top = function.module.partition(".")[0]
        if top in sys.builtin_module_names:
            problem = (
                f"Runtime.BuiltInModuleConflict: Cannot use built-in module {top}"
                " as a handler module"
            )
            raise ConfigError(
                f"function {function.name!r}: {problem}", key=_key(function, "handler")
            )
        context = sandbox.context(sandbox.scope(""))
        before = context.copy()
        outcome: dict[str, Any] = {}

        def init() -> None:
            try:
                outcome["module"] = importlib.import_module(function.module)
            except BaseException as exc:  # noqa: BLE001 - reported as Lambda reports it
                outcome["error"] = exc

        thread = threading.Thread(target=context.run, args=(init,), daemon=True)
        # Every other code folder off sys.path (this API's, and any an earlier
        # load put there): as on Lambda, the module is found in its own folder.
        others = {str(root) for root in self.roots if root != self.folder} | _added_folders
        others.discard(str(self.folder))
        with _first_on_path(str(self.folder)), _off_path(sorted(others)):
            thread.start()
            thread.join(self.init_timeout)
            searched = list(sys.path)
        if thread.is_alive():
            problem = _timed_out(function, thread, self.init_timeout, self.folder)
            raise ConfigError(problem, key=_key(function, "handler"))
        error = outcome.get("error")
        if error is not None:
            problem = _init_error(error, function, self.folder, searched)
            problem += _unset_resource_hint(error, function, self.aws)
            raise ConfigError(problem, key=_key(function, "handler")) from error
        module: ModuleType = outcome["module"]
        for variable, value in context.items():
            if before.get(variable, _UNSET) is not value:
                imported[variable] = value
        return module


def _unset_resource_hint(
    error: BaseException, function: FunctionConfig, aws: AwsAccess | None
) -> str:
    """Why a variable read at import is missing: it names a resource, which only
    ``--mock-aws`` creates (:func:`~emulator.model.resources.resolve_variables`)."""
    if not isinstance(error, KeyError) or (aws is not None and aws.services is not None):
        return ""
    name = error.args[0] if error.args else None
    value = function.environment.get(name) if isinstance(name, str) else None
    found = references(value) if value is not None else []
    if not found:
        return ""
    return (
        f"; {name} names {found[0]} of 'resources', which exists with --mock-aws"
        " (without it, nothing creates it and the variable is not set)"
    )


@contextlib.contextmanager
def _fresh_modules(roots: Sequence[Path], foreign: Sequence[str]) -> Iterator[None]:
    """Import fresh copies of the API's own modules (those under ``roots``) and of
    ``foreign`` ones (there from another folder), then put the others back."""
    tops = {module.partition(".")[0] for module in foreign}
    if not roots and not tops:
        yield
        return
    roots = (*roots, *_foreign_roots(tops))

    def replaced(name: str, module: ModuleType | None) -> bool:
        top = name.partition(".")[0]
        return module is not None and (_is_own(module, roots) or top in tops)

    saved = {name: m for name, m in list(sys.modules.items()) if replaced(name, m)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name, module in list(sys.modules.items()):
            if replaced(name, module):
                del sys.modules[name]
        sys.modules.update(saved)


@functools.cache
def _resolved(file: str) -> Path:
    """A module file's path, symlinks resolved: once per file, as each load and
    reload looks through every module in ``sys.modules`` (hundreds once boto3
    is in), and resolving is a system call per path component."""
    return Path(file).resolve()


def _elsewhere(module: str, folder: Path) -> bool:
    """Whether ``module``'s top-level name is in ``sys.modules`` from another folder."""
    cached = sys.modules.get(module.partition(".")[0])
    file = getattr(cached, "__file__", None)
    if cached is None or not file:
        return False
    return not _resolved(file).is_relative_to(folder)


def _foreign_roots(tops: set[str]) -> list[Path]:
    """The folders that modules of these names in ``sys.modules`` come from."""
    roots = []
    for top in tops:
        file = getattr(sys.modules.get(top), "__file__", None)
        if file:
            path = _resolved(file)
            roots.append(path.parent.parent if path.name == "__init__.py" else path.parent)
    return roots


def _is_own(module: ModuleType, roots: Sequence[Path]) -> bool:
    """Whether ``module`` is the API's code: a file in one of its folders, not a library."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = _resolved(file)
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    if path.is_relative_to(_PACKAGE_DIR):
        return False
    return any(path.is_relative_to(root) for root in roots)


def _handler(module: ModuleType, function: FunctionConfig) -> Callable[..., Any]:
    key = _key(function, "handler")
    handler = getattr(module, function.attribute, None)
    if handler is None:
        callables = [name for name, value in vars(module).items() if callable(value)]
        hint = _did_you_mean(function.attribute, callables)
        problem = (
            f"Runtime.HandlerNotFound: Handler '{function.attribute}'"
            f" missing on module '{function.module}'{hint}"
        )
        raise ConfigError(f"function {function.name!r} ({_file(module)}): {problem}", key=key)
    if not callable(handler):
        problem = f"{function.handler!r} is not callable (it is a {type(handler).__name__})"
        raise ConfigError(f"function {function.name!r}: {problem}", key=key)
    return handler  # type: ignore[no-any-return]


def _init_error(
    error: BaseException, function: FunctionConfig, folder: Path, searched: Sequence[str]
) -> str:
    """The error Lambda reports for a failed init (lambda-runtime-spec §2.2)."""
    module = function.module
    who = f"function {function.name!r}"
    if isinstance(error, SyntaxError):
        where = f" ({error.filename}, line {error.lineno})"
        problem = f"Syntax error in module '{module}': {error.msg}{where}"
        return f"{who}: Runtime.UserCodeSyntaxError: {problem}"
    if isinstance(error, ImportError):
        text = f"{who}: Runtime.ImportModuleError: Unable to import module '{module}': {error}"
        missing = error.name or ""
        if isinstance(error, ModuleNotFoundError) and module.startswith(missing) and missing:
            # The handler's own module is missing: say where it was looked for.
            text += _missing_module(missing, folder, searched)
        else:
            text += _location(error, folder)
        return text
    return f"{who}: {type(error).__name__}: {error}{_location(error, folder)}"


def _missing_module(missing: str, folder: Path, searched_path: Sequence[str]) -> str:
    parent, _, leaf = missing.rpartition(".")
    searched = folder.joinpath(*parent.split(".")) if parent else folder
    found = []
    if searched.is_dir():
        found = [
            child.stem if child.suffix == ".py" else child.name
            for child in searched.iterdir()
            if (child.suffix == ".py" or child.is_dir()) and not child.name.startswith((".", "_"))
        ]
    path = ", ".join(repr(entry) for entry in searched_path[:6])
    more = ", ..." if len(searched_path) > 6 else ""
    return f" (looked in {str(searched)!r}{_did_you_mean(leaf, found)}; sys.path: [{path}{more}])"


def _location(error: BaseException, folder: Path) -> str:
    """`` (app.py, line 3)``: where in the user's code the error was raised."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if "importlib" not in frame.filename
        and not Path(frame.filename).is_relative_to(_PACKAGE_DIR)
    ]
    # The function's own line, not the library's that raised (json, os.environ).
    frames = [frame for frame in frames if _in_folder(frame.filename, folder)] or frames
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _in_folder(filename: str, folder: Path) -> bool:
    # "<frozen os>" is no file.
    return Path(filename).is_absolute() and _resolved(filename).is_relative_to(folder)


def _timed_out(
    function: FunctionConfig, thread: threading.Thread, timeout: float, folder: Path
) -> str:
    where = ""
    frame = sys._current_frames().get(thread.ident or 0)
    if frame is not None:
        stack = traceback.extract_stack(frame)
        # The function's own line that waits, else the last one outside the emulator.
        own = [f for f in stack if _in_folder(f.filename, folder)] or [
            f for f in stack if not Path(f.filename).is_relative_to(_PACKAGE_DIR)
        ]
        last = (own or stack)[-1]
        where = f"; it is still running at {last.filename}, line {last.lineno}, in {last.name}"
    return (
        f"function {function.name!r}: its init did not finish within {timeout:.2f} seconds,"
        f" Lambda's limit for importing a function's module{where}"
    )


def _file(module: ModuleType) -> str:
    return str(getattr(module, "__file__", None) or module.__name__)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


@contextlib.contextmanager
def _off_path(folders: Sequence[str]) -> Iterator[None]:
    """The API's other code folders off ``sys.path`` while a function's module is
    imported: as on Lambda, it finds the modules of its own folder only."""
    removed = [(index, entry) for index, entry in enumerate(sys.path) if entry in folders]
    for index, _ in reversed(removed):
        del sys.path[index]
    try:
        yield
    finally:
        for index, entry in removed:
            sys.path.insert(index, entry)


# The code folders the loader put on sys.path, and left there.
_added_folders: set[str] = set()


@contextlib.contextmanager
def _first_on_path(folder: str) -> Iterator[None]:
    """``folder`` first on ``sys.path`` while importing; on it afterwards."""
    if folder not in sys.path:
        sys.path.insert(0, folder)  # stays: handlers may import lazily
        _added_folders.add(folder)
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
