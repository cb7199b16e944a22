"""The ``apigw-ws`` command: ``main(argv)`` in-process, and the real thing in a subprocess.

In-process tests stop before anything listens (configuration errors). Serving is
tested in a child process (``python -m emulator``, the console script), because
the command installs signal handlers and blocks until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from emulator.tools.cli import _is_loopback, main
from tests.serving import Server, serve_command, serving

FIXTURE = Path(__file__).parent / "fixtures" / "cli_app"
TIMEOUT = 10.0
URL_LINE = re.compile(r"ws://127\.0\.0\.1:(\d+)/clitest\n")


# In-process: configuration errors


def _write(folder: Path, text: str) -> Path:
    path = folder / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BAD_CONFIGS = [
    pytest.param(
        "routes:\n  sendmessage:\n    handler: app.send\n    timeout: 99\n",
        ["routes.sendmessage.timeout", "99"],
        id="timeout-out-of-range",
    ),
    pytest.param(
        "routes:\n  $default: app.handler\nstage: 'not a stage'\n",
        ["stage", "'not a stage'"],
        id="bad-stage",
    ),
    pytest.param(
        "routes:\n  $default: app.handler\nroutes_extra: 1\n",
        ["routes_extra", "unknown key"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "routes:\n  $default: [unclosed\n",
        ["invalid YAML at line"],
        id="invalid-yaml",
    ),
    pytest.param(
        "routes:\n  $default: app/handler\n",
        ["routes.$default", "not '/'"],
        id="handler-path-with-slash",
    ),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_CONFIGS)
def test_serve_rejects_a_bad_config_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragments: list[str]
) -> None:
    path = _write(tmp_path, text)
    assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"apigw-ws: error: {path}: ")
    for fragment in fragments:
        assert fragment in err
    assert err.count("\n") == 1  # one line, no traceback


def test_serve_with_a_missing_config_file_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "routes.yaml"
    assert main(["serve", "--config", str(missing), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"apigw-ws: error: {missing}: file not found (looked for {missing})")
    assert "  apigw-ws init " in err  # the ways to name an API: tests/test_cli_first_hour.py


@pytest.mark.parametrize(
    ("module_source", "expected"),
    [
        pytest.param(None, "Runtime.ImportModuleError", id="module-not-found"),
        pytest.param(
            "raise RuntimeError('broken at import')\n",
            "RuntimeError: broken at import",
            id="raises",
        ),
        pytest.param("def handler(:\n", "Runtime.UserCodeSyntaxError", id="syntax-error"),
    ],
)
def test_serve_with_a_handler_that_cannot_be_imported_fails_clearly(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    module_source: str | None,
    expected: str,
) -> None:
    module = f"cli_broken_{tmp_path.name}"
    if module_source is not None:
        (tmp_path / f"{module}.py").write_text(module_source, encoding="utf-8")
    path = _write(tmp_path, f"routes:\n  $default: {module}.handler\n")
    try:
        assert main(["serve", "--config", str(path), "--port", "0"]) == 2
    finally:
        sys.modules.pop(module, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(tmp_path.resolve()))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"apigw-ws: error: {path}: routes.$default.handler: ")
    assert f"function '{module}-handler'" in err
    assert expected in err


def test_serve_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--config", "--host", "--port"):
        assert option in out


# The warning for non-loopback hosts, without ever binding one


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("example.com", False),
        ("", False),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else str(value),
)
def test_is_loopback(host: str, loopback: bool) -> None:
    # Anything not surely loopback gets the warning: a false alarm is harmless,
    # a missing one exposes an unauthenticated @connections API to the network.
    assert _is_loopback(host) is loopback


# Subprocess: the command as users run it


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _serve(args: list[str], *, cwd: Path, log: Path) -> AbstractAsyncContextManager[Server]:
    """``python -m emulator serve ARGS`` until it prints its URL (the cli_app's stage)."""
    return serving(args, cwd=cwd, log=log, url_line=URL_LINE)


async def _connect(url: str) -> ClientConnection:
    return await asyncio.wait_for(connect(url, open_timeout=None), TIMEOUT)


async def _routed(client: ClientConnection) -> None:
    """The custom route and $default both answer."""
    await client.send(json.dumps({"action": "ping"}))
    assert await asyncio.wait_for(client.recv(), TIMEOUT) == "pong"
    await client.send("not json")
    assert await asyncio.wait_for(client.recv(), TIMEOUT) == "not json"


async def _routed_then_stopped(server: Server) -> None:
    """A client's routes answer, it closes, and then serve stops cleanly on SIGTERM."""
    client = await _connect(server.url)
    try:
        await _routed(client)
    finally:
        await client.close()
    server.process.send_signal(signal.SIGTERM)
    await server.finish()
    assert server.process.returncode == 0, server.errors()


def _disconnects(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_serve_of_websocket_clients_alone_imports_only_what_they_need(
    tmp_path: Path,
) -> None:
    # Start-up time. h11 is for other HTTP requests, anyio for awatch (which the
    # reload watch does not use), the authorizer and SigV4 for APIs with them:
    # none is imported, from launch to exit, for this API of Lambda routes.
    log = tmp_path / "stderr.log"
    environment = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    args = ["--config", str(FIXTURE / "routes.yaml"), "--port", "0"]
    async with serving(args, cwd=tmp_path, log=log, env=environment) as server:
        await _routed_then_stopped(server)
    imported = re.findall(r"^import time:.*\| +(\S+)$", _read(log), re.MULTILINE)
    assert "emulator.tools.reload" in imported  # live reload was on
    unneeded = (
        "h11",
        "anyio._backends",
        "emulator.gateway.access.authorizer",
        "emulator.gateway.access.sigv4",
    )
    assert [name for name in imported if name.startswith(unneeded)] == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_prints_its_url_routes_and_stops_cleanly_on_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with _serve(
        ["--config", str(FIXTURE / "routes.yaml"), "--port", "0"],
        cwd=tmp_path,
        log=tmp_path / "stderr.log",
    ) as server:
        assert server.port != 0
        client = await _connect(server.url)
        try:
            await _routed(client)
            server.process.send_signal(signum)
            rest = await server.finish()
            await asyncio.wait_for(client.wait_closed(), TIMEOUT)
        finally:
            await client.close()
        assert server.process.returncode == 0, server.errors()
        assert rest == b"", "stdout must hold exactly one line: the URL"
        assert client.close_code == 1001
        # $disconnect ran once, for the server's own close (spec §3.3: it reports the code).
        assert _disconnects(tmp_path / "disconnects.jsonl") == [
            {"statusCode": 1001, "reason": client.close_reason}
        ]


async def test_serve_stops_cleanly_on_a_signal_as_soon_as_it_listens(tmp_path: Path) -> None:
    # Live reload on, in a folder with a tree beside the API (as a .venv is).
    app = tmp_path / "app"
    shutil.copytree(FIXTURE, app, ignore=shutil.ignore_patterns("__pycache__"))
    for n in range(50):
        (app / ".venv" / "lib" / f"package{n}" / "sub").mkdir(parents=True)
    async with _serve(["--port", "0"], cwd=app, log=tmp_path / "stderr.log") as server:
        server.process.send_signal(signal.SIGTERM)
        rest = await server.finish()
        assert server.process.returncode == 0, server.errors()
        assert rest == b""
        assert "Traceback" not in server.errors()


async def test_serve_without_config_uses_routes_yaml_in_the_working_directory(
    tmp_path: Path,
) -> None:
    app = tmp_path / "app"
    shutil.copytree(FIXTURE, app, ignore=shutil.ignore_patterns("__pycache__"))
    async with _serve(["--port", "0"], cwd=app, log=tmp_path / "stderr.log") as server:
        await _routed_then_stopped(server)
    # The client closed with 1000 before the server stopped.
    assert _disconnects(app / "disconnects.jsonl") == [{"statusCode": 1000, "reason": ""}]


async def test_serve_on_a_port_in_use_fails_clearly(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # the server binds with SO_REUSEADDR: only a listener blocks it
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            *serve_command("--config", str(FIXTURE / "routes.yaml"), "--port", str(port)),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        finally:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode != 0
    assert out == b""
    message = err.decode()
    assert f"apigw-ws: error: cannot listen on 127.0.0.1:{port}" in message
    assert "Traceback" not in message


def test_console_script_serve_help() -> None:
    script = Path(sysconfig.get_path("scripts")) / "apigw-ws"
    assert script.is_file(), f"{script} is not installed"
    done = subprocess.run(
        [str(script), "serve", "--help"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: apigw-ws serve")


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_with_an_out_of_range_port_fails_clearly(tmp_path: Path, port: str) -> None:
    done = subprocess.run(
        serve_command("--config", str(FIXTURE / "routes.yaml"), "--port", port),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert port in done.stderr


@pytest.mark.parametrize(
    ("flags", "status"),
    [([], 200), (["--no-inspector"], 426)],
    ids=["inspector-by-default", "no-inspector"],
)
async def test_serve_has_the_inspector_unless_told_not_to(
    tmp_path: Path, flags: list[str], status: int
) -> None:
    args = ["--config", str(FIXTURE / "routes.yaml"), "--port", "0", *flags]
    async with _serve(args, cwd=tmp_path, log=tmp_path / "stderr.log") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /_inspector HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
        server.process.send_signal(signal.SIGTERM)
        await server.finish()
        assert server.process.returncode == 0, server.errors()
    assert ("inspector http://" in _read(tmp_path / "stderr.log")) is (status == 200)


_LOOP_PROBE = """
import asyncio


async def loop_kind(event, context):
    return {"statusCode": 200, "body": type(asyncio.get_running_loop()).__module__}
"""


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, "uvloop"),
        ("uvloop", "uvloop"),
        ("asyncio", "asyncio.unix_events"),
        ("auto-without-uvloop", "asyncio.unix_events"),
    ],
    ids=["default", "uvloop", "asyncio", "auto-without-uvloop"],
)
async def test_serve_runs_on_the_event_loop_asked_for(
    tmp_path: Path, choice: str | None, expected: str
) -> None:
    """uvloop by default (it is a dependency off Windows), asyncio's own on
    request, and by default where uvloop cannot be imported (Windows, PyPy)."""
    if choice == "auto-without-uvloop":
        # An uvloop that cannot be imported, first on the path (the working directory).
        (tmp_path / "uvloop.py").write_text("raise ImportError('not here')\n", encoding="utf-8")
        choice = "auto"
    (tmp_path / "loop_probe.py").write_text(_LOOP_PROBE, encoding="utf-8")
    (tmp_path / "routes.yaml").write_text(
        "stage: clitest\nroutes:\n  $default:\n    handler: loop_probe.loop_kind\n"
        "    routeResponse: true\n",
        encoding="utf-8",
    )
    args = ["--port", "0", "--no-reload"] + ([] if choice is None else ["--loop", choice])
    async with _serve(args, cwd=tmp_path, log=tmp_path / "stderr.log") as server:
        client = await _connect(server.url)
        try:
            await client.send("which loop?")
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == expected
        finally:
            await client.close()
        server.process.send_signal(signal.SIGTERM)
        await server.finish()
        assert server.process.returncode == 0, server.errors()


async def test_serve_says_when_the_loop_asked_for_is_missing(tmp_path: Path) -> None:
    # An uvloop that cannot be imported, first on the path (the working directory).
    (tmp_path / "uvloop.py").write_text("raise ImportError('not here')\n", encoding="utf-8")
    (tmp_path / "routes.yaml").write_text("routes: {}\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        *serve_command("--port", "0", "--loop", "uvloop"),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert out == b""
    assert "--loop uvloop: uvloop is not installed" in err.decode()
