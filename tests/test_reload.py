"""Live reload: edits to handler modules and routes.yaml serve the next event,
while open connections stay open (emulator/reload.py, ``Emulator.replace``).

In-process: a copy of tests/fixtures/teach_reload in tmp_path (module names
made unique per test, since modules are imported by name), served by a
Harness, watched by a Reloader task; each change is awaited on
``reloader.results``. Then once through ``python -m emulator serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from websockets.asyncio.client import connect

import emulator as emulator_package
from emulator.app import Emulator
from emulator.model.config import load_config, parse_config
from emulator.model.templates import load_terraform
from emulator.tools import reload as reload_module
from emulator.tools.reload import Reloader
from emulator.tools.testing import Client, Harness

FIXTURE = Path(__file__).parent / "fixtures" / "teach_reload"
PREFIX = "teach_reload_"
TIMEOUT = 10.0
# A syntax error on a line of its own, in place of `def handler(`.
BROKEN = "def handler(:\n    pass\n\n\ndef unused("


@dataclass
class App:
    """A private copy of the fixture: its folder and its unique module names."""

    folder: Path
    staging: Path  # outside the watched folder: edits are written here, then moved in
    app: str  # the handler module
    state: str  # the module holding the counter

    @property
    def config(self) -> Path:
        return self.folder / "routes.yaml"

    @property
    def handler_file(self) -> Path:
        return self.folder / f"{self.app}.py"

    def edit(self, path: Path, *replacements: tuple[str, str]) -> None:
        """Replace each ``(old, new)`` in ``path``, in one atomic save (as many editors do)."""
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text, f"{old!r} not in {path}"
            text = text.replace(old, new)
        staged = self.staging / path.name
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    unique = PREFIX + re.sub(r"\W", "_", tmp_path.name) + "_"
    folder, staging = tmp_path / "app", tmp_path / "staging"
    folder.mkdir()
    staging.mkdir()
    for source in FIXTURE.iterdir():
        if source.suffix in (".py", ".yaml"):
            text = source.read_text(encoding="utf-8").replace(PREFIX, unique)
            (folder / source.name.replace(PREFIX, unique)).write_text(text, encoding="utf-8")
    yield App(folder, staging, f"{unique}app", f"{unique}state")
    _forget(tmp_path)


def _forget(root: Path) -> None:
    """Drop the modules imported from under ``root``, and its folders on sys.path."""
    root = root.resolve()

    def under(location: str) -> bool:
        return Path(location).resolve().is_relative_to(root)

    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", ())]
        if any(location and under(location) for location in locations):
            del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if not (entry and under(entry))]


@dataclass
class Live:
    api: Harness
    reloader: Reloader
    client: Client

    async def ask(self, message: str = '{"action":"hello"}') -> str:
        await self.client.send_text(message)
        return await self.client.receive_text(timeout=TIMEOUT)

    async def result(self) -> bool:
        """The outcome of the next change that touched the API."""
        return await asyncio.wait_for(self.reloader.results.get(), TIMEOUT)


@contextlib.asynccontextmanager
async def _watching(reloader: Reloader) -> AsyncIterator[None]:
    """``reloader`` watching, in place for the next change; stopped on the way out."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(reloader.watch(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


@pytest.fixture
async def live(app: App) -> AsyncIterator[Live]:
    """The copy served on 127.0.0.1:0, watched, with one client connected."""
    emulator = Emulator(load_config(app.config), host="127.0.0.1", port=0)
    async with Harness(emulator) as api:
        reloader = Reloader(emulator, app.config)
        async with _watching(reloader):
            yield Live(api, reloader, await api.connect())


def _reload_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "emulator.reload" and r.levelno == logging.WARNING
    ]


async def test_edited_handler_serves_the_same_open_connection(app: App, live: Live) -> None:
    assert await live.ask() == "v1 1"
    app.edit(app.handler_file, ('VERSION = "v1"', 'VERSION = "v2"'))
    assert await live.result() is True
    # The same client, not reconnected: the connection stayed open.
    assert await live.ask() == "v2 2"
    assert live.api.emulator.connection_ids() == [live.client.connection_id]
    assert live.reloader.reloads == 1


