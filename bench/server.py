"""One benchmark server, in its own process.

    python -m bench.server --kind baseline --app echo [--uvloop] [--core N]
    python -m bench.server --kind emulator --app echo_sync [--uvloop] [--core N]

:func:`write_serve_folder` lays an app out as a user's project (routes.yaml
beside its handler module), for ``apigw-ws serve`` to serve as users run it
(the suite's ``serve`` mode).

Prints its port on one line once it listens (after pinning all its threads to
``--core``), and stops on SIGTERM or SIGINT. The baseline is a bare
``websockets.asyncio.server.serve`` of a few lines, without compression or
keep-alive pings (the emulator sends neither); ``echo_thread`` and
``echo_boto3`` are the same echo doing one more thing that bounds the
emulator's rows (a thread hand-off, botocore's call). The emulator serves bench
handlers from ``bench/handlers/`` through :class:`emulator.app.Emulator`.
Imports are lazy so that a baseline process never imports the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import pin_all_threads, raise_nofile

HANDLERS = Path(__file__).resolve().parent / "handlers"
HOST = "127.0.0.1"

_ECHO = {"handler": "bench_handlers.echo", "routeResponse": True}
_CONNECT = {"handler": "bench_handlers.on_connect"}
_DISCONNECT = {"handler": "bench_handlers.on_disconnect"}

# Routes per emulator app. Every message scenario goes through route selection
# ($request.body.action, the default) to $default.
EMULATOR_APPS: dict[str, dict[str, Any]] = {
    "echo_sync": {"$default": _ECHO},
    "echo_async": {"$default": {"handler": "bench_handlers.echo_async", "routeResponse": True}},
    "post_callback": {"$default": {"handler": "bench_handlers.post_callback"}},
    "post_boto3": {"$default": {"handler": "bench_handlers.post_boto3"}},
    "connect": {"$connect": _CONNECT, "$disconnect": _DISCONNECT, "$default": _ECHO},
    "broadcast": {
        "$connect": _CONNECT,
        "$disconnect": _DISCONNECT,
        "$default": {"handler": "bench_handlers.broadcast"},
    },
    "broadcast_async": {
        "$connect": _CONNECT,
        "$disconnect": _DISCONNECT,
        "$default": {"handler": "bench_handlers.broadcast_async"},
    },
    "idle": {"$default": _ECHO},
}
BASELINE_APPS = ("echo", "connect", "broadcast", "idle", "echo_thread", "echo_boto3")
SERVE_LOG = "serve.log"


def start_serve(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``apigw-ws serve ARGS`` in ``cwd`` (the console script of this Python's
    environment, else ``python -m emulator``); returns it and the URL it printed."""
    script = Path(sys.executable).with_name("apigw-ws")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "emulator"]
    process = subprocess.Popen(
        [*command, "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith(("ws://", "wss://")):
        process.kill()
        process.wait()
        raise SystemExit(f"apigw-ws serve did not start: {url!r}")
    return process, url


def write_serve_folder(app: str, folder: Path) -> Path:
    """Lay ``app`` out as a user's project: ``routes.yaml`` beside its handler
    module; returns the config's path. ``apigw-ws serve`` run there (its log
    going to ``serve.log`` in the same folder) is what the serve mode measures."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(HANDLERS / "bench_handlers.py", folder / "bench_handlers.py")
    config = folder / "routes.yaml"
    # JSON is YAML: the same routes the embedded emulator serves.
    config.write_text(json.dumps({"routes": EMULATOR_APPS[app]}, indent=2) + "\n")
    return config


async def _serve_baseline(app: str, port: int, ready: Callable[[int], None]) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    server: Any = None

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def hold(ws: ServerConnection) -> None:
        await ws.wait_closed()  # the client closes; websockets answers the close

    async def fan_out(ws: ServerConnection) -> None:
        async for message in ws:
            broadcast(server.connections, message)

    handlers: dict[str, Callable[[ServerConnection], Awaitable[None]]] = {
        "echo": echo,
        "idle": echo,
        "connect": hold,
        "broadcast": fan_out,
    }
    if app == "echo_thread":
        handlers[app] = _echo_through_a_thread()
    elif app == "echo_boto3":
        handlers[app] = _echo_beside_botocore()
    server = await serve(
        handlers[app],
        HOST,
        port,
        compression=None,
        ping_interval=None,
        backlog=4096,  # as the emulator's listener
    )
    ready(server.sockets[0].getsockname()[1])
    try:
        await _stopped()
    finally:
        server.close()
        await server.wait_closed()


def _echo_through_a_thread() -> Callable[[Any], Awaitable[None]]:
    """A bound, not a server users run: the bare echo with each reply made on a
    worker thread, by about the least a hand-off can do (a queue to one thread,
    ``call_soon_threadsafe`` back). A sync handler's message takes the same two
    wake-ups; at one client each message waits for both."""
    import queue
    import threading

    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[tuple[asyncio.Future[Any], Any]] = queue.SimpleQueue()

    def work() -> None:
        while True:
            future, message = jobs.get()
            loop.call_soon_threadsafe(future.set_result, message)

    threading.Thread(target=work, daemon=True).start()

    async def echo(ws: Any) -> None:
        async for message in ws:
            future = loop.create_future()
            jobs.put((future, message))
            await ws.send(await future)

    return echo


def _echo_beside_botocore() -> Callable[[Any], Awaitable[None]]:
    """A bound, not a server users run: the bare echo that also makes, per
    message, the boto3 ``post_to_connection`` call the post_boto3 handler
    makes, answered at botocore's ``before-call`` as the emulator answers it,
    on the loop (no hand-off): what botocore alone costs per call, which an
    emulator that runs that handler unchanged pays too."""
    import boto3
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://bench.execute-api.us-east-1.amazonaws.com/local",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )

    class _Empty:
        def stream(self, **_: Any) -> Any:
            return iter(())

    def answer(params: dict[str, Any], **_: Any) -> Any:
        metadata = {"RequestId": "", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
        response = AWSResponse(params["url"], 200, HTTPHeaders(), _Empty())
        return response, {"ResponseMetadata": metadata}

    client.meta.events.register("before-call.apigatewaymanagementapi.PostToConnection", answer)

    async def echo(ws: Any) -> None:
        async for message in ws:
            data = message.encode("utf-8") if isinstance(message, str) else message
            client.post_to_connection(ConnectionId="bench=", Data=data)
            await ws.send(message)

    return echo


async def _serve_emulator(app: str, port: int, ready: Callable[[int], None]) -> None:
    from emulator.app import Emulator
    from emulator.model.config import parse_config

    config = parse_config({"routes": EMULATOR_APPS[app]}, base_dir=HANDLERS, source="bench")
    emulator = Emulator(config, host=HOST, port=port)
    await emulator.start()
    ready(emulator.port)
    try:
        await _stopped()
    finally:
        await emulator.stop()


async def _stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--kind", choices=("baseline", "emulator"), required=True)
    parser.add_argument("--app", required=True, help="which routes/handler to serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--core", type=int, default=None, help="pin every thread to this core")
    args = parser.parse_args(argv)
    apps = BASELINE_APPS if args.kind == "baseline" else tuple(EMULATOR_APPS)
    if args.app not in apps:
        parser.error(f"--app for {args.kind} is one of {', '.join(apps)}")
    raise_nofile()

    def ready(port: int) -> None:
        # Pinned only now, so that several servers can start in parallel; threads
        # made later (the emulator's handler pool) inherit the main thread's core.
        pin_all_threads(args.core)
        print(port, flush=True)

    serve = _serve_baseline if args.kind == "baseline" else _serve_emulator
    coroutine = serve(args.app, args.port, ready)
    if args.uvloop:
        import uvloop

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
