"""Injected faults: broken handlers, vanishing clients, shutdown under load.

Whatever a handler does (raise, return garbage, hang, block its thread, call
``sys.exit``, leak an exception from a thread it started), its client gets
AWS's frame, the log says which handler and why, and every other connection
is served as if nothing happened. A shutdown by signal closes every
connection with 1001, runs each ``$disconnect`` once and lets handlers in
flight finish, then the process exits 0.

The signal and start-up tests run the real ``python -m emulator serve`` in a
subprocess on the API of tests/fixtures/reliability_serve/.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from websockets.asyncio.client import ClientConnection, connect

from emulator.gateway.connections import CLIENT_BUFFER_BYTES
from emulator.tools.testing import Client
from tests.conftest import HANDLERS, StartApi
from tests.serving import Server, serving

FIXTURE = Path(__file__).parent / "fixtures" / "reliability_serve"
ECHO = {"handler": "probe.echo", "routeResponse": True}
TIMEOUT = 10.0


def _handler_module(name: str) -> ModuleType:
    """A handler module as the emulator imports it: by its bare name, like Lambda."""
    folder = str(HANDLERS.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


fault_probe = _handler_module("fault_probe")


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """AWS's error frame, byte for byte (spec §3.2.5)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


async def round_trip(client: Client, text: str = "still served") -> None:
    await client.send_text(text)
    assert await client.receive_text() == text


def emulator_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "emulator" and r.levelno >= logging.ERROR]


# -- a handler fails: AWS's frame, a log line naming it, nobody else affected --------------


@dataclass(frozen=True)
class Fault:
    handler: str
    frame: str  # the error frame's message
    log: str  # the emulator's log line
    runtime: str | None = None  # what Lambda's runtime writes to the function's log
    timeout: float = 29.0


