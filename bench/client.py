"""The load generator: a lean WebSocket client and the worker processes that run it.

Why not the ``websockets`` client: it would cost about as much CPU per message
as the server under test, so the client core would saturate first and every
ratio would measure the client. This client is an :class:`asyncio.Protocol`
that writes precomputed, already-masked frames and reads the server's unmasked
frames with a few byte operations; it never copies a payload.

Workers are forked processes pinned to the client core. The orchestrator
drives them over a :mod:`multiprocessing` pipe with ``(command, kwargs)``
tuples and gets ``("ok", result)`` or ``("error", text)`` back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

HOST = "127.0.0.1"
PATH = "/local"  # the emulator's stage; the bare server accepts any path
MASK = b"\x5a\x13\xc7\x9e"
OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9
CLK_TCK = os.sysconf("SC_CLK_TCK")
now_ns = time.perf_counter_ns  # CLOCK_MONOTONIC: comparable across processes


def masked_frame(opcode: int, payload: bytes, mask: bytes = MASK) -> bytes:
    """One final client frame, masked once here instead of per send."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


CLOSE_FRAME = masked_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


def upgrade_request(port: int, path: str = PATH) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: apigw-ws-bench\r\n\r\n"
    ).encode()


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def pin_all_threads(core: int | None) -> None:
    """Pin every thread of this process (later threads inherit it) to ``core``."""
    if core is None:
        return
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {core})


