"""The ``apigw-ws`` command."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Sequence

from emulator.app import Emulator
from emulator.config import load_config
from emulator.errors import ConfigError

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apigw-ws",
        description="A local emulator of Amazon API Gateway WebSocket APIs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the API described by a routes.yaml")
    serve.add_argument(
        "--config", default="routes.yaml", help="the API to serve (default: ./routes.yaml)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=3001, help="port to listen on; 0 picks a free one"
    )
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _serve(emulator: Emulator) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    print(emulator.url, flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``apigw-ws``; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
        emulator = Emulator(config, host=args.host, port=args.port)
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(
            f"apigw-ws: warning: listening on {args.host}: the API and its @connections "
            "management endpoint are reachable from the network, without authentication",
            file=sys.stderr,
        )
    try:
        asyncio.run(_serve(emulator))
    except OSError as exc:
        print(f"apigw-ws: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
