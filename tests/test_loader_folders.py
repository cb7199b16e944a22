"""Per-route code folders: routes.yaml's ``codeUri`` and how the loader imports from them.

The SAM pattern these tests stand for: ``onconnect/app.py`` and
``sendmessage/app.py``, both ``Handler: app.handler``. Module names such as
``app`` are shared by every test, so each test runs with ``sys.modules`` and
``sys.path`` restored afterwards (the ``isolated_imports`` fixture).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.config import parse_config
from emulator.model.function import FunctionConfig
from emulator.runtime.loader import code_folder, load_handlers

APP = """\
FUNCTION = {name!r}



def handler(event, context):
    return FUNCTION
"""


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test imports is forgotten after it, and sys.path is restored."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _no_modules_of_other_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' module names are common ones: another test's `app` must not be there."""
    for name in [n for n in sys.modules if n.partition(".")[0] in ("app", "helper", "pkg")]:
        monkeypatch.delitem(sys.modules, name)


def write(folder: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    importlib.invalidate_caches()
    return folder


def config(base_dir: Path, routes: dict[str, object]) -> ApiConfig:
    return parse_config({"routes": routes}, base_dir=base_dir, source="routes.yaml")


# routes.yaml: codeUri


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("app.handler", None),
        ({"handler": "app.handler"}, None),
        ({"handler": "app.handler", "codeUri": None}, None),
        ({"handler": "app.handler", "codeUri": "onconnect/"}, Path("onconnect")),
        ({"handler": "app.handler", "codeUri": "functions/connect"}, Path("functions/connect")),
        ({"handler": "app.handler", "codeUri": "."}, Path(".")),
        ({"handler": "app.handler", "codeUri": "../shared"}, Path("../shared")),
    ],
    ids=["short-form", "long-form", "null", "folder", "nested", "dot", "parent"],
)
def test_code_uri_is_parsed(value: object, expected: Path | None) -> None:
    function = parse_config({"routes": {"sendmessage": value}}).routes["sendmessage"].function
    assert function is not None
    assert function.code_uri == expected


@pytest.mark.parametrize(
    ("code_uri", "words"),
    [
        (3, "got 3"),
        ("", "got ''"),
        ("   ", "got '   '"),
        (["onconnect"], "got ['onconnect']"),
        ({"Bucket": "b"}, "got {'Bucket': 'b'}"),
        ("a\x00b", "got 'a\\x00b'"),
    ],
    ids=["int", "empty", "blank", "list", "s3-mapping", "nul"],
)
def test_invalid_code_uri(code_uri: object, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"routes": {"sendmessage": {"handler": "app.handler", "codeUri": code_uri}}})
    assert caught.value.key == "routes.sendmessage.codeUri"
    assert "must be a folder relative to the config file, such as 'onconnect/'" in str(caught.value)
    assert words in caught.value.problem


def test_code_uri_is_listed_among_the_route_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"routes": {"x": {"handler": "a.b", "code_uri": "src"}}})
    assert "did you mean 'codeUri'?" in caught.value.problem


@pytest.mark.parametrize(
    ("code_uri", "expected"),
    [(None, "."), (Path("onconnect"), "onconnect"), (Path("a/../b"), "b")],
    ids=["config-folder", "subfolder", "normalised"],
)
def test_code_folder_is_absolute(tmp_path: Path, code_uri: Path | None, expected: str) -> None:
    function = FunctionConfig("app-handler", "app.handler", code_uri=code_uri)
    assert code_folder(function, tmp_path) == (tmp_path / expected).resolve()


# The loader: one module per folder


def test_one_module_name_in_two_folders_gives_two_modules(tmp_path: Path) -> None:
    write(tmp_path, {"onconnect/app.py": APP.format(name="connect")})
    write(tmp_path, {"sendmessage/app.py": APP.format(name="send")})
    api = config(
        tmp_path,
        {
            "$connect": {"handler": "app.handler", "codeUri": "onconnect"},
            "sendmessage": {"handler": "app.handler", "codeUri": "sendmessage/"},
        },
    )

    loaded = load_handlers(api)

    assert loaded["$connect"].function({}, None) == "connect"
    assert loaded["sendmessage"].function({}, None) == "send"
    # Two modules, each under its real name, as in two Lambda environments.
    connect_globals = loaded["$connect"].function.__globals__
    send_globals = loaded["sendmessage"].function.__globals__
    assert connect_globals is not send_globals
    assert connect_globals["__name__"] == send_globals["__name__"] == "app"
    assert Path(connect_globals["__file__"]).parent == (tmp_path / "onconnect").resolve()
    assert Path(send_globals["__file__"]).parent == (tmp_path / "sendmessage").resolve()
    # The first function's module is the one `import app` finds.
    assert sys.modules["app"].__dict__ is connect_globals
    assert loaded["$connect"].folder == (tmp_path / "onconnect").resolve()


def test_routes_sharing_a_folder_share_the_module(tmp_path: Path) -> None:
    write(tmp_path, {"a/app.py": APP.format(name="a"), "b/app.py": APP.format(name="b")})
    api = config(
        tmp_path,
        {
            "$connect": {"handler": "app.handler", "codeUri": "a"},
            "$default": {"handler": "app.handler", "codeUri": "a/"},
            "other": {"handler": "app.handler", "codeUri": "b"},
        },
    )

    loaded = load_handlers(api)

    assert loaded["$connect"].function is loaded["$default"].function
    assert loaded["other"].function({}, None) == "b"