def proc_cpu_s(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a whole process (all threads), or of its
    thread ``tid``, from /proc."""
    stat = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(stat, "rb") as f:
            data = f.read()
    except OSError:
        return 0.0
    fields = data[data.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def core_busy_s(core: int) -> float:
    """CPU seconds one core spent in user, nice and system mode, from /proc/stat."""
    prefix = f"cpu{core} "
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(prefix):
                fields = line.split()
                return (int(fields[1]) + int(fields[2]) + int(fields[3])) / CLK_TCK
    return float("nan")


def percentile(sorted_values: list[int] | list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


class HandshakeError(Exception):
    pass


class Lean(asyncio.Protocol):
    """One client connection: HTTP upgrade, then frames; no per-message allocation
    beyond what asyncio hands in. ``on_message(self, opcode, length)`` is called
    for each data frame; fragments are not reassembled (the servers here never
    fragment small messages)."""

    __slots__ = (
        "buf",
        "close_received",
        "close_sent",
        "closed",
        "handshake",
        "is_open",
        "on_message",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf = b""
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.is_open = False
        self.close_received = False
        self.close_sent = False
        self.on_message: Callable[[Lean, int, int], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            data = self.buf + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            self.buf = b""
            if not data.startswith(b"HTTP/1.1 101"):
                status = data[: data.find(b"\r\n")].decode("latin-1")
                if not self.handshake.done():
                    self.handshake.set_exception(HandshakeError(status))
                self.transport.close()
                return
            self.is_open = True
            self.handshake.set_result(None)
            data = data[end + 4 :]
            if not data:
                return
        buf = self.buf + data if self.buf else data
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode <= 2:
                callback = self.on_message
                if callback is not None:
                    callback(self, opcode, length)
            elif opcode == OP_CLOSE:
                self.close_received = True
                if not self.close_sent:
                    self.close_sent = True
                    self.transport.write(CLOSE_FRAME)
            elif opcode == OP_PING:
                payload = bytes(buf[start:end])
                self.transport.write(masked_frame(0xA, payload))
            pos = end
        self.buf = buf[pos:] if pos < n else b""

    def eof_received(self) -> bool | None:
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_open = False
        if not self.handshake.done():
            self.handshake.set_exception(HandshakeError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_close(self) -> None:
        if not self.close_sent and not self.transport.is_closing():
            self.close_sent = True
            self.transport.write(CLOSE_FRAME)


async def open_connection(port: int, request: bytes, timeout: float = 10.0) -> Lean:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, proto = await loop.create_connection(lambda: Lean(loop), HOST, port)
        proto.transport.write(request)
        try:
            await proto.handshake
        except BaseException:
            proto.transport.abort()
            raise
    return proto


async def open_many(
    port: int, count: int, concurrency: int, timeout: float = 10.0
) -> tuple[list[Lean], Counter[str]]:
    """Open ``count`` connections, at most ``concurrency`` handshakes at a time."""
    request = upgrade_request(port)
    gate = asyncio.Semaphore(concurrency)
    failures: Counter[str] = Counter()

    async def one() -> Lean | None:
        async with gate:
            try:
                return await open_connection(port, request, timeout)
            except (OSError, TimeoutError, HandshakeError) as exc:
                failures[f"{type(exc).__name__}: {exc}"[:120]] += 1
                return None

    opened = await asyncio.gather(*(one() for _ in range(count)))
    return [p for p in opened if p is not None], failures


async def close_many(protos: list[Lean], timeout: float = 10.0) -> int:
    """Close handshake on every connection; abort what is still open after ``timeout``."""
    for proto in protos:
        proto.on_message = None
        proto.send_close()
    pending = [p.closed for p in protos if not p.closed.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)
    stuck = 0
    for proto in protos:
        if not proto.closed.done():
            stuck += 1
            proto.transport.abort()
    return stuck


class _PingPong:
    """Callback-driven ping-pong on one connection: the reply handler sends the next."""

    __slots__ = (
        "count",
        "deadline",
        "done",
        "errors",
        "expect",
        "finished",
        "frame",
        "lat",
        "limit",
        "sent",
    )

    def __init__(
        self, frame: bytes, expect: int, limit: int, deadline: int, keep: bool, done: Any
    ) -> None:
        self.frame = frame
        self.expect = expect
        self.limit = limit
        self.deadline = deadline
        self.lat: list[int] | None = [] if keep else None
        self.count = 0
        self.errors = 0
        self.sent = 0
        self.finished = 0
        self.done = done

    def start(self, proto: Lean) -> None:
        proto.on_message = self.on_message
        self.sent = now_ns()
        proto.transport.write(self.frame)

    def on_message(self, proto: Lean, opcode: int, length: int) -> None:
        now = now_ns()
        if opcode != OP_TEXT or length != self.expect:
            self.errors += 1
        if self.lat is not None:
            self.lat.append(now - self.sent)
        self.count += 1
        if self.count >= self.limit or now >= self.deadline:
            proto.on_message = None
            self.finished = now
            self.done()
            return
        self.sent = now
        proto.transport.write(self.frame)


async def ping_pong(
    protos: list[Lean], frame: bytes, expect: int, limit: int, duration: float, keep: bool
) -> tuple[list[_PingPong], int]:
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    remaining = [len(protos)]

    def one_done() -> None:
        remaining[0] -= 1
        if remaining[0] == 0 and not all_done.done():
            all_done.set_result(None)

    start = now_ns()
    deadline = start + int(duration * 1e9)
    drivers = [_PingPong(frame, expect, limit, deadline, keep, one_done) for _ in protos]
    for driver, proto in zip(drivers, protos, strict=True):
        driver.start(proto)
    # A reply lost for good would hang here: bound the wait beyond the deadline.
    await asyncio.wait_for(all_done, duration + 10.0)
    return drivers, start


class Worker:
    """The commands a worker process answers; fleets are named sets of open connections."""

    def __init__(self) -> None:
        self.fleets: dict[str, list[Lean]] = {}
        self.expected = 0
        self.received = 0
        self.last_ns = 0
        self.mismatched = 0
        self.expect_len = 0
        self.round_done: asyncio.Future[None] | None = None

    async def cmd_ping(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}

    async def cmd_pingpong(
        self,
        port: int,
        server_pid: int,
        payload: bytes,
        clients: int,
        limit: int,
        duration: float,
        warmup: int,
    ) -> dict[str, Any]:
        """``clients`` connections, each sending ``payload`` and waiting for its echo."""
        frame = masked_frame(OP_TEXT, payload)
        protos, failures = await open_many(port, clients, concurrency=clients)
        if failures:
            await close_many(protos, 2.0)
            raise RuntimeError(f"could not connect: {dict(failures)}")
        try:
            if warmup:
                await ping_pong(protos, frame, len(payload), warmup, 5.0, keep=False)
            cpu0, server0 = _own_cpu_s(), proc_cpu_s(server_pid)
            drivers, start = await ping_pong(
                protos, frame, len(payload), limit, duration, keep=True
            )
            end = max(d.finished for d in drivers)
            cpu1, server1 = _own_cpu_s(), proc_cpu_s(server_pid)
        finally:
            await close_many(protos, 5.0)
        elapsed = (end - start) / 1e9
        lat = sorted(x for d in drivers for x in d.lat or ())
        count = sum(d.count for d in drivers)
        return {
            "value": count / elapsed,
            "count": count,
            "elapsed": elapsed,
            "errors": sum(d.errors for d in drivers),
            "p50_us": percentile(lat, 0.50) / 1e3,
            "p99_us": percentile(lat, 0.99) / 1e3,
            "client_cpu": (cpu1 - cpu0) / elapsed,
            "server_cpu": (server1 - server0) / elapsed,
            "server_cpu_per_op": (server1 - server0) / count if count else float("nan"),
        }

    async def cmd_cycles(
        self, port: int, server_pid: int, concurrency: int, limit: int, duration: float
    ) -> dict[str, Any]:
        """Connect + close handshake, over and over, ``concurrency`` loops at a time."""
        loop = asyncio.get_running_loop()
        request = upgrade_request(port)
        lat: list[int] = []
        failures: Counter[str] = Counter()
        count = [0]
        start = now_ns()
        deadline = start + int(duration * 1e9)

        async def one_cycle() -> None:
            t0 = now_ns()
            proto: Lean | None = None
            try:
                async with asyncio.timeout(5.0):
                    _, proto = await loop.create_connection(lambda: Lean(loop), HOST, port)
                    proto.transport.write(request)
                    await proto.handshake
                    proto.send_close()
                    await proto.closed
                if not proto.close_received:
                    raise HandshakeError("no close frame from the server")
            except (OSError, TimeoutError, HandshakeError) as exc:
                failures[f"{type(exc).__name__}: {exc}"[:120]] += 1
                if proto is not None:
                    proto.transport.abort()
                return
            lat.append(now_ns() - t0)

        async def loop_cycles() -> None:
            while count[0] < limit and now_ns() < deadline:
                count[0] += 1
                await one_cycle()

        cpu0, server0 = _own_cpu_s(), proc_cpu_s(server_pid)
        await asyncio.gather(*(loop_cycles() for _ in range(concurrency)))
        end = now_ns()
        cpu1, server1 = _own_cpu_s(), proc_cpu_s(server_pid)
        elapsed = (end - start) / 1e9
        lat.sort()
        return {
            "value": len(lat) / elapsed,
            "count": len(lat),
            "attempts": count[0],
            "failures": sum(failures.values()),
            "failure_kinds": dict(failures.most_common(5)),
            "elapsed": elapsed,
            "p50_us": percentile(lat, 0.50) / 1e3,
            "p99_us": percentile(lat, 0.99) / 1e3,
            "client_cpu": (cpu1 - cpu0) / elapsed,
            "server_cpu": (server1 - server0) / elapsed,
            "server_cpu_per_op": (server1 - server0) / len(lat) if lat else float("nan"),
        }

    async def cmd_open(self, fleet: str, port: int, count: int, concurrency: int) -> dict[str, Any]:
        start = now_ns()
        protos, failures = await open_many(port, count, concurrency, timeout=30.0)
        self.fleets.setdefault(fleet, []).extend(protos)
        return {
            "opened": len(protos),
            "failures": sum(failures.values()),
            "failure_kinds": dict(failures.most_common(5)),
            "elapsed": (now_ns() - start) / 1e9,
        }

    async def cmd_close(self, fleet: str) -> dict[str, Any]:
        protos = self.fleets.pop(fleet, [])
        stuck = await close_many(protos, 15.0)
        return {"closed": len(protos) - stuck, "aborted": stuck}

    async def cmd_expect(self, fleet: str, length: int) -> dict[str, Any]:
        """Arm every connection of ``fleet`` to time the next message it receives."""
        protos = self.fleets[fleet]
        loop = asyncio.get_running_loop()
        self.expected = len(protos)
        self.received = 0
        self.mismatched = 0
        self.last_ns = 0
        self.expect_len = length
        self.round_done = loop.create_future()
        for proto in protos:
            proto.on_message = self._on_broadcast
        return {"armed": len(protos)}

    def _on_broadcast(self, proto: Lean, opcode: int, length: int) -> None:
        self.last_ns = now_ns()
        proto.on_message = None  # one message per connection per round
        if opcode != OP_TEXT or length != self.expect_len:
            self.mismatched += 1
        self.received += 1
        if self.received >= self.expected and self.round_done and not self.round_done.done():
            self.round_done.set_result(None)

    async def cmd_send(self, fleet: str, payload: bytes) -> dict[str, Any]:
        """Send ``payload`` on the fleet's first connection; when it left."""
        frame = masked_frame(OP_TEXT, payload)
        proto = self.fleets[fleet][0]
        sent = now_ns()
        proto.transport.write(frame)
        return {"sent_ns": sent}

    async def cmd_wait(self, within: float) -> dict[str, Any]:
        assert self.round_done is not None
        if not self.round_done.done():
            await asyncio.wait((self.round_done,), timeout=within)
        return {
            "received": self.received,
            "expected": self.expected,
            "mismatched": self.mismatched,
            "last_ns": self.last_ns,
        }

    async def cmd_echo_once(self, fleet: str, payload: bytes, within: float) -> dict[str, Any]:
        """One round trip on the fleet's first connection while the others stay open."""
        proto = self.fleets[fleet][0]
        loop = asyncio.get_running_loop()
        got: asyncio.Future[int] = loop.create_future()

        def on_message(_: Lean, opcode: int, length: int) -> None:
            if not got.done():
                got.set_result(length if opcode == OP_TEXT else -1)

        proto.on_message = on_message
        sent = now_ns()
        proto.transport.write(masked_frame(OP_TEXT, payload))
        try:
            length = await asyncio.wait_for(got, within)
        except TimeoutError:
            return {"ok": False, "latency_us": None}
        finally:
            proto.on_message = None
        return {"ok": length == len(payload), "latency_us": (now_ns() - sent) / 1e3}


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


async def _serve_commands(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker()
    while True:
        message = await loop.run_in_executor(None, pipe.recv)
        if message is None:
            break
        name, kwargs = message
        try:
            result = await getattr(worker, f"cmd_{name}")(**kwargs)
        except Exception as exc:  # noqa: BLE001 - reported to the orchestrator
            pipe.send(("error", f"{name}: {type(exc).__name__}: {exc}"))
        else:
            pipe.send(("ok", result))
    for fleet in list(worker.fleets):
        await worker.cmd_close(fleet)


def worker_main(pipe: Connection, core: int | None) -> None:
    """Entry point of a forked worker process."""
    pin_all_threads(core)
    raise_nofile()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve_commands(pipe))
    else:
        uvloop.run(_serve_commands(pipe))


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
