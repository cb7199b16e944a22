"""A bounded soak: N clients, M messages a second each, for minutes; nothing may be lost.

    python -m bench.soak                                  # 50 clients x 10 msg/s for 3 minutes
    python -m bench.soak --clients 20 --rate 10 --seconds 5

The emulator runs in its own process (as ``bench/server.py`` runs it) and
serves one two-way route, ``soak_probe.numbered`` (tests/handlers/soak_probe.py):
for message ``n`` of client ``c`` it posts ``{"k": "post", "c": c, "n": n}`` to
its own connection with ``context.post_to_connection`` and returns
``{"k": "reply", "c": c, "n": n}`` as its route response, counting its
invocations per message.

Each client sends its messages on a fixed schedule, ``--rate`` a second, with
one message in flight at a time, so that everything it receives has exactly
one right order: post ``n``, then reply ``n`` (AWS: posts made during an
invocation arrive before its route response, spec §4.4), then post ``n + 1``.
Afterwards the script checks and prints:

* every message was routed exactly once (the handler's own counts),
* every post and every route response arrived exactly once, in order,
* no error frame, no unexpected frame, no connection lost,
* the server's memory (VmRSS of its process, sampled throughout; every sample
  is printed) is flat: the median of the last minute is within
  ``--max-growth-mib`` of the median of the first (a third of the run each,
  for runs under three minutes),

and exits 1 on any loss or growth, 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import HOST, OP_CLOSE, OP_PING, OP_TEXT, masked_frame, raise_nofile

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "tests" / "handlers"
ROUTES: dict[str, Any] = {
    "$connect": "soak_probe.on_connect",
    "soak": {"handler": "soak_probe.numbered", "routeResponse": True},
    "stats": {"handler": "soak_probe.stats", "routeResponse": True},
}
STAGE = "soak"
# How long one message may take before the soak counts it lost and moves on.
MESSAGE_TIMEOUT = 10.0
OP_PONG = 0xA
CLOSE_1000 = masked_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


# -- the server process ------------------------------------------------------------------


async def _serve(port: int) -> None:
    from emulator.app import Emulator
    from emulator.model.config import parse_config

    config = parse_config(
        {"stage": STAGE, "routes": ROUTES}, base_dir=HANDLERS, source="bench/soak.py"
    )
    emulator = Emulator(config, host=HOST, port=port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    print(emulator.port, flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


# -- what the server's process costs -----------------------------------------------------


def process_status(pid: int) -> tuple[float, int]:
    """VmRSS in MiB and the number of threads of ``pid``, from /proc."""
    rss_kib, threads = 0, 0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss_kib / 1024, threads


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    rss_mib: float
    threads: int


@dataclass(frozen=True)
class MemoryVerdict:
    first_mib: float  # median RSS of the first window
    last_mib: float  # median RSS of the last window
    window_s: float
    max_growth_mib: float

    @property
    def growth_mib(self) -> float:
        return self.last_mib - self.first_mib

    @property
    def flat(self) -> bool:
        return self.growth_mib <= self.max_growth_mib


def memory_verdict(
    samples: Sequence[Sample], seconds: float, max_growth_mib: float
) -> MemoryVerdict:
    """Compare the first minute with the last (a third of the run each when shorter)."""
    if not samples:
        raise ValueError("no memory samples")
    window = min(60.0, seconds / 3)
    end = max(s.at for s in samples)
    first = [s.rss_mib for s in samples if s.at <= window] or [samples[0].rss_mib]
    last = [s.rss_mib for s in samples if s.at >= end - window] or [samples[-1].rss_mib]
    return MemoryVerdict(statistics.median(first), statistics.median(last), window, max_growth_mib)


# -- the clients -------------------------------------------------------------------------


@dataclass
class ClientRecord:
    """What one client sent and received, in arrival order."""

    index: int
    sent: int = 0
    posts: list[int] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    late_posts: int = 0  # messages whose reply arrived before their post
    errors: list[str] = field(default_factory=list)  # AWS error frames
    unexpected: list[str] = field(default_factory=list)
    timeouts: int = 0  # messages not answered within MESSAGE_TIMEOUT
    latencies_ms: list[float] = field(default_factory=list)
    lost_connection: bool = False


class SoakClient(asyncio.Protocol):
    """One WebSocket client: precomputed masked frames out, text frames with payloads in."""

    def __init__(self, loop: asyncio.AbstractEventLoop, record: ClientRecord) -> None:
        self.loop = loop
        self.record = record
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.is_open = False
        self.closing = False
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.stats: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.awaited = -1
        self.awaited_post = self.awaited_reply = False
        self.answered: asyncio.Future[None] | None = None
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.record.lost_connection = True
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.is_open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.is_open = True
            self.handshake.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            size = buffer[1] & 0x7F
            start = 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                return
            opcode, fin = buffer[0] & 0x0F, buffer[0] & 0x80
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            if opcode == OP_TEXT and fin:
                self._text(payload.decode("utf-8"))
            elif opcode == OP_PING:
                self._write(masked_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                if not self.closing:
                    self.record.lost_connection = True
                    self.record.unexpected.append(f"close frame {payload[:2].hex()}")
                    self.closing = True
                    self._write(CLOSE_1000)
            elif opcode != OP_PONG:
                self.record.unexpected.append(f"frame opcode {opcode} fin {bool(fin)}")

    def _text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.record.unexpected.append(text[:200])
            return
        if not isinstance(message, dict):
            self.record.unexpected.append(text[:200])
        elif message.get("k") == "stats":
            if not self.stats.done():
                self.stats.set_result(message)
        elif message.get("k") in ("post", "reply") and message.get("c") == self.record.index:
            self._part(message["k"], int(message["n"]))
        elif "message" in message:
            self.record.errors.append(text[:200])  # AWS's error frame (spec §3.2.5)
        else:
            self.record.unexpected.append(text[:200])

    def _part(self, kind: str, n: int) -> None:
        record = self.record
        if kind == "post":
            record.posts.append(n)
        else:
            record.replies.append(n)
        if n != self.awaited:
            return
        if kind == "post":
            self.awaited_post = True
        else:
            if not self.awaited_post:
                record.late_posts += 1
            self.awaited_reply = True
            record.latencies_ms.append((time.perf_counter() - self.sent_at) * 1000)
        if self.awaited_post and self.awaited_reply and self.answered and not self.answered.done():
            self.answered.set_result(None)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def send_numbered(self, n: int) -> None:
        """Send message ``n`` and wait for its post and its reply (or time out)."""
        self.awaited, self.awaited_post, self.awaited_reply = n, False, False
        self.answered = self.loop.create_future()
        payload = json.dumps({"action": "soak", "c": self.record.index, "n": n}).encode()
        self.sent_at = time.perf_counter()
        self._write(masked_frame(OP_TEXT, payload))
        self.record.sent += 1
        try:
            await asyncio.wait_for(self.answered, MESSAGE_TIMEOUT)
        except TimeoutError:
            self.record.timeouts += 1

    async def ask_stats(self) -> dict[str, Any]:
        self._write(masked_frame(OP_TEXT, b'{"action": "stats"}'))
        return await asyncio.wait_for(self.stats, MESSAGE_TIMEOUT)

    async def close(self) -> None:
        self.closing = True
        self._write(CLOSE_1000)
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), MESSAGE_TIMEOUT)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


def upgrade(port: int) -> bytes:
    key = "c29hay1jbGllbnQta2V5IQ=="  # 16 bytes, base64 (RFC 6455 §4.1)
    return (
        f"GET /{STAGE} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: apigw-ws-soak\r\n\r\n"
    ).encode()


async def open_client(port: int, record: ClientRecord) -> SoakClient:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: SoakClient(loop, record), HOST, port), MESSAGE_TIMEOUT
    )
    assert client.transport is not None
    client.transport.write(upgrade(port))
    await asyncio.wait_for(client.handshake, MESSAGE_TIMEOUT)
    return client


# -- the run -----------------------------------------------------------------------------


@dataclass
class Outcome:
    records: list[ClientRecord]
    server: dict[str, Any]
    samples: list[Sample]
    elapsed_s: float
    connect_failures: list[str]


async def _sample(pid: int, every: float, started: float, samples: list[Sample]) -> None:
    while True:
        rss, threads = process_status(pid)
        samples.append(Sample(time.perf_counter() - started, rss, threads))
        await asyncio.sleep(every)


async def soak(port: int, pid: int, clients: int, rate: float, seconds: float) -> Outcome:
    records = [ClientRecord(index) for index in range(clients)]
    gate = asyncio.Semaphore(50)
    failures: list[str] = []

    async def connected(record: ClientRecord) -> SoakClient | None:
        async with gate:
            try:
                return await open_client(port, record)
            except (OSError, TimeoutError, ConnectionError) as exc:
                failures.append(f"client {record.index}: {type(exc).__name__}: {exc}")
                return None

    opened = await asyncio.gather(*(connected(record) for record in records))
    live = [client for client in opened if client is not None]
    count = max(1, round(rate * seconds))
    samples: list[Sample] = []
    started = time.perf_counter()
    sampler = asyncio.ensure_future(
        _sample(pid, min(5.0, max(0.25, seconds / 60)), started, samples)
    )

    async def drive(client: SoakClient) -> None:
        # Clients start spread over one period, so that the load is even.
        offset = client.record.index / (clients * rate)
        for n in range(count):
            delay = started + offset + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if client.closed.done():
                return
            await client.send_numbered(n)

    try:
        await asyncio.gather(*(drive(client) for client in live))
        elapsed = time.perf_counter() - started
        rss, threads = process_status(pid)
        samples.append(Sample(elapsed, rss, threads))
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    server: dict[str, Any] = {}
    if live:
        server = await live[0].ask_stats()
    await asyncio.gather(*(client.close() for client in live))
    return Outcome(records, server, samples, elapsed, failures)


# -- the verdict -------------------------------------------------------------------------


def _sequence_problems(what: str, received: list[int], count: int) -> list[str]:
    """``received`` must be exactly 0, 1, ..., count - 1."""
    if received == list(range(count)):
        return []
    seen = set(received)
    missing = count - len(seen & set(range(count)))
    duplicates = len(received) - len(seen)
    disorder = sum(1 for a, b in itertools.pairwise(received) if b < a)
    return [
        f"{what}: {len(received)} received of {count}: {missing} missing, "
        f"{duplicates} duplicated, {disorder} out of order"
    ]


def losses(outcome: Outcome) -> list[str]:
    """Everything that went wrong, one line each; empty when nothing was lost."""
    problems = list(outcome.connect_failures)
    clients = outcome.server.get("clients", {})
    for record in outcome.records:
        who = f"client {record.index}"
        problems += [f"{who} {p}" for p in _sequence_problems("posts", record.posts, record.sent)]
        problems += [
            f"{who} {p}" for p in _sequence_problems("route responses", record.replies, record.sent)
        ]
        if record.late_posts:
            problems.append(f"{who}: {record.late_posts} replies arrived before their post")
        if record.timeouts:
            problems.append(
                f"{who}: {record.timeouts} messages unanswered within {MESSAGE_TIMEOUT} s"
            )
        problems += [f"{who}: error frame {text}" for text in record.errors]
        problems += [f"{who}: unexpected {text}" for text in record.unexpected]
        if record.lost_connection:
            problems.append(f"{who}: connection lost during the soak")
        routed = clients.get(str(record.index), {"invocations": 0, "once": 0, "more": 0})
        expected = {"invocations": record.sent, "once": record.sent, "more": 0}
        if record.sent and {k: routed.get(k) for k in expected} != expected:
            problems.append(f"{who}: routed {routed}, expected each of {record.sent} once")
    if not outcome.server:
        problems.append("the server's invocation counts could not be read")
    return problems


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    outcome: Outcome, clients: int, rate: float, seconds: float, max_growth_mib: float
) -> tuple[list[str], bool]:
    """The printed summary, and whether the soak passed."""
    records = outcome.records
    sent = sum(r.sent for r in records)
    routed = sum(c.get("invocations", 0) for c in outcome.server.get("clients", {}).values())
    once = sum(c.get("once", 0) for c in outcome.server.get("clients", {}).values())
    posts = sum(len(r.posts) for r in records)
    replies = sum(len(r.replies) for r in records)
    latencies = [ms for r in records for ms in r.latencies_ms]
    problems = losses(outcome)
    verdict = memory_verdict(outcome.samples, seconds, max_growth_mib)
    lines = [
        f"soak: {clients} clients x {rate:g} msg/s for {seconds:g} s "
        f"(target {clients * rate:g} msg/s)",
        f"sent: {sent} messages in {outcome.elapsed_s:.1f} s "
        f"({sent / outcome.elapsed_s:.1f} msg/s achieved)",
        f"routed: {routed} invocations, {once} messages routed exactly once (of {sent})",
        f"posts delivered: {posts} (of {sent}); route responses delivered: {replies} (of {sent})",
        f"error frames: {sum(len(r.errors) for r in records)}; "
        f"unexpected frames: {sum(len(r.unexpected) for r in records)}; "
        f"connections lost: {sum(r.lost_connection for r in records)}",
        f"round trip ms: p50 {_percentile(latencies, 0.5):.2f}  "
        f"p99 {_percentile(latencies, 0.99):.2f}  max {max(latencies, default=math.nan):.2f}",
        "server memory samples (s: RSS MiB, threads):",
    ]
    row = [f"{s.at:6.1f}: {s.rss_mib:6.1f} {s.threads:3d}" for s in outcome.samples]
    lines += ["  " + "   ".join(row[i : i + 5]) for i in range(0, len(row), 5)]
    lines.append(
        f"memory: first {verdict.window_s:.3g} s median {verdict.first_mib:.1f} MiB, "
        f"last {verdict.window_s:.3g} s median {verdict.last_mib:.1f} MiB, "
        f"growth {verdict.growth_mib:+.1f} MiB (limit {max_growth_mib:g} MiB): "
        + ("flat" if verdict.flat else "GROWING")
    )
    threads = [s.threads for s in outcome.samples]
    lines.append(
        f"server threads: {threads[0]} at the start, {max(threads)} at most, "
        f"{threads[-1]} at the end (not judged)"
    )
    lines.append(f"losses: {len(problems)}")
    lines += [f"  LOSS {problem}" for problem in problems[:50]]
    if len(problems) > 50:
        lines.append(f"  ... and {len(problems) - 50} more")
    passed = not problems and verdict.flat
    lines.append("result: OK, nothing lost" if passed else "result: FAILED")
    return lines, passed


async def _orchestrate(args: argparse.Namespace) -> int:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.soak",
        "--serve",
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 30)
        if not line.strip().isdigit():
            print(f"soak: the server did not start: {line!r}", file=sys.stderr)
            return 1
        outcome = await soak(int(line), server.pid, args.clients, args.rate, args.seconds)
        lines, passed = report(outcome, args.clients, args.rate, args.seconds, args.max_growth_mib)
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 30)
        lines.insert(-1, f"server exit status: {server.returncode}")
        passed = passed and server.returncode == 0
        if server.returncode != 0:
            lines[-1] = "result: FAILED"
        print("\n".join(lines), flush=True)
        return 0 if passed else 1
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clients", type=int, default=50, help="connections (default: 50)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="messages a second per client (default: 10)"
    )
    parser.add_argument(
        "--seconds", type=float, default=180.0, help="how long to send (default: 180)"
    )
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        default=16.0,
        help="allowed RSS growth from the first minute to the last (default: 16)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raise_nofile()
    if args.serve:
        asyncio.run(_serve(args.port))
        return 0
    if args.clients < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--clients, --rate and --seconds must be positive")
    return asyncio.run(_orchestrate(args))


if __name__ == "__main__":
    raise SystemExit(main())
