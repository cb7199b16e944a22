"""How long ``apigw-ws serve`` takes to exit after SIGTERM or Ctrl-C.

    python -m bench.exit [--rounds 10] [--signal TERM|INT] [--connections N] [--chat]
                         [-- serve options]

Starts ``apigw-ws serve`` as users run it (the default API of the repository's
root, the chat application, with live reload and the pages on), waits until it
listens, optionally opens N WebSocket connections (``--chat``: each sends a
message and gets its answer first), so that they are open and idle when the
signal comes: nothing in flight. The clients keep reading, as a browser or a
``websockets`` client does, so they answer the server's close. Then it sends
the signal and times until the process has exited. Prints each round, then
the median and the worst. The target: under 0.2 s with nothing in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.server import start_serve

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.2


async def _open(url: str, count: int, chat: bool) -> list[Any]:
    from websockets.asyncio.client import connect

    clients = [await connect(f"{url}?name=user{n}") for n in range(count)]
    for sender in clients if chat else []:
        await sender.send('{"action": "sendmessage", "data": "hi"}')
        # Everyone gets every message: read them all, so that none is in flight.
        for client in clients:
            await client.recv()
    return clients


async def _read_until_closed(client: Any) -> None:
    async for _ in client:
        pass


def one_round(
    sig: signal.Signals, connections: int, chat: bool, settle_s: float, extra: list[str]
) -> float:
    process, url = start_serve(["--port", "0", *extra], ROOT)
    try:
        # The clients' loop runs in its own thread, so that they read (and answer
        # the server's close frame) while this thread waits for the exit.
        loop = asyncio.new_event_loop()
        clients = loop.run_until_complete(_open(url, connections, chat))
        readers = [loop.create_task(_read_until_closed(client)) for client in clients]
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        # Let start-up finish (the reload watcher, the first idle poll), as it
        # has by the time a user presses Ctrl-C.
        time.sleep(settle_s)
        # wait() without a timeout blocks in waitpid; with one, it polls every
        # 50 ms, which would round every figure up. A timer kills a hung server.
        watchdog = threading.Timer(30, process.kill)
        watchdog.start()
        start = time.perf_counter()
        process.send_signal(sig)
        status = process.wait()
        elapsed = time.perf_counter() - start
        watchdog.cancel()
        if status != 0:
            raise SystemExit(f"apigw-ws serve exited with status {status}")
        for reader in readers:
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(reader, 5), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        return elapsed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--signal", choices=("TERM", "INT"), default="TERM")
    parser.add_argument("--connections", type=int, default=0, metavar="N")
    parser.add_argument(
        "--chat", action="store_true", help="each connection sends a message before the signal"
    )
    parser.add_argument("--settle", type=float, default=0.5, metavar="S")
    parser.add_argument("serve_options", nargs="*", help="more options for apigw-ws serve")
    args = parser.parse_args(argv)
    sig = signal.Signals[f"SIG{args.signal}"]
    print(
        f"apigw-ws serve --port 0 {' '.join(args.serve_options)}".rstrip()
        + f": SIG{args.signal}, {args.connections} open connections"
        + (" (each sent a message)" if args.chat else "")
        + f", {args.rounds} rounds"
        f" (load average {os.getloadavg()[0]:.2f})"
    )
    times = []
    for number in range(1, args.rounds + 1):
        elapsed = one_round(sig, args.connections, args.chat, args.settle, args.serve_options)
        times.append(elapsed)
        print(f"  round {number:2}: {elapsed * 1000:7.1f} ms")
    median, worst = statistics.median(times), max(times)
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    print(
        f"median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms "
        f"(target < {TARGET_S * 1000:.0f} ms): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