async def test_unchanged_module_keeps_its_state_across_reloads(app: App, live: Live) -> None:
    state = sys.modules[app.state]
    handler_module = sys.modules[app.app]
    assert [await live.ask() for _ in range(2)] == ["v1 1", "v1 2"]
    for version in ("v2", "v3"):
        app.edit(app.handler_file, ("VERSION = ", f'VERSION = "{version}"  # was '))
        assert await live.result() is True
        assert await live.ask() == f"{version} {3 if version == 'v2' else 4}"
    # The handler's module was imported again; the state module it imports was not.
    assert sys.modules[app.app] is not handler_module
    assert sys.modules[app.state] is state
    assert state.count == 4


async def test_broken_module_keeps_the_previous_version_until_fixed(
    app: App, live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    assert await live.ask() == "v1 1"
    app.edit(app.handler_file, ("def handler(", BROKEN))
    assert await live.result() is False
    assert await live.ask() == "v1 2"
    warnings = _reload_warnings(caplog)
    assert len(warnings) == 1, warnings
    line = app.handler_file.read_text(encoding="utf-8").splitlines().index("def handler(:") + 1
    assert "Runtime.UserCodeSyntaxError" in warnings[0]
    assert f"({app.handler_file.resolve()}, line {line})" in warnings[0]
    assert warnings[0].endswith("; still serving the previous version")

    app.edit(app.handler_file, (BROKEN, "def handler("), ('VERSION = "v1"', 'VERSION = "v2"'))
    assert await live.result() is True
    assert await live.ask() == "v2 3"


async def test_edited_helper_module_is_used_by_the_handler(app: App, live: Live) -> None:
    assert await live.ask() == "v1 1"
    app.edit(app.folder / f"{app.state}.py", ("count = 0", "count = 100"))
    assert await live.result() is True
    # The handler's module was imported again too, so it binds the new helper.
    assert await live.ask() == "v1 101"


async def test_routes_yaml_edit_adds_a_route_on_the_open_connection(app: App, live: Live) -> None:
    # Before: no route "extra", so $default answers.
    assert await live.ask('{"action":"extra"}') == "v1 1"
    addition = f"  extra:\n    handler: {app.app}.extra\n    routeResponse: true\n"
    app.edit(app.config, ("routes:\n", "routes:\n" + addition))
    assert await live.result() is True
    assert await live.ask('{"action":"extra"}') == "extra v1"
    assert await live.ask('{"action":"other"}') == "v1 2"
    assert set(live.api.emulator.config.routes) == {"extra", "$default"}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "timeout: 2", "timeout: 99", "routes.$default.timeout: must be", id="bad-value"
        ),
        pytest.param("stage: teach", "stage: teach\nbogus: 1", "bogus: unknown key", id="bad-key"),
        pytest.param("routes:", "routes: [", "invalid YAML", id="not-yaml"),
        pytest.param(
            "$default:\n    handler: ",
            "$default:\n    handler: nowhere_to_be_found.",
            "Unable to import module 'nowhere_to_be_found",
            id="unimportable-handler",
        ),
    ],
)
async def test_invalid_routes_yaml_keeps_the_previous_config(
    app: App, live: Live, caplog: pytest.LogCaptureFixture, old: str, new: str, problem: str
) -> None:
    config = live.api.emulator.config
    assert await live.ask() == "v1 1"
    app.edit(app.config, (old, new))
    assert await live.result() is False
    assert await live.ask() == "v1 2"
    assert live.api.emulator.config is config
    warnings = _reload_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{app.config.resolve()}: "), warnings
    assert problem in warnings[0]