def test_a_module_alone_keeps_its_plain_name(tmp_path: Path) -> None:
    name = f"m_{tmp_path.name}"
    write(tmp_path, {f"src/{name}.py": APP.format(name="only")})
    api = config(tmp_path, {"$default": {"handler": f"{name}.handler", "codeUri": "src"}})

    loaded = load_handlers(api)

    assert loaded["$default"].function is sys.modules[name].handler


def test_sibling_modules_import_by_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "one/app.py": "from helper_one import VALUE\n\ndef handler(e, c):\n    return VALUE\n",
            "one/helper_one.py": "VALUE = 'one'\n",
            "two/app.py": "import helper_two\n\ndef handler(e, c):\n    return helper_two.VALUE\n",
            "two/helper_two.py": "VALUE = 'two'\n",
        },
    )
    api = config(
        tmp_path,
        {
            "one": {"handler": "app.handler", "codeUri": "one"},
            "two": {"handler": "app.handler", "codeUri": "two"},
        },
    )

    loaded = load_handlers(api)

    assert [loaded[key].function({}, None) for key in ("one", "two")] == ["one", "two"]
    assert str((tmp_path / "one").resolve()) in sys.path  # for imports made later


def test_a_name_imported_from_elsewhere_is_not_reused(tmp_path: Path) -> None:
    write(tmp_path, {"first/app.py": APP.format(name="first")})
    write(tmp_path, {"second/app.py": APP.format(name="second")})
    first = config(tmp_path, {"$default": {"handler": "app.handler", "codeUri": "first"}})
    second = config(tmp_path, {"$default": {"handler": "app.handler", "codeUri": "second"}})

    # Two configs, as two emulators in one process: the second must not get the first's app.
    first_handler = load_handlers(first)["$default"]
    assert first_handler.function({}, None) == "first"
    assert load_handlers(second)["$default"].function({}, None) == "second"
    assert first_handler.function({}, None) == "first"  # the first one's still its own


def test_packages_in_a_code_folder_are_isolated_too(tmp_path: Path) -> None:
    source = "from .helpers import NAME\n\ndef handler(e, c):\n    return NAME\n"
    for folder in ("left", "right"):
        write(
            tmp_path,
            {
                f"{folder}/pkg/__init__.py": "",
                f"{folder}/pkg/mod.py": source,
                f"{folder}/pkg/helpers.py": f"NAME = {folder!r}\n",
            },
        )
    api = config(
        tmp_path,
        {
            "left": {"handler": "pkg.mod.handler", "codeUri": "left"},
            "right": {"handler": "pkg.mod.handler", "codeUri": "right"},
        },
    )

    loaded = load_handlers(api)

    assert [loaded[key].function({}, None) for key in ("left", "right")] == ["left", "right"]


# Failures name the route and the folder


def test_a_missing_code_folder_is_reported_at_code_uri(tmp_path: Path) -> None:
    api = config(tmp_path, {"$connect": {"handler": "app.handler", "codeUri": "nowhere"}})

    with pytest.raises(ConfigError) as caught:
        load_handlers(api)

    assert caught.value.key == "routes.$connect.codeUri"
    assert str(caught.value).startswith("routes.yaml: routes.$connect.codeUri: the code folder")
    assert "nowhere' does not exist or is not a folder" in caught.value.problem


def test_a_missing_module_names_its_folder(tmp_path: Path) -> None:
    write(tmp_path, {"a/app.py": APP.format(name="a"), "b/apps.py": ""})
    api = config(
        tmp_path,
        {
            "$connect": {"handler": "app.handler", "codeUri": "a"},
            "$default": {"handler": "app.handler", "codeUri": "b"},
        },
    )

    with pytest.raises(ConfigError) as caught:
        load_handlers(api)

    assert caught.value.key == "routes.$default.handler"
    folder = str((tmp_path / "b").resolve())
    assert caught.value.problem.startswith(
        "function 'app-handler-2': Runtime.ImportModuleError: Unable to import module 'app':"
        f" No module named 'app' (looked in {folder!r}; did you mean 'apps'?; sys.path: ["
        f"{folder!r}, "
    )
    assert repr(str((tmp_path / "a").resolve())) not in caught.value.problem
    # The first folder's module is back, the failed import left nothing behind.
    assert Path(sys.modules["app"].__file__ or "").parent == (tmp_path / "a").resolve()


def test_a_later_groups_modules_stay_out_of_sys_modules(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a/app.py": "import helper\n\ndef handler(e, c):\n    return helper.NAME\n",
            "a/helper.py": "NAME = 'a'\n",
            "b/app.py": "import helper\n\ndef handler(e, c):\n    return helper.NAME\n",
            "b/helper.py": "NAME = 'b'\n",
        },
    )
    api = config(
        tmp_path,
        {
            "$connect": {"handler": "app.handler", "codeUri": "a"},
            "$default": {"handler": "app.handler", "codeUri": "b"},
        },
    )

    loaded = load_handlers(api)

    # Each function imported the helper beside it, under its own name `helper`.
    assert loaded["$connect"].function({}, None) == "a"
    assert loaded["$default"].function({}, None) == "b"
    assert sys.modules["helper"].NAME == "a"