FAULTS = [
    pytest.param(
        Fault(
            "probe.boom",
            "Internal server error",
            "probe.boom (fail) raised RuntimeError: boom",
            "[ERROR] RuntimeError: boom\nTraceback (most recent call last):\n",
        ),
        id="raises",
    ),
    pytest.param(
        Fault(
            "probe.async_boom",
            "Internal server error",
            "probe.async_boom (fail) raised RuntimeError: async boom",
            "[ERROR] RuntimeError: async boom\nTraceback (most recent call last):\n",
        ),
        id="async-raises",
    ),
    pytest.param(
        Fault(
            "probe.exits",
            "Internal server error",
            "probe.exits (fail) raised sys.exit(3): Runtime.ExitError",
            "Error: Runtime exited with error: exit status 3\nRuntime.ExitError",
        ),
        id="sys-exit",
    ),
    pytest.param(
        Fault(
            "probe.async_exits",
            "Internal server error",
            "probe.async_exits (fail) raised KeyboardInterrupt",
            "[ERROR] KeyboardInterrupt\nTraceback (most recent call last):\n",
        ),
        id="async-KeyboardInterrupt",
    ),
    pytest.param(
        Fault(
            "probe.malformed",
            "Internal server error",
            "probe.malformed returned a malformed result: "
            "unknown keys in the proxy result: ConnectionId, Data",
        ),
        id="garbage-keys",
    ),
    pytest.param(
        Fault(
            "probe.not_a_dict",
            "Internal server error",
            "probe.not_a_dict returned a malformed result: "
            "a proxy result must be a dict or None, got str",
        ),
        id="garbage-str",
    ),
    pytest.param(
        Fault(
            "fault_probe.bytes_body",
            "Internal server error",
            "fault_probe.bytes_body returned a malformed result: body must be a string, got bytes",
        ),
        id="garbage-bytes-body",
    ),
    pytest.param(
        Fault(
            "fault_probe.hangs",
            "Endpoint request timed out",
            "fault_probe.hangs (fail) timed out after 0.200 s",
            timeout=0.2,
        ),
        id="hangs-past-its-timeout",
    ),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failing_handler_gets_aws_frame_and_a_log_line_naming_it(
    start_api: StartApi, fault_gate: None, caplog: pytest.LogCaptureFixture, fault: Fault
) -> None:
    api = await start_api(
        {
            "fail": {"handler": fault.handler, "routeResponse": True, "timeout": fault.timeout},
            "$default": ECHO,
        }
    )
    bystander = await api.connect()
    client = await api.connect()
    await client.send_json({"action": "fail"})
    frame = await client.receive_text()
    [failed] = api.record.invocations
    request_id = failed.event["requestContext"]["requestId"]
    # AWS: the same frame for any integration failure; the connection stays open (spec §3.2.5).
    assert frame == error_frame(fault.frame, client.connection_id, request_id)
    [logged] = emulator_errors(caplog)
    assert logged.getMessage() == fault.log
    assert logged.exc_info is None  # the traceback is the function's, in its own log
    written = [r.getMessage() for r in caplog.records if r.name == "emulator.handler"]
    if fault.runtime is None:
        assert written == []
    else:
        [record] = written
        assert fault.runtime in record
        if "Traceback" in fault.runtime:
            # The stack as the runtime writes it: the handler's frame, no-break spaces.
            handler_file = fault.handler.split(".")[0] + ".py"
            assert f'\u00a0\u00a0File "{HANDLERS.resolve() / handler_file}"' in record
    await round_trip(client)
    await round_trip(bystander)


async def test_an_unencodable_body_still_gets_the_client_a_frame(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = await start_api(
        {
            "fail": {"handler": "fault_probe.unencodable_body", "routeResponse": True},
            "$default": ECHO,
        }
    )
    bystander = await api.connect()
    client = await api.connect()
    await client.send_json({"action": "fail"})
    [invocation] = await api.record.wait_for_invocations("fail")
    request_id = invocation.event["requestContext"]["requestId"]
    # UNKNOWN on AWS: the Lambda runtime escapes the surrogate in its JSON. Either
    # the body with it replaced or AWS's failure frame; never silence.
    frame = await client.receive_text(timeout=1)
    assert frame in (
        "\ufffd lone surrogate",
        "? lone surrogate",
        error_frame("Internal server error", client.connection_id, request_id),
    )
    assert not [r for r in caplog.records if r.name == "asyncio"]
    await round_trip(client)
    await round_trip(bystander)


async def test_twenty_blocked_handlers_starve_no_one(start_api: StartApi, fault_gate: None) -> None:
    # AWS: each message is its own invocation (spec §3.2.6): handlers blocking
    # their threads must not slow the others down.
    api = await start_api(
        {
            "block": {"handler": "fault_probe.blocks", "routeResponse": True, "timeout": 10},
            "$default": ECHO,
        }
    )
    blockers = [await api.connect() for _ in range(4)]
    for blocker in blockers:
        for _ in range(5):
            await blocker.send_json({"action": "block"})
    for blocker in blockers:
        assert [await blocker.receive_text() for _ in range(5)] == ["blocked"] * 5
    # Twenty threads held. Now 200 messages on ten other connections.
    others = [await api.connect() for _ in range(10)]
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def chat(client: Client, n: int) -> list[str]:
        for m in range(20):
            await client.send_text(f"{n}/{m}")
        return sorted([await client.receive_text() for _ in range(20)])

    replies = await asyncio.gather(*(chat(client, n) for n, client in enumerate(others)))
    elapsed = loop.time() - started
    assert replies == [sorted(f"{n}/{m}" for m in range(20)) for n in range(10)]
    # Well under the blocked handlers' 10 s timeout (a few ms each on a quiet machine).
    assert elapsed < 2.0, f"200 messages took {elapsed:.2f} s beside 20 blocked handlers"
    assert [i.route_key for i in api.record.invocations].count("$default") == 200
    # The twenty were blocked all along, and finish once released.
    fault_probe.gate.set()
    for blocker in blockers:
        assert [await blocker.receive_text() for _ in range(5)] == ["released"] * 5


# -- clients that vanish or stop reading -----------------------------------------------------

RESPONSE_BYTES = 120_000


async def test_route_responses_to_a_client_that_stops_reading_are_dropped_not_buffered(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = await start_api(
        {
            "big": {"handler": "fault_probe.sized", "routeResponse": True},
            "$default": ECHO,
            "$disconnect": "probe.ok",
        }
    )
    bystander = await api.connect()
    client = await api.connect()
    client.connection.transport.pause_reading()
    # 36 MB of route responses: far more than kernel buffers and our cap hold.
    count = 300
    for _ in range(count):
        await client.send_json({"action": "big", "size": RESPONSE_BYTES})
    await api.record.wait_for_invocations("big", count, timeout=TIMEOUT)
    [record] = [
        r for r in api.emulator._gateway.registry if r.connection_id == client.connection_id
    ]
    assert record.peer.buffered_bytes <= CLIENT_BUFFER_BYTES + RESPONSE_BYTES + 16
    sent = len(api.record.sent_to(client.connection_id, "route-response"))
    dropped = [
        r
        for r in caplog.records
        if r.getMessage()
        == f"dropped a route-response for {client.connection_id}: the client is not reading"
    ]
    assert dropped, "some responses had to be dropped"
    assert sent + len(dropped) == count
    await round_trip(bystander)
    # The client never reads again and vanishes: one $disconnect, 1006.
    client.connection.transport.abort()
    [gone] = await api.record.wait_for_invocations("$disconnect")
    context = gone.event["requestContext"]
    assert (context["connectionId"], context["disconnectStatusCode"]) == (
        client.connection_id,
        1006,
    )
    await round_trip(bystander)
    await api.stop()
    assert [e["requestContext"]["connectionId"] for e in api.record.events("$disconnect")].count(
        client.connection_id
    ) == 1


@pytest.mark.parametrize(
    "handler", ["fault_probe.connect_holds", "fault_probe.async_connect_holds"]
)
async def test_a_client_gone_during_connect_leaves_no_error_behind(
    start_api: StartApi, fault_gate: None, caplog: pytest.LogCaptureFixture, handler: str
) -> None:
    api = await start_api({"$connect": handler, "$default": ECHO})
    bystander = await api.connect()
    _, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    writer.write(
        b"GET /local?hold=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert await asyncio.to_thread(fault_probe.entered.wait, TIMEOUT)
    writer.transport.abort()  # gone while $connect runs
    await round_trip(bystander)  # the server has seen it go by now
    fault_probe.gate.set()
    # stop() waits for the held handler to return, and its result to be handled.
    await api.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]


# -- the real command: signals, shutdown under load, start-up failures -----------------------


def serve(tmp_path: Path) -> AbstractAsyncContextManager[Server]:
    """``python -m emulator serve`` on the reliability fixture; killed if still running."""
    env = {
        **os.environ,
        "RELIABILITY_DISCONNECT_LOG": str(tmp_path / "disconnects.log"),
        "RELIABILITY_SLOW_LOG": str(tmp_path / "slow.log"),
    }
    return serving(
        ["--config", str(FIXTURE / "routes.yaml"), "--port", "0"],
        cwd=tmp_path,
        log=tmp_path / "stderr.log",
        env=env,
        url_line=re.compile(r"ws://127\.0\.0\.1:\d+/reliability\n"),
    )


async def exited(process: asyncio.subprocess.Process) -> float:
    """Wait for the process to exit; how long it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(process.communicate(), TIMEOUT)
    return loop.time() - started


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


async def ask(client: ClientConnection, action: str) -> str:
    await client.send(json.dumps({"action": action}))
    reply = await asyncio.wait_for(client.recv(), TIMEOUT)
    assert isinstance(reply, str)
    return reply


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_closes_200_connections_once_each_and_lets_handlers_finish(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with serve(tmp_path) as served:
        gate = asyncio.Semaphore(50)

        async def opened() -> tuple[ClientConnection, str]:
            async with gate:
                client = await asyncio.wait_for(
                    connect(served.url, open_timeout=None, compression=None), TIMEOUT
                )
                return client, await ask(client, "whoami")

        clients = await asyncio.gather(*(opened() for _ in range(200)))
        ids = [connection_id for _, connection_id in clients]
        assert len(set(ids)) == 200
        # Twenty handlers of half a second each are running when the signal comes.
        busy = clients[:20]
        for client, _ in busy:
            await client.send(json.dumps({"action": "slow"}))
        for client, _ in busy:
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == "started"
        served.process.send_signal(signum)
        took = await exited(served.process)
        assert served.process.returncode == 0, served.errors()
        assert took < 5.0, f"the server took {took:.1f} s to stop"
        for client, _ in clients:
            await asyncio.wait_for(client.wait_closed(), TIMEOUT)
            assert (client.close_code, client.close_reason) == (1001, "Going away")
    # Exactly one $disconnect per connection, reporting the server's close (spec §3.3).
    disconnects = lines(tmp_path / "disconnects.log")
    assert sorted(disconnects) == sorted(f"{i} 1001 Going away" for i in ids)
    # The work of the handlers in flight completed within the grace time.
    assert sorted(lines(tmp_path / "slow.log")) == sorted(i for _, i in busy)
    assert "Traceback" not in served.errors()


async def leak_from_a_thread(tmp_path: Path) -> str:
    """Serve, have a handler's thread die of an exception, keep serving; the log."""
    async with serve(tmp_path) as served:
        client = await asyncio.wait_for(connect(served.url, open_timeout=None), TIMEOUT)
        # The handler joined its thread: threading.excepthook has run by the reply.
        assert await ask(client, "leak") == "joined"
        assert await ask(client, "whoami")
        newcomer = await asyncio.wait_for(connect(served.url, open_timeout=None), TIMEOUT)
        assert await ask(newcomer, "whoami")
        served.process.send_signal(signal.SIGTERM)
        await exited(served.process)
        assert served.process.returncode == 0, served.errors()
    return served.errors()


def thread_report(log: str) -> list[str]:
    """The lines threading.excepthook wrote for the handler's thread."""
    return [line for line in log.splitlines() if "Exception in thread fault-leaker" in line]


async def test_an_exception_in_a_handlers_thread_is_logged_and_the_server_serves_on(
    tmp_path: Path,
) -> None:
    log = await leak_from_a_thread(tmp_path)
    # The log names the thread, the exception, and the handler's code in the traceback.
    assert len(thread_report(log)) == 1, log
    assert "RuntimeError: leaked from a handler's thread" in log
    assert "reliability_serve_handlers.py" in log


async def test_an_exception_in_a_handlers_thread_is_logged_under_its_invocation(
    tmp_path: Path,
) -> None:
    # README: a handler's output, threads it starts included, is logged under its
    # invocation (function name and request id), as CloudWatch groups it.
    [report] = thread_report(await leak_from_a_thread(tmp_path))
    assert "reliability_serve_handlers-leak" in report


@pytest.mark.parametrize(
    ("config", "key"),
    [
        pytest.param(
            "routes:\n  $connect: {broken}.on_connect\n  $default: {fine}.handler\n",
            "routes.$connect.handler: function '{broken}-on_connect'",
            id="connect-route",
        ),
        pytest.param(
            "authorizer:\n  handler: {broken}.authorize\nroutes:\n  $default: {fine}.handler\n",
            "authorizer.handler: function '{broken}-authorize'",
            id="authorizer",
        ),
    ],
)
async def test_a_handler_module_that_fails_to_import_stops_serve_naming_it(
    tmp_path: Path, config: str, key: str
) -> None:
    broken, fine = f"fault_broken_{tmp_path.name}", f"fault_fine_{tmp_path.name}"
    (tmp_path / f"{broken}.py").write_text("raise RuntimeError('broken at import')\n")
    (tmp_path / f"{fine}.py").write_text("def handler(event, context):\n    return None\n")
    routes = tmp_path / "routes.yaml"
    routes.write_text(config.format(broken=broken, fine=fine))
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--config",
        str(routes),
        "--port",
        "0",
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(done.communicate(), TIMEOUT)
    assert done.returncode == 2
    assert out == b"", "nothing listened"
    assert err.decode() == (
        f"apigw-ws: error: {routes}: {key.format(broken=broken)}: "
        f"RuntimeError: broken at import ({tmp_path / broken}.py, line 1)\n"
    )