async def test_a_module_from_a_new_folder_is_watched_once_imported(app: App, live: Live) -> None:
    # A route added to routes.yaml, whose handler lives in a folder no module
    # came from so far; then an edit of that handler.
    package = app.folder / f"{app.app}_more"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    more = package / "handlers.py"
    more.write_text(
        'def extra(event, context):\n    return {"statusCode": 200, "body": "more v1"}\n',
        encoding="utf-8",
    )
    route = f"  extra:\n    handler: {package.name}.handlers.extra\n    routeResponse: true\n"
    app.edit(app.config, ("routes:\n", "routes:\n" + route))
    assert await live.result() is True
    assert await live.ask('{"action":"extra"}') == "more v1"
    assert package.resolve() in live.reloader.folders()
    app.edit(more, ("more v1", "more v2"))
    assert await live.result() is True
    assert await live.ask('{"action":"extra"}') == "more v2"


async def test_only_the_folders_of_the_api_are_watched(app: App) -> None:
    # A tree beside the API that no module of it comes from, such as a virtual
    # environment or node_modules: a watch of the whole folder would walk it all.
    for name in (".venv", "node_modules", "docs"):
        for depth in range(3):
            (app.folder / name / "/".join(["sub"] * (depth + 1))).mkdir(parents=True)
    helpers = app.folder / "lib"
    helpers.mkdir()
    (helpers / f"{app.app}_helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    config = app.folder / "helper.yaml"
    config.write_text(
        f"routes:\n  $default: {app.app}.handler\n  other: {app.app}_helper_route.handler\n",
        encoding="utf-8",
    )
    (app.folder / f"{app.app}_helper_route.py").write_text(
        f"import sys\nsys.path.insert(0, {str(helpers)!r})\nimport {app.app}_helper\n\n"
        "def handler(event, context):\n    return None\n",
        encoding="utf-8",
    )
    emulator = Emulator(load_config(config), host="127.0.0.1", port=0)
    folders = Reloader(emulator, config).folders()
    assert folders == {app.folder.resolve(), helpers.resolve()}


MOCK = {"routes": {"$default": {"integration": {"type": "MOCK"}}}}


def test_installed_packages_are_not_the_apis_modules() -> None:
    # An API whose folder holds the interpreter's own packages (a .venv beside
    # routes.yaml, with the emulator installed in it): none of them is watched.
    emulator = Emulator(parse_config(MOCK, base_dir=Path(sys.prefix)), port=0)
    assert Reloader(emulator, None).folders() == {Path(sys.prefix).resolve()}


def test_the_emulators_own_modules_are_not_the_apis() -> None:
    # This repository's routes.yaml sits above the emulator's package.
    package = Path(emulator_package.__file__).resolve().parent
    emulator = Emulator(parse_config(MOCK, base_dir=package.parent), port=0)
    folders = Reloader(emulator, None).folders()
    assert package.parent in folders
    assert not any(folder.is_relative_to(package) for folder in folders), folders


async def test_apply_directly(app: App) -> None:
    emulator = Emulator(load_config(app.config), host="127.0.0.1", port=0)
    async with Harness(emulator) as api:
        client = await api.connect()
        reloader = Reloader(emulator, app.config)
        config, module = emulator.config, sys.modules[app.app]
        notes = app.folder / "notes.txt"
        notes.write_text("not part of the API", encoding="utf-8")
        # A file no module came from, and one outside the folder: nothing to do.
        assert reloader.apply([notes]) is False
        assert reloader.apply([app.staging / f"{app.app}.py"]) is False
        assert reloader.reloads == 0
        assert emulator.config is config
        assert sys.modules[app.app] is module
        await client.send_text("{}")
        assert await client.receive_text(timeout=TIMEOUT) == "v1 1"
        # The handler's own file: the new version serves.
        app.edit(app.handler_file, ('VERSION = "v1"', 'VERSION = "v2"'))
        assert reloader.apply([str(app.handler_file)]) is True
        assert reloader.reloads == 1
        await client.send_text("{}")
        assert await client.receive_text(timeout=TIMEOUT) == "v2 2"


# What gets past the watcher: a log file written in the API's folder (`apigw-ws
# serve 2> serve.log`) changes with every line logged, and must cost next to nothing.


class LogWriter:
    """Appends a line to ``path`` every few milliseconds, on a thread of its own
    (as the server's stderr redirected to a file would, under load), until stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.started, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def _write(self) -> None:
        with self.path.open("a", encoding="utf-8") as log:
            while True:
                log.write(f"12:00:00.000 info: line {self.lines}\n")
                log.flush()
                self.lines += 1
                self.started.set()
                # A pace for the writes, not a wait for anything.
                if self._stop.wait(0.005):
                    return

    async def __aenter__(self) -> LogWriter:
        self._thread.start()
        assert await asyncio.to_thread(self.started.wait, TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, TIMEOUT)


async def test_a_log_written_in_the_apis_folder_never_reaches_the_reload_check(
    app: App, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[set[str]] = []
    touches_api = live.reloader._touches_api

    def spy(changes: list[str]) -> bool:
        checked.append({Path(path).name for path in changes})
        return touches_api(changes)

    monkeypatch.setattr(live.reloader, "_touches_api", spy)
    assert await live.ask() == "v1 1"
    with (app.folder / "serve.log").open("a", encoding="utf-8") as log:
        for number in range(50):
            log.write(f"12:00:00.000 info: line {number}\n")
            log.flush()
    app.edit(app.handler_file, ('VERSION = "v1"', 'VERSION = "v2"'))
    assert await live.result() is True
    assert await live.ask() == "v2 2"
    # Changes arrive in order: the log's were seen before the handler's, or with
    # them, and left out by the watcher's filter; only the handler was checked.
    assert checked
    assert all(names == {app.handler_file.name} for names in checked), checked
    assert live.reloader.ignored >= 1


async def test_a_log_written_in_the_apis_folder_never_wakes_the_event_loop(
    app: App, live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch's filter runs on its own thread: a batch of log lines is left
    # out there, and the loop wakes first for the edit that follows it.
    reloader = live.reloader
    loop = asyncio.get_running_loop()
    filtered: asyncio.Future[None] = loop.create_future()
    threads = set()
    wanted = reloader._wanted

    def spy(path: str) -> bool:
        threads.add(threading.get_ident())
        keep = wanted(path)
        if Path(path).name == "serve.log" and not keep:
            loop.call_soon_threadsafe(lambda: filtered.done() or filtered.set_result(None))
        return keep

    wakes: list[int] = []
    touches_api = reloader._touches_api

    def checked(changes: list[str]) -> bool:
        wakes.append(reloader.wakes)
        return touches_api(changes)

    monkeypatch.setattr(reloader, "_wanted", spy)
    monkeypatch.setattr(reloader, "_touches_api", checked)
    assert await live.ask() == "v1 1"
    reloader.folders()  # modules the first message imported: no wake to look for them
    (app.folder / "serve.log").write_text("12:00:00.000 info: a line\n", encoding="utf-8")
    await asyncio.wait_for(filtered, TIMEOUT)
    app.edit(app.handler_file, ('VERSION = "v1"', 'VERSION = "v2"'))
    assert await live.result() is True
    assert wakes == [1]
    assert threading.get_ident() not in threads
    assert await live.ask() == "v2 2"


async def test_a_failure_on_the_watch_thread_ends_the_watch_with_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised where the watch is awaited (serve's shutdown awaits it), never a
    # watch left waiting for a thread that is gone.
    reloader = Reloader(Emulator(load_config(app.config), port=0), app.config)

    def broken(path: str) -> bool:
        raise OSError(f"cannot read {path}")

    monkeypatch.setattr(reloader, "_wanted", broken)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(reloader.watch(stop, ready))
    await asyncio.wait_for(ready.wait(), TIMEOUT)
    (app.folder / "serve.log").write_text("a line\n", encoding="utf-8")
    with pytest.raises(OSError, match=r"cannot read .*serve\.log"):
        await asyncio.wait_for(task, TIMEOUT)


async def test_the_watch_takes_watchfiles_own_settings(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where file system events do not arrive (WSL, a mounted volume), users set
    # watchfiles' own variables, as for any tool that watches with it.
    monkeypatch.setenv("WATCHFILES_FORCE_POLLING", "1")
    monkeypatch.setenv("WATCHFILES_POLL_DELAY_MS", "20")
    monkeypatch.setenv("WATCHFILES_IGNORE_PERMISSION_DENIED", "1")
    made: list[tuple[object, ...]] = []
    real = reload_module.RustNotify

    def recorded(*args: object) -> object:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(reload_module, "RustNotify", recorded)
    reloader = Reloader(Emulator(load_config(app.config), port=0), app.config)
    async with _watching(reloader):
        pass
    # paths, debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
    assert [args[1:] for args in made] == [(False, True, 20, False, True)]
    assert made[0][0] == [str(app.folder.resolve())]


async def test_a_log_written_without_pause_neither_delays_the_watch_nor_hides_an_edit(
    app: App,
) -> None:
    # Every write comes within the 200 ms after the last one: the watch never
    # has an empty batch to tell it is in place. It is ready all the same.
    emulator = Emulator(load_config(app.config), host="127.0.0.1", port=0)
    async with Harness(emulator) as api, LogWriter(app.folder / "serve.log") as writer:
        client = await api.connect()
        reloader = Reloader(emulator, app.config)
        async with _watching(reloader):
            app.edit(app.handler_file, ('VERSION = "v1"', 'VERSION = "v2"'))
            assert await asyncio.wait_for(reloader.results.get(), TIMEOUT) is True
            await client.send_text("{}")
            assert await client.receive_text(timeout=TIMEOUT) == "v2 1"
        assert writer.lines > 1
        assert reloader.ignored >= 1
        assert reloader.reloads == 1


async def test_a_renamed_helper_module_still_counts_as_a_change(app: App, live: Live) -> None:
    # Renamed to a name that is not a Python source: its removal is the change.
    assert await live.ask() == "v1 1"
    state = app.folder / f"{app.state}.py"
    os.replace(state, state.with_name(state.name + ".bak"))
    # The handler imports it: the new version cannot load, the previous serves.
    assert await live.result() is False
    assert await live.ask() == "v1 2"


def _watched_file(tmp_path: Path, config: str, name: str) -> tuple[Reloader, str]:
    config_path = tmp_path / config
    if "." not in config:  # a Terraform configuration: a folder
        config_path.mkdir()
    folder = config_path if config_path.is_dir() else tmp_path
    emulator = Emulator(parse_config(MOCK, base_dir=tmp_path), port=0)
    return Reloader(emulator, config_path), str(folder / name)


@pytest.mark.parametrize(
    ("config", "name", "wanted"),
    [
        pytest.param("routes.yaml", "app.py", True, id="source"),
        pytest.param("routes.yaml", "routes.yaml", True, id="routes.yaml"),
        pytest.param("template.json", "template.json", True, id="template"),
        pytest.param("routes.yaml", "serve.log", False, id="log"),
        pytest.param("routes.yaml", "other.yaml", False, id="other-yaml"),
        pytest.param("routes.yaml", "app.pyc", False, id="compiled"),
        pytest.param("routes.yaml", "app.pyi", False, id="stub"),
        pytest.param("routes.yaml", "fast.cpython-311-x86_64-linux-gnu.so", False, id="native"),
        pytest.param("routes.yaml", "app.py.swp", False, id="editor-swap"),
        pytest.param("routes.yaml", "main.tf", False, id="tf-beside-routes.yaml"),
        pytest.param("terraform", "main.tf", True, id="terraform-tf"),
        pytest.param("terraform", "stage.auto.tfvars", True, id="terraform-tfvars"),
        pytest.param("terraform", "api.tf.json", True, id="terraform-tf.json"),
        pytest.param("terraform", "terraform.tfvars.json", True, id="terraform-tfvars.json"),
        pytest.param("terraform", "outputs.json", False, id="terraform-other-json"),
        pytest.param("terraform", "app.py", True, id="terraform-source"),
        pytest.param("terraform", "plan.log", False, id="terraform-log"),
    ],
)
def test_only_sources_and_the_config_get_past_the_watcher(
    tmp_path: Path, config: str, name: str, wanted: bool
) -> None:
    reloader, path = _watched_file(tmp_path, config, name)
    reloader.folders()  # as the watch does when it starts
    assert reloader._wanted(path) is wanted
    assert reloader.ignored == (0 if wanted else 1)


def test_a_change_that_cannot_matter_wakes_the_watch_only_for_its_own_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reloader, log = _watched_file(tmp_path, "routes.yaml", "serve.log")
    reloader.folders()
    assert reloader._wanted(log) is False
    # A module imported since the folders were worked out (a handler's lazy
    # import): the loop must wake to see whether its folder is watched.
    name = "teach_reload_lazy_" + re.sub(r"\W", "_", tmp_path.name)
    monkeypatch.setitem(sys.modules, name, ModuleType(name))
    assert reloader._wanted(log) is True
    reloader.folders()  # what the loop does, once woken
    assert reloader._wanted(log) is False
    assert reloader.ignored == 3


async def test_apply_to_files_that_cannot_matter_looks_through_no_module(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = Emulator(load_config(app.config), host="127.0.0.1", port=0)
    async with Harness(emulator):
        reloader = Reloader(emulator, app.config)

        def look_through_modules() -> dict[str, Path]:
            raise AssertionError("looked through sys.modules")

        monkeypatch.setattr(reloader, "_user_modules", look_through_modules)
        log, compiled = app.folder / "serve.log", app.folder / f"{app.app}.pyc"
        log.write_text("a line\n", encoding="utf-8")
        assert reloader.apply([log, compiled]) is False
        assert reloader._touches_api([str(log), str(compiled)]) is False
        assert reloader.reloads == 0


# A Terraform configuration: its folder is the config


TERRAFORM = """
variable "greeting" {
  type    = string
  default = "hello"
}

resource "aws_apigatewayv2_api" "ws" {
  name                       = "ws"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_stage" "ws" {
  api_id = aws_apigatewayv2_api.ws.id
  name   = "dev"
}

data "archive_file" "code" {
  type        = "zip"
  source_dir  = "${path.module}/src"
  output_path = "${path.module}/code.zip"
}

resource "aws_lambda_function" "greet" {
  function_name = "greet"
  filename      = data.archive_file.code.output_path
  handler       = "%s.handler"
  runtime       = "python3.12"

  environment {
    variables = {
      GREETING = var.greeting
    }
  }
}

resource "aws_apigatewayv2_integration" "greet" {
  api_id           = aws_apigatewayv2_api.ws.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.greet.invoke_arn
}

resource "aws_apigatewayv2_route" "default" {
  api_id                              = aws_apigatewayv2_api.ws.id
  route_key                           = "$default"
  target                              = "integrations/${aws_apigatewayv2_integration.greet.id}"
  route_response_selection_expression = "$default"
}

resource "aws_apigatewayv2_route_response" "default" {
  api_id             = aws_apigatewayv2_api.ws.id
  route_id           = aws_apigatewayv2_route.default.id
  route_response_key = "$default"
}
"""


async def test_an_edited_terraform_configuration_serves_the_open_connection(
    tmp_path: Path,
) -> None:
    # The handler in a folder of its own (src/), as Terraform projects keep it:
    # no module comes from the configuration's folder, which is watched all the same.
    folder = tmp_path / "infra"
    (folder / "src").mkdir(parents=True)
    module = "teach_reload_greet_" + re.sub(r"\W", "_", tmp_path.name)
    (folder / "src" / f"{module}.py").write_text(
        "import os\n\n\ndef handler(event, context):\n"
        '    return {"statusCode": 200, "body": os.environ["GREETING"]}\n',
        encoding="utf-8",
    )
    (folder / "main.tf").write_text(TERRAFORM % module, encoding="utf-8")

    def save(name: str, text: str) -> None:
        staged = tmp_path / name  # outside the watched folder, then moved in at once
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, folder / name)

    try:
        emulator = Emulator(load_terraform(folder).config, host="127.0.0.1", port=0)
        async with Harness(emulator) as api:
            client = await api.connect()
            reloader = Reloader(emulator, folder, load=lambda: load_terraform(folder).config)
            assert folder.resolve() in reloader.folders()
            async with _watching(reloader):
                await client.send_text("{}")
                assert await client.receive_text(timeout=TIMEOUT) == "hello"
                save("main.tf", (TERRAFORM % module).replace('"hello"', '"hey"'))
                assert await asyncio.wait_for(reloader.results.get(), TIMEOUT) is True
                await client.send_text("{}")
                assert await client.receive_text(timeout=TIMEOUT) == "hey"
                # Terraform reads the JSON forms too.
                save("terraform.tfvars.json", '{"greeting": "hi"}')
                assert await asyncio.wait_for(reloader.results.get(), TIMEOUT) is True
                await client.send_text("{}")
                assert await client.receive_text(timeout=TIMEOUT) == "hi"
            assert reloader.reloads == 2
    finally:
        _forget(tmp_path)


# Through `python -m emulator serve` (reload is on by default)


async def _line_with(stream: asyncio.StreamReader, text: str) -> str:
    """The first line of ``stream`` containing ``text``, within TIMEOUT."""

    async def find() -> str:
        seen = []
        while line := (await stream.readline()).decode():
            if text in line:
                return line.rstrip("\n")
            seen.append(line)
        raise AssertionError(f"no line with {text!r}; stderr: {''.join(seen)}")

    return await asyncio.wait_for(find(), TIMEOUT)


async def test_serve_reloads_an_edited_handler(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "emulator", "serve", "--config", str(folder / "routes.yaml")],
        *["--port", "0"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        url = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode().strip()
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/teach", url), url
        async with connect(url, open_timeout=TIMEOUT) as client:
            # A round trip: the watcher, started before the URL was printed, is in place.
            await client.send('{"action":"hello"}')
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == "v1 1"
            handler = folder / "teach_reload_app.py"
            handler.write_text(
                handler.read_text(encoding="utf-8").replace('"v1"', '"v2"'), encoding="utf-8"
            )
            line = await _line_with(process.stderr, "reloaded")
            assert re.fullmatch(
                r"\d\d:\d\d:\d\d\.\d{3} info: reloaded teach_reload_app; "
                r"open connections stay open",
                line,
            )
            await client.send('{"action":"hello"}')
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == "v2 2"
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), TIMEOUT)


async def test_edited_helper_is_used_by_a_handler_under_code_uri(tmp_path: Path) -> None:
    # SAM-style: two functions whose module is `app`, from two code folders; the
    # loader imports each under a name unique to its folder. One imports a helper
    # beside it by absolute name.
    helper = "teach_reload_helper_" + re.sub(r"\W", "_", tmp_path.name)
    folder = tmp_path / "app"
    for name, imports, body in (
        ("one", f"import {helper}\n", f'"one " + {helper}.VERSION'),
        ("two", "", '"two"'),
    ):
        (folder / name).mkdir(parents=True)
        (folder / name / "app.py").write_text(
            f"{imports}\n\ndef handler(event, context):\n"
            f'    return {{"statusCode": 200, "body": {body}}}\n',
            encoding="utf-8",
        )
    helper_file = folder / "one" / f"{helper}.py"
    helper_file.write_text('VERSION = "v1"\n', encoding="utf-8")
    config = folder / "routes.yaml"
    config.write_text(
        "routes:\n"
        "  one: {handler: app.handler, codeUri: one/, routeResponse: true}\n"
        "  $default: {handler: app.handler, codeUri: two/, routeResponse: true}\n",
        encoding="utf-8",
    )
    try:
        emulator = Emulator(load_config(config), host="127.0.0.1", port=0)
        async with Harness(emulator) as api:
            client = await api.connect()
            await client.send_text('{"action":"one"}')
            assert await client.receive_text(timeout=TIMEOUT) == "one v1"
            helper_file.write_text('VERSION = "v2"\n', encoding="utf-8")
            assert Reloader(emulator, config).apply([helper_file]) is True
            await client.send_text('{"action":"one"}')
            assert await client.receive_text(timeout=TIMEOUT) == "one v2"
    finally:
        _forget(tmp_path)
