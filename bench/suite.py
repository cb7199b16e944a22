"""The benchmark suite: every scenario as a ratio to a bare ``websockets`` server.

Run it with ``.venv/bin/python -m bench`` (``--help`` for the options). The
orchestrator (this process) starts the servers (``bench/server.py``) pinned to
one core and the load-generating workers (``bench/client.py``) pinned to the
other, alternates baseline and emulator runs, and reports medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from bench import client
from bench.server import SERVE_LOG, write_serve_folder
from bench.stats import (
    fmt_pct,
    fmt_rate,
    fmt_seconds,
    fmt_us,
    median,
    pair_ratios,
    table,
)

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = Path(__file__).resolve().parent / "handlers"
STARTUP_CONFIG = HANDLERS / "routes.yaml"
SCENARIOS = ("echo", "post", "connect", "broadcast", "scale", "startup")
# embedded: emulator.app.Emulator in a process of the bench's, without the CLI's
# log, reload or pages; serve: the real `apigw-ws serve` with its defaults (a
# line per frame, written to a file in the served folder; live reload; the
# inspector), as users run it.
MODES = ("embedded", "serve")
# Rows of bare servers that bound what the emulator's rows can reach (messages).
BOUND = "bound"
# A message as a browser client of an API Gateway chat would send it (~100 bytes).
MESSAGE = b'{"action":"sendmessage","data":"' + b"0123456789" * 6 + b'","seq":12345}'


@dataclass(frozen=True)
class Settings:
    rounds: int  # emulator runs per variant; baseline runs are rounds + 1
    duration: float  # seconds per run (the time bound)
    limit_one: int  # messages per run, 1 client (the count bound)
    limit_each: int  # messages per client per run, 50 clients
    connect_limit: int  # connect cycles per run
    broadcast_clients: int
    broadcast_rounds: int
    broadcasts_per_run: int
    scale_connections: int
    startup_pairs: int
    fixture_cycles: int
    fixture_block: int


DEFAULT = Settings(
    rounds=6,
    duration=0.6,
    limit_one=100_000,
    limit_each=10_000,
    connect_limit=20_000,
    broadcast_clients=1000,
    broadcast_rounds=5,
    broadcasts_per_run=12,
    scale_connections=10_000,
    startup_pairs=5,
    fixture_cycles=200,
    fixture_block=25,
)
QUICK = Settings(
    rounds=2,
    duration=0.25,
    limit_one=50_000,
    limit_each=5_000,
    connect_limit=5_000,
    broadcast_clients=1000,
    broadcast_rounds=2,
    broadcasts_per_run=4,
    scale_connections=1000,
    startup_pairs=2,
    fixture_cycles=60,
    fixture_block=20,
)


@dataclass
class Side:
    """One side's runs: the headline value of each run and its extras."""

    runs: list[float] = field(default_factory=list)
    p50_us: list[float] = field(default_factory=list)
    p99_us: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu_per_op: list[float] = field(default_factory=list)
    other_load_server_core: list[float] = field(default_factory=list)
    other_load_client_core: list[float] = field(default_factory=list)
    failures: int = 0
    errors: int = 0

    def add(self, result: dict[str, Any]) -> None:
        self.runs.append(result["value"])
        for key in (
            "p50_us",
            "p99_us",
            "server_cpu",
            "client_cpu",
            "server_cpu_per_op",
            "other_load_server_core",
            "other_load_client_core",
        ):
            if key in result and result[key] is not None:
                getattr(self, key).append(result[key])
        self.failures += result.get("failures", 0)
        self.errors += result.get("errors", 0) + result.get("mismatched", 0)

    def summary(self) -> dict[str, Any]:
        return {
            "median": median(self.runs),
            "runs": self.runs,
            "p50_us": median(self.p50_us),
            "p99_us": median(self.p99_us),
            "server_cpu": median(self.server_cpu),
            "client_cpu": median(self.client_cpu),
            "server_cpu_per_op": median(self.server_cpu_per_op),
            "other_load_server_core": median(self.other_load_server_core),
            "other_load_client_core": median(self.other_load_client_core),
            "failures": self.failures,
            "errors": self.errors,
        }


@dataclass
class Row:
    scenario: str
    unit: str
    higher_is_better: bool
    baseline: dict[str, Any] | None
    emulator: dict[str, Any] | None
    ratio: float | None
    target: str
    passed: bool | None
    ratios: list[float] = field(default_factory=list)
    note: str = ""
    cpu_ratio: float | None = None  # baseline server CPU per op / emulator's
    mode: str = "embedded"

    def cells(self) -> list[str]:
        verdict = "-" if self.passed is None else ("PASS" if self.passed else "FAIL")
        ratio = _fmt_ratio(self.ratio, self.target)
        cpu = (
            "-" if self.cpu_ratio is None or math.isnan(self.cpu_ratio) else f"{self.cpu_ratio:.2f}"
        )
        return [
            self.mode,
            self.scenario,
            _cell(self.baseline, self.unit),
            _cell(self.emulator, self.unit),
            ratio,
            self.target,
            verdict + (f" ({self.note})" if self.note else ""),
            cpu,
            self.other_load(),
        ]

    def other_load(self) -> str:
        """Median share of the server and client cores other processes took."""
        loads = []
        for key in ("other_load_server_core", "other_load_client_core"):
            values = [
                side[key]
                for side in (self.baseline, self.emulator)
                if side and side.get(key) is not None and not math.isnan(side[key])
            ]
            if not values:
                return "-"
            loads.append(fmt_pct(max(values)))
        return "/".join(loads)


def _fmt_ratio(ratio: float | None, target: str) -> str:
    """Two decimals, or three when two would round onto the target's threshold."""
    if ratio is None or math.isnan(ratio):
        return "-"
    text = f"{ratio:.2f}"
    if target.startswith(">= ") and text == target[3:7] and f"{ratio:.3f}" != f"{text}0":
        text = f"{ratio:.3f}"
    return text


def _cell(side: dict[str, Any] | None, unit: str) -> str:
    if side is None:
        return "-"
    value = side.get("median")
    if unit in ("msg/s", "conn/s"):
        text = fmt_rate(value, unit)
    elif unit == "s":
        text = fmt_seconds(value)
    elif unit == "ms":
        text = "-" if value is None else f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"
        if side.get("p99_us") is not None and not math.isnan(side["p99_us"]):
            text += f" (p99 {fmt_us(side['p99_us'])})"
    elif unit == "KB/conn":
        text = "-" if value is None else f"{value:.1f} KB/conn"
    else:
        text = str(side.get("text", value))
    p50, p99 = side.get("p50_us"), side.get("p99_us")
    if p50 is not None and not math.isnan(p50) and unit in ("msg/s", "conn/s"):
        text += f" (p50 {fmt_us(p50)}, p99 {fmt_us(p99)})"
    return text


# Processes


class WorkerPool:
    """Forked load-generator processes pinned to the client core."""

    def __init__(self, size: int, core: int | None) -> None:
        context = mp.get_context("fork")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(size):
            parent, child = context.Pipe()
            proc = context.Process(target=client.worker_main, args=(child, core), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)
        for i in range(size):
            self.call(i, "ping", wait_s=30)

    def send(self, i: int, name: str, **kwargs: Any) -> None:
        self.pipes[i].send((name, kwargs))

    def receive(self, i: int, name: str, wait_s: float) -> Any:
        pipe = self.pipes[i]
        if not pipe.poll(wait_s):
            raise TimeoutError(f"worker {i} did not finish {name!r} within {wait_s:.0f} s")
        status, result = pipe.recv()
        if status != "ok":
            raise RuntimeError(f"worker {i}: {result}")
        return result

    def call(self, i: int, name: str, wait_s: float = 60.0, **kwargs: Any) -> Any:
        self.send(i, name, **kwargs)
        return self.receive(i, name, wait_s)

    def call_many(
        self, ids: Sequence[int], name: str, wait_s: float = 60.0, **kwargs: Any
    ) -> list[Any]:
        for i in ids:
            self.send(i, name, **kwargs)
        return [self.receive(i, name, wait_s) for i in ids]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=20)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


@dataclass
class ServerProc:
    kind: str
    app: str
    proc: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def read_line(proc: subprocess.Popen[str], timeout: float, what: str, log: Path) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{what} did not report a port within {timeout:.0f} s\n{tail}")
    return line.strip()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.settings = QUICK if args.quick else DEFAULT
        if args.rounds:
            self.settings = _replace(self.settings, rounds=args.rounds)
        if args.scale_connections:
            self.settings = _replace(self.settings, scale_connections=args.scale_connections)
        cores = sorted(os.sched_getaffinity(0))
        self.server_core: int | None = args.server_core if args.server_core >= 0 else cores[0]
        self.client_core: int | None = args.client_core if args.client_core >= 0 else cores[-1]
        if len(cores) < 2:
            self.server_core = self.client_core = None
        self.modes: tuple[str, ...] = tuple(m for m in MODES if m in (args.mode or MODES))
        self.logdir = Path(tempfile.mkdtemp(prefix="apigw-ws-bench-"))
        self.servers: list[ServerProc] = []
        self.pool: WorkerPool | None = None
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}
        self.failed: list[str] = []
        self.lost_signals: list[str] = []
        self.logs_shown: set[str] = set()

    # Process management

    def workers(self) -> WorkerPool:
        if self.pool is None:
            self.pool = WorkerPool(4, self.client_core)
        return self.pool

    def reset_workers(self) -> None:
        if self.pool is not None:
            for proc in self.pool.procs:
                proc.kill()
            self.pool = None

    def start_servers(self, specs: Sequence[tuple[str, str]]) -> list[ServerProc]:
        """Start servers in parallel (each pins itself once it listens; a
        ``serve`` one is pinned from its launch)."""
        launched = []
        for kind, app in specs:
            index = len(self.servers) + len(launched)
            if kind == "serve":
                proc, log = self._launch_serve(app, index)
                launched.append((kind, app, proc, log))
                continue
            log = self.logdir / f"{kind}-{app}-{index}.log"
            command = [sys.executable, "-m", "bench.server", "--kind", kind, "--app", app]
            if self.server_core is not None:
                command += ["--core", str(self.server_core)]
            if self.args.uvloop:
                command.append("--uvloop")
            with open(log, "w") as err:
                proc = subprocess.Popen(
                    command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True
                )
            launched.append((kind, app, proc, log))
        started = []
        for kind, app, proc, log in launched:
            line = read_line(proc, 60, f"{kind} server {app}", log)
            server = ServerProc(kind, app, proc, port_of(line), log)
            self.servers.append(server)
            started.append(server)
        return started

    def _launch_serve(self, app: str, index: int) -> tuple[subprocess.Popen[str], Path]:
        """``apigw-ws serve`` in a folder of its own, as users run it: its defaults,
        stderr (the log) to a file in the served folder."""
        folder = self.logdir / f"serve-{app}-{index}"
        config = write_serve_folder(app, folder)
        log = folder / SERVE_LOG
        command = [str(console_script()), "serve", "--config", config.name, "--port", "0"]
        with open(log, "w") as err:
            proc = launch_as_user(command, folder, err, self.server_core)
        return proc, log

    def stop_servers(self, servers: Sequence[ServerProc]) -> None:
        for server in servers:
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.proc.wait(timeout=6)
            except subprocess.TimeoutExpired:
                # A signal can be lost when the loop's self-pipe is full (see README).
                self.lost_signals.append(f"{server.kind} {server.app}")
                server.proc.send_signal(signal.SIGTERM)
                try:
                    server.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
                    server.proc.wait()
            if server.proc.stdout is not None:
                server.proc.stdout.close()
            if server in self.servers:
                self.servers.remove(server)

    def cleanup(self) -> None:
        self.stop_servers(list(self.servers))
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    # Scheduling

    def alternate(
        self,
        label: str,
        baseline: Callable[[], dict[str, Any]],
        variants: dict[str, Callable[[], dict[str, Any]]],
        rounds: int,
    ) -> tuple[Side, dict[str, Side]]:
        """B E1 E2 .. B E2 E3 .. B ...: the variants rotate, a baseline run opens
        and closes every round."""
        base = Side()
        sides = {name: Side() for name in variants}
        names = list(variants)
        for r in range(rounds):
            base.add(self.observed(baseline))
            line = [f"B {_short(base.runs[-1])}"]
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                time.sleep(0.03)
                sides[name].add(self.observed(variants[name]))
            for name in names:
                line.append(f"{name} {_short(sides[name].runs[-1])}")
            time.sleep(0.03)
            print(f"    {label} round {r + 1}/{rounds}: " + "  ".join(line), flush=True)
        base.add(self.observed(baseline))
        return base, sides

    def _our_cpu_s(self) -> tuple[float, float]:
        """CPU seconds of our processes on the server core and on the client core."""
        server = sum(client.proc_cpu_s(s.pid) for s in self.servers)
        clients = client.proc_cpu_s(os.getpid())
        if self.pool is not None:
            clients += sum(client.proc_cpu_s(p.pid) for p in self.pool.procs)
        return server, clients

    def observed(self, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run, and add how much of each pinned core other processes took meanwhile."""
        if self.server_core is None or self.client_core is None:
            return run()
        ours0 = self._our_cpu_s()
        busy0 = client.core_busy_s(self.server_core), client.core_busy_s(self.client_core)
        start = time.perf_counter()
        result = run()
        wall = time.perf_counter() - start
        ours1 = self._our_cpu_s()
        busy1 = client.core_busy_s(self.server_core), client.core_busy_s(self.client_core)
        for i, key in enumerate(("other_load_server_core", "other_load_client_core")):
            other = (busy1[i] - busy0[i]) - (ours1[i] - ours0[i])
            result[key] = max(0.0, other / wall)
        return result

    # Scenarios 1 and 2: messages

    def scenario_messages(self, selected: set[str]) -> None:
        apps = []  # (row label, app, targets by client count: embedded, serve)
        if "echo" in selected:
            apps += [
                ("echo, sync def", "echo_sync", {1: 0.85, 50: 0.75}, {1: 0.85, 50: 0.75}),
                ("echo, async def", "echo_async", {1: 0.85, 50: 0.75}, {1: 0.9, 50: 0.8}),
            ]
        if "post" in selected:
            context, boto3 = {1: 0.75, 50: 0.75}, {1: 0.4, 50: 0.4}
            apps += [
                ("PostToConnection via context", "post_callback", context, context),
                ("PostToConnection via boto3", "post_boto3", boto3, boto3),
            ]
        variants: list[tuple[str, str, str, Mapping[int, float | None]]] = []
        for mode in self.modes:  # (mode, row label, app, targets by client count)
            for label, app, embedded, serve in apps:
                variants.append((mode, label, app, serve if mode == "serve" else embedded))
        # Bounds: bare servers that do only what every emulator of these routes
        # must do besides its own work. The ratio an emulator could reach at best.
        none: Mapping[int, float | None] = {1: None, 50: None}
        if "echo" in selected:
            variants.append((BOUND, "bare echo, reply made on a thread", "echo_thread", none))
        if "post" in selected:
            label = "bare echo + botocore's post_to_connection"
            variants.append((BOUND, label, "echo_boto3", none))
        specs = [(_kind(v[0]), v[2]) for v in variants]
        servers = self.start_servers([("baseline", "echo"), *specs])
        try:
            pool = self.workers()
            s = self.settings

            def run(
                server: ServerProc, clients: int, duration: float, warmup: int
            ) -> dict[str, Any]:
                limit = s.limit_one if clients == 1 else s.limit_each
                return pool.call(
                    0,
                    "pingpong",
                    wait_s=duration + 60,
                    port=server.port,
                    server_pid=server.pid,
                    payload=MESSAGE,
                    clients=clients,
                    limit=limit,
                    duration=duration,
                    warmup=warmup,
                )

            for server in servers:  # warm-up: imports, thread pools, boto3's client
                run(server, 50, 0.2, 20)
            for clients in (1, 50):
                label = f"{clients} client" + ("s" if clients > 1 else "")
                print(f"  messages, {label}:", flush=True)
                warmup = 100 if clients == 1 else 10
                base, sides = self.alternate(
                    label,
                    lambda c=clients, w=warmup: run(servers[0], c, s.duration, w),
                    {
                        _variant(v[0], v[2]): (
                            lambda srv=srv, c=clients, w=warmup: run(srv, c, s.duration, w)
                        )
                        for v, srv in zip(variants, servers[1:], strict=True)
                    },
                    s.rounds,
                )
                for mode, name, app, targets in variants:
                    self.add_ratio_row(
                        f"{name}, {label}",
                        "msg/s",
                        True,
                        base,
                        sides[_variant(mode, app)],
                        targets[clients],
                        mode=mode,
                    )
        finally:
            self.stop_servers(servers)

    def add_ratio_row(
        self,
        name: str,
        unit: str,
        higher_is_better: bool,
        base: Side,
        emu: Side,
        target: float | None,
        require_no_failures: bool = False,
        mode: str = "embedded",
    ) -> Row:
        """``target`` None: an informational row, no verdict unless it failed outright."""
        ratios = pair_ratios(base.runs, emu.runs, higher_is_better)
        ratio = median(ratios)
        passed: bool | None = None if target is None else ratio >= target
        note = ""
        if emu.errors:
            passed = False
            note = f"{emu.errors} wrong replies"
        target_text = "-" if target is None else f">= {target:.2f}"
        if require_no_failures:
            target_text += ", 0 failures" if target is not None else ""
            if emu.failures:
                passed = False
                note = f"{emu.failures} failures"
        b_summary, e_summary = base.summary(), emu.summary()
        cpu_ratio = b_summary["server_cpu_per_op"] / e_summary["server_cpu_per_op"]
        row = Row(
            name,
            unit,
            higher_is_better,
            b_summary,
            e_summary,
            ratio,
            target_text,
            passed,
            ratios,
            note,
            cpu_ratio,
            mode,
        )
        self.rows.append(row)
        b, e = row.baseline, row.emulator
        assert b is not None
        assert e is not None
        cpu = ""
        if not math.isnan(b["server_cpu"]):
            cpu = (
                f"; server CPU B {fmt_pct(b['server_cpu'])} E {fmt_pct(e['server_cpu'])}, "
                f"client CPU B {fmt_pct(b['client_cpu'])} E {fmt_pct(e['client_cpu'])}"
            )
        if not math.isnan(cpu_ratio):
            cpu += f"; CPU/op ratio {cpu_ratio:.2f}"
        cpu += f"; other load srv/cli core {row.other_load()}"
        print(
            f"  => {mode}: {name}: ratio {_fmt_ratio(ratio, target_text)} "
            f"(runs {', '.join(f'{r:.2f}' for r in ratios)}){cpu}",
            flush=True,
        )
        return row

    # Scenario 3: connect + disconnect

    def scenario_connect(self) -> None:
        kinds = [_kind(mode) for mode in self.modes]
        servers = self.start_servers([("baseline", "connect")] + [(k, "connect") for k in kinds])
        try:
            pool = self.workers()
            s = self.settings

            def run(server: ServerProc, concurrency: int, duration: float) -> dict[str, Any]:
                return pool.call(
                    0,
                    "cycles",
                    wait_s=duration + 60,
                    port=server.port,
                    server_pid=server.pid,
                    concurrency=concurrency,
                    limit=s.connect_limit,
                    duration=duration,
                )

            for server in servers:
                run(server, 10, 0.2)
            for concurrency, label in ((1, "sequential"), (50, "50 concurrent")):
                print(f"  connect + disconnect, {label}:", flush=True)
                base, sides = self.alternate(
                    label,
                    lambda c=concurrency: run(servers[0], c, s.duration),
                    {
                        mode: lambda c=concurrency, srv=srv: run(srv, c, s.duration)
                        for mode, srv in zip(self.modes, servers[1:], strict=True)
                    },
                    s.rounds,
                )
                for mode in self.modes:
                    row = self.add_ratio_row(
                        f"connect+disconnect, {label}",
                        "conn/s",
                        True,
                        base,
                        sides[mode],
                        0.7,
                        require_no_failures=True,
                        mode=mode,
                    )
                    assert row.baseline is not None
                    assert row.emulator is not None
                    print(
                        f"     failures: baseline {row.baseline['failures']}, "
                        f"{mode} {row.emulator['failures']}",
                        flush=True,
                    )
        finally:
            self.stop_servers(servers)

    # Scenario 4: broadcast

    def scenario_broadcast(self) -> None:
        s = self.settings
        servers = self.start_servers(
            [("baseline", "broadcast"), ("emulator", "broadcast"), ("emulator", "broadcast_async")]
        )
        pool = self.workers()
        # Each fleet's clients over two workers; a worker may hold several fleets.
        fleets = {"B": (servers[0], [0, 1]), "E": (servers[1], [2, 3]), "A": (servers[2], [1, 2])}
        try:
            per_worker = s.broadcast_clients // 2
            for fleet, (server, ids) in fleets.items():
                opened = pool.call_many(
                    ids, "open", wait_s=120, fleet=fleet, port=server.port, count=per_worker,
                    concurrency=50,
                )  # fmt: skip
                failures = sum(o["failures"] for o in opened)
                if failures:
                    raise RuntimeError(f"broadcast: {failures} connections failed: {opened}")
            payload = MESSAGE.replace(b"sendmessage", b"broadcast")
            total = per_worker * 2

            def one(fleet: str) -> tuple[float, int, int]:
                _, ids = fleets[fleet]
                pool.call_many(ids, "expect", fleet=fleet, length=len(payload))
                sent = pool.call(ids[0], "send", fleet=fleet, payload=payload)["sent_ns"]
                got = pool.call_many(ids, "wait", wait_s=30, within=10.0)
                missing = total - sum(g["received"] for g in got)
                mismatched = sum(g["mismatched"] for g in got)
                return (max(g["last_ns"] for g in got) - sent) / 1e6, missing, mismatched

            def run(fleet: str, count: int) -> dict[str, Any]:
                server, ids = fleets[fleet]
                workers = [pool.procs[i].pid for i in ids]
                cpu0 = client.proc_cpu_s(server.pid)
                client0 = sum(client.proc_cpu_s(pid) for pid in workers)
                times, missing, mismatched = [], 0, 0
                for _ in range(count):
                    ms, miss, bad = one(fleet)
                    times.append(ms)
                    missing += miss
                    mismatched += bad
                    time.sleep(0.01)
                cpu = (client.proc_cpu_s(server.pid) - cpu0) / count * 1000
                client_cpu = sum(client.proc_cpu_s(pid) for pid in workers) - client0
                times.sort()
                return {
                    "value": median(times),
                    "p50_us": client.percentile(times, 0.5) * 1000,
                    "p99_us": client.percentile(times, 0.99) * 1000,
                    "failures": missing,
                    "mismatched": mismatched,
                    "server_cpu_ms": cpu,
                    "server_cpu_per_op": cpu / 1000,
                    "client_cpu_ms": client_cpu / count * 1000,
                }

            for fleet in fleets:
                run(fleet, 3)
            print(f"  broadcast to {total} clients:", flush=True)
            cpu: dict[str, list[float]] = {fleet: [] for fleet in fleets}
            client_cpu: dict[str, list[float]] = {fleet: [] for fleet in fleets}

            def measured(fleet: str) -> dict[str, Any]:
                result = run(fleet, s.broadcasts_per_run)
                cpu[fleet].append(result["server_cpu_ms"])
                client_cpu[fleet].append(result["client_cpu_ms"])
                return result

            base, sides = self.alternate(
                "broadcast",
                lambda: measured("B"),
                {"sync": lambda: measured("E"), "async": lambda: measured("A")},
                s.broadcast_rounds,
            )
            row = self.add_ratio_row(
                f"broadcast to {total} clients",
                "ms",
                False,
                base,
                sides["sync"],
                0.7,
                require_no_failures=True,
            )
            info = self.add_ratio_row(
                "  same, async def handler (info)",
                "ms",
                False,
                base,
                sides["async"],
                None,
                require_no_failures=True,
            )
            assert row.baseline is not None
            for side, fleet in ((row.baseline, "B"), (row.emulator, "E"), (info.emulator, "A")):
                assert side is not None
                side["server_cpu_ms_per_broadcast"] = median(cpu[fleet])
                side["client_cpu_ms_per_broadcast"] = median(client_cpu[fleet])
            print(
                "     CPU per broadcast, server: "
                + ", ".join(f"{f} {median(cpu[f]):.1f} ms" for f in fleets)
                + "; clients (all on 1 core): "
                + ", ".join(f"{f} {median(client_cpu[f]):.1f} ms" for f in fleets)
                + "  (B baseline, E sync def, A async def)",
                flush=True,
            )
        finally:
            for fleet, (_, ids) in fleets.items():
                with contextlib.suppress(RuntimeError, TimeoutError):
                    pool.call_many(ids, "close", wait_s=60, fleet=fleet)
            self.stop_servers(servers)

    # Scenario 5: scale

    def scenario_scale(self) -> None:
        s = self.settings
        n = s.scale_connections
        pool = self.workers()
        ids = list(range(len(pool.pipes)))
        share = [n // len(ids) + (1 if i < n % len(ids) else 0) for i in ids]
        results: dict[str, dict[str, Any]] = {}
        print(f"  {n} idle connections:", flush=True)
        sides = [("baseline", "baseline")] + [(mode, _kind(mode)) for mode in self.modes]
        for kind, server_kind in sides:
            (server,) = self.start_servers([(server_kind, "idle")])
            try:
                # Warm-up: first connection, first message, first close.
                pool.call(0, "open", fleet="warm", port=server.port, count=10, concurrency=10)
                pool.call(0, "echo_once", fleet="warm", payload=MESSAGE, within=5.0)
                pool.call(0, "close", fleet="warm")
                time.sleep(0.3)
                before = server.rss_kb()
                start = time.perf_counter()
                for i in ids:
                    pool.send(
                        i, "open", fleet="scale", port=server.port, count=share[i], concurrency=64
                    )
                opened = [pool.receive(i, "open", 300) for i in ids]
                connect_s = time.perf_counter() - start
                failures = sum(o["failures"] for o in opened)
                count = sum(o["opened"] for o in opened)
                time.sleep(0.5)
                after = server.rss_kb()
                echo = pool.call(0, "echo_once", fleet="scale", payload=MESSAGE, within=10.0)
                results[kind] = {
                    "connections": count,
                    "failures": failures,
                    "failure_kinds": [o["failure_kinds"] for o in opened if o["failure_kinds"]],
                    "connect_s": connect_s,
                    "connect_rate": count / connect_s,
                    "rss_before_kb": before,
                    "rss_after_kb": after,
                    "median": (after - before) / max(count, 1),
                    "echo_ok": echo["ok"],
                    "echo_latency_us": echo["latency_us"],
                }
                print(
                    f"    {kind}: {count} open ({failures} failed) in {connect_s:.1f} s, "
                    f"RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB "
                    f"= {results[kind]['median']:.1f} KB/conn; a message routes: {echo['ok']} "
                    f"({fmt_us(echo['latency_us'])})",
                    flush=True,
                )
            finally:
                try:
                    pool.call_many(ids, "close", wait_s=120, fleet="scale")
                except (RuntimeError, TimeoutError):
                    self.reset_workers()
                self.stop_servers([server])
        b = results["baseline"]
        for mode in self.modes:
            e = results[mode]
            ratio = b["median"] / e["median"] if e["median"] > 0 else float("nan")
            all_open = e["connections"] == n and e["failures"] == 0
            limit = 10 if mode == "serve" else 50
            self.rows.append(
                Row(
                    f"idle memory, {n} connections",
                    "KB/conn",
                    False,
                    b,
                    e,
                    ratio,
                    f"< {limit} KB/conn",
                    e["median"] < limit and all_open,
                    note="" if all_open else f"{e['failures']} failed to connect",
                    mode=mode,
                )
            )
            both = b["echo_latency_us"] or float("nan"), e["echo_latency_us"] or float("nan")
            self.rows.append(
                Row(
                    f"a message routes, {n} open",
                    "text",
                    False,
                    {**b, "text": f"{'ok' if b['echo_ok'] else 'LOST'} in {fmt_us(both[0])}"},
                    {**e, "text": f"{'ok' if e['echo_ok'] else 'LOST'} in {fmt_us(both[1])}"},
                    None,  # one round trip each: a ratio would be noise
                    "routes",
                    bool(e["echo_ok"]) and all_open,
                    mode=mode,
                )
            )

    # Scenario 6: start-up and the test fixture

    def scenario_startup(self) -> None:
        s = self.settings
        console = console_script()
        emulator_cmd = [str(console), "serve", "--config", str(STARTUP_CONFIG), "--port", "0"]
        baseline_cmd = [sys.executable, "-m", "bench.server", "--kind", "baseline", "--app", "echo"]
        sides = {"baseline": Side(), "emulator": Side()}
        ready_line: dict[str, list[float]] = {"baseline": [], "emulator": []}
        print("  start-up, launch to first accepted connection:", flush=True)
        self._launch(baseline_cmd, "baseline")  # warm the page cache; not counted
        self._launch(emulator_cmd, "emulator")
        for i in range(s.startup_pairs):
            line = []
            for kind, cmd in (("baseline", baseline_cmd), ("emulator", emulator_cmd)):
                printed, accepted = self._launch(cmd, kind)
                sides[kind].add({"value": accepted})
                ready_line[kind].append(printed)
                line.append(f"{kind} {accepted * 1000:.0f} ms")
            print(f"    pair {i + 1}/{s.startup_pairs}: " + "  ".join(line), flush=True)
        extra = self._launch(baseline_cmd, "baseline")[1]  # closes the last bracket
        sides["baseline"].add({"value": extra})
        base, emu = sides["baseline"], sides["emulator"]
        ratios = pair_ratios(base.runs, emu.runs, higher_is_better=False)
        value = median(emu.runs)
        self.rows.append(
            Row(
                "start-up: launch to first accept",
                "s",
                False,
                {**base.summary(), "url_printed_s": median(ready_line["baseline"])},
                {**emu.summary(), "url_printed_s": median(ready_line["emulator"])},
                median(ratios),
                "< 0.3 s",
                value < 0.3,
                ratios,
                mode="serve",
            )
        )
        self.scenario_fixture()

    def _launch(self, command: list[str], kind: str) -> tuple[float, float]:
        """Seconds from launch to the printed address, and to the first 101."""
        log = self.logdir / f"startup-{kind}.log"
        with open(log, "a") as err:
            start = time.perf_counter()
            proc = launch_as_user(command, ROOT, err, self.server_core)
        try:
            line = read_line(proc, 30, f"start-up {kind}", log)
            printed = time.perf_counter() - start
            port = port_of(line)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(client.upgrade_request(port))
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                accepted = time.perf_counter() - start
                if not head.startswith(b"HTTP/1.1 101"):
                    raise RuntimeError(f"start-up {kind}: no 101: {head[:80]!r}")
                sock.sendall(client.CLOSE_FRAME)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        return printed, accepted

    def scenario_fixture(self) -> None:
        s = self.settings
        print(f"  Harness start+stop, {s.fixture_cycles} cycles each, in-process:", flush=True)
        context = mp.get_context("fork")
        parent, child = context.Pipe()
        proc = context.Process(
            target=_fixture_process,
            args=(child, self.server_core, self.args.uvloop, s.fixture_cycles, s.fixture_block),
            daemon=True,
        )
        proc.start()
        child.close()
        if not parent.poll(300):
            proc.kill()
            raise TimeoutError("the fixture timing did not finish within 300 s")
        status, result = parent.recv()
        proc.join(timeout=10)
        if status != "ok":
            raise RuntimeError(result)
        base, emu = Side(), Side()
        for value in result["baseline_blocks"]:
            base.add({"value": value})
        for value in result["emulator_blocks"]:
            emu.add({"value": value})
        ratios = pair_ratios(base.runs, emu.runs, higher_is_better=False)
        b = {**base.summary(), "median": result["baseline_mean"], **result["baseline_pct"]}
        e = {**emu.summary(), "median": result["emulator_mean"], **result["emulator_pct"]}
        self.rows.append(
            Row(
                "Harness start+stop per test (mean)",
                "s",
                False,
                b,
                e,
                median(ratios),
                "< 10 ms",
                result["emulator_mean"] < 0.010,
                ratios,
            )
        )
        print(
            f"    bare websockets.serve start+stop {fmt_seconds(result['baseline_mean'])}, "
            f"Harness {fmt_seconds(result['emulator_mean'])} (mean of "
            f"{len(result['emulator_times'])}; p50 {fmt_seconds(e['p50_s'])}, "
            f"p99 {fmt_seconds(e['p99_s'])})",
            flush=True,
        )

    # Report

    def machine(self) -> dict[str, Any]:
        model = cpu_model() or "unknown"
        import websockets

        return {
            "cpu_model": model,
            "cores": os.cpu_count(),
            "usable_cores": sorted(os.sched_getaffinity(0)),
            "server_core": self.server_core,
            "client_core": self.client_core,
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "kernel": platform.release(),
            "websockets": websockets.__version__,
            "uvloop_server": bool(self.args.uvloop),
            "uvloop_clients": client.uvloop_available(),
            "nofile_limit": client.raise_nofile(),
            "load_average_at_start": os.getloadavg(),
        }


def installed_script(name: str, hint: str) -> Path:
    """The script ``name`` of this Python's environment, else the one on PATH;
    RuntimeError saying ``hint`` when there is neither."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(hint)
        script = Path(found)
    return script


def console_script() -> Path:
    """The ``apigw-ws`` console script of this Python's environment."""
    return installed_script("apigw-ws", "the apigw-ws console script is not installed")


def cpu_model() -> str | None:
    """The CPU's model name, from /proc/cpuinfo (None elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def user_environment() -> dict[str, str]:
    """The environment a user's shell gives ``apigw-ws serve``: bytecode caches
    are written and read (a first launch, not counted, writes them)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def launch_as_user(
    command: Sequence[str],
    cwd: Path,
    stderr: IO[str],
    core: int | None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``command`` in ``cwd`` as from a user's shell (:func:`user_environment`,
    plus ``extra_env``), stdout piped, pinned to ``core`` from its first instruction."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**user_environment(), **(extra_env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, {core})) if core is not None else None,
    )


def port_of(line: str) -> int:
    """The port in a bench server's line (a bare port) or in serve's URL."""
    return int(line.rsplit(":", 1)[-1].split("/")[0]) if ":" in line else int(line)


def _variant(mode: str, app: str) -> str:
    return f"{'S' if mode == 'serve' else 'B' if mode == BOUND else 'E'}:{app}"


def _kind(mode: str) -> str:
    """The server kind a mode starts."""
    return "serve" if mode == "serve" else "baseline" if mode == BOUND else "emulator"


def _replace(settings: Settings, **changes: Any) -> Settings:
    return Settings(**{**asdict(settings), **changes})


def _short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}"


def _fixture_process(
    pipe: Connection, core: int | None, use_uvloop: bool, cycles: int, block: int
) -> None:
    """Time Harness start+stop against a bare websockets.serve, in one process."""
    try:
        client.pin_all_threads(core)
        result = _run_loop(_fixture_timing(cycles, block), use_uvloop)
    except Exception:  # noqa: BLE001 - reported to the orchestrator
        pipe.send(("error", traceback.format_exc()))
    else:
        pipe.send(("ok", result))


def _run_loop(coroutine: Any, use_uvloop: bool) -> Any:
    if use_uvloop:
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


async def _fixture_timing(cycles: int, block: int) -> dict[str, Any]:
    from websockets.asyncio.server import ServerConnection, serve

    from emulator.tools.testing import Harness

    routes = {"$default": {"handler": "bench_handlers.echo", "routeResponse": True}}

    async def hold(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async def bare() -> None:
        server = await serve(hold, "127.0.0.1", 0, compression=None, ping_interval=None)
        server.close()
        await server.wait_closed()

    async def harness() -> None:
        # What tests/conftest.py's fixture does per test.
        h = Harness.from_config({"routes": routes}, base_dir=HANDLERS)
        await h.__aenter__()
        await h.stop()

    for _ in range(10):
        await bare()
        await harness()
    times: dict[str, list[float]] = {"baseline": [], "emulator": []}
    blocks: dict[str, list[float]] = {"baseline": [], "emulator": []}
    kinds = (("baseline", bare), ("emulator", harness))
    while len(times["emulator"]) < cycles:
        for kind, cycle in kinds:
            block_times = []
            for _ in range(block):
                start = time.perf_counter()
                await cycle()
                block_times.append(time.perf_counter() - start)
            times[kind] += block_times
            blocks[kind].append(sum(block_times) / len(block_times))
    block_times = []  # a closing baseline block brackets the last emulator block
    for _ in range(block):
        start = time.perf_counter()
        await bare()
        block_times.append(time.perf_counter() - start)
    blocks["baseline"].append(sum(block_times) / len(block_times))
    result: dict[str, Any] = {}
    for kind in ("baseline", "emulator"):
        ordered = sorted(times[kind])
        result[f"{kind}_times"] = times[kind]
        result[f"{kind}_blocks"] = blocks[kind]
        result[f"{kind}_mean"] = sum(ordered) / len(ordered)
        result[f"{kind}_pct"] = {
            "p50_s": client.percentile(ordered, 0.5),
            "p99_s": client.percentile(ordered, 0.99),
        }
    return result


def _logs(logdir: Path) -> list[Path]:
    """The servers' stderr: a file each, ``serve.log`` in a serve mode's folder."""
    return sorted(logdir.rglob("*.log"))


def _has_problems(log: Path) -> bool:
    """Whether a server's stderr holds more than `apigw-ws serve`'s INFO lines."""
    text = log.read_text(errors="replace")
    return any(word in text for word in ("Traceback", " ERROR ", "WARNING", "Error"))


def _cpu_pressure_us() -> int | None:
    try:
        text = Path("/proc/pressure/cpu").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some"):
            return int(line.rsplit("total=", 1)[1])
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the emulator against a bare websockets server, as ratios.",
    )
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=MODES,
        help="how the emulator runs (repeatable): embedded, or serve (the CLI as users"
        " run it); default: both",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--uvloop", action="store_true", help="run the servers on uvloop")
    parser.add_argument("--rounds", type=int, default=0, help="override the rounds per scenario")
    parser.add_argument(
        "--scale-connections", type=int, default=0, help="override the idle connection count"
    )
    parser.add_argument("--server-core", type=int, default=-1, help="default: first usable core")
    parser.add_argument("--client-core", type=int, default=-1, help="default: last usable core")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target FAILs, not only on errors"
    )
    args = parser.parse_args(argv)
    if args.uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            parser.error("--uvloop: uvloop is not installed (pip install -e '.[fast]')")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    client.raise_nofile()
    if bench.client_core is not None:
        os.sched_setaffinity(0, {bench.client_core})  # the orchestrator sits with the clients
    selected = set(args.scenario or SCENARIOS)
    started = time.perf_counter()
    pressure0 = _cpu_pressure_us()
    machine = bench.machine()
    mode = "quick" if args.quick else "default"
    print(f"apigw-ws benchmark ({mode} run): emulator vs a bare websockets server", flush=True)
    print(
        f"  machine: {machine['cpu_model']}, {machine['cores']} cores; "
        f"Python {machine['python']}; websockets {machine['websockets']}; "
        f"kernel {machine['kernel']}; load average {machine['load_average_at_start'][0]:.2f}",
        flush=True,
    )
    pinning = (
        f"servers pinned to core {bench.server_core}, clients to core {bench.client_core}"
        if bench.server_core is not None
        else "NOT pinned (fewer than 2 usable cores)"
    )
    print(
        f"  {pinning}; server event loop: {'uvloop' if args.uvloop else 'asyncio'}; "
        f"client event loop: {'uvloop' if machine['uvloop_clients'] else 'asyncio'}; "
        f"RLIMIT_NOFILE {machine['nofile_limit']}",
        flush=True,
    )
    steps: list[tuple[str, Callable[[], None]]] = []
    if selected & {"echo", "post"}:
        steps.append(("messages", lambda: bench.scenario_messages(selected)))
    for name in ("connect", "broadcast", "scale", "startup"):
        if name in selected:
            steps.append((name, getattr(bench, f"scenario_{name}")))
    try:
        for name, step in steps:
            print(f"\n[{name}]", flush=True)
            t0 = time.perf_counter()
            try:
                step()
            except Exception:  # noqa: BLE001 - one broken scenario must not hide the others
                bench.failed.append(name)
                print(f"  ERROR in {name}:\n{traceback.format_exc()}", flush=True)
                bench.reset_workers()
                for log in _logs(bench.logdir):
                    name = str(log.relative_to(bench.logdir))
                    if _has_problems(log) and name not in bench.logs_shown:
                        bench.logs_shown.add(name)
                        excerpt = "\n    ".join(log.read_text(errors="replace").splitlines()[:12])
                        print(f"  server stderr, {name}:\n    {excerpt}", flush=True)
            print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        bench.failed.append("interrupted")
    finally:
        bench.cleanup()
    elapsed = time.perf_counter() - started
    pressure1 = _cpu_pressure_us()
    stall = None
    if pressure0 is not None and pressure1 is not None:
        stall = (pressure1 - pressure0) / 1e6 / elapsed
    machine["cpu_pressure_some"] = stall
    machine["load_average_at_end"] = os.getloadavg()

    print("\nResults. ratio = emulator / baseline performance (1.00 is parity, higher is better),")
    print("  the median of per-run ratios to the bracketing baseline runs; columns are medians.")
    print("  CPU/op ratio = baseline server CPU per operation / the emulator's: the same reading,")
    print("  but insensitive to how much CPU each side won from other processes. other load =")
    print("  share of the server/client core that other processes took during the runs; above")
    print("  ~20% the ratio is suspect and the CPU/op ratio the better guide.")
    headers = ["mode", "scenario", "baseline", "emulator", "ratio", "target", "PASS/FAIL"]
    headers += ["CPU/op ratio", "other load srv/cli"]
    print(table(headers, [row.cells() for row in bench.rows]))
    for name in bench.failed:
        print(f"ERROR: scenario {name} did not complete (see above)")
    for name in bench.lost_signals:
        print(f"WARNING: the {name} server ignored its first SIGTERM (stopped by a second one)")
    noise = (
        f"; CPU pressure (PSI some, own processes included): {stall * 100:.0f}%" if stall else ""
    )
    print(f"\n{len(bench.rows)} rows in {elapsed:.0f} s{noise}")
    logs = [p for p in _logs(bench.logdir) if _has_problems(p)]
    if logs:
        names = ", ".join(str(p.relative_to(bench.logdir)) for p in logs)
        print(f"server stderr with errors kept in {bench.logdir}: {names}")
    else:
        shutil.rmtree(bench.logdir, ignore_errors=True)
    if args.json:
        document = {
            "machine": machine,
            "mode": mode,
            "settings": asdict(bench.settings),
            "elapsed_s": elapsed,
            "errors": bench.failed,
            "servers_that_missed_sigterm": bench.lost_signals,
            "headers": headers,
            "table": [row.cells() for row in bench.rows],
            "rows": [asdict(row) for row in bench.rows],
        }
        text = json.dumps(_finite(document), indent=2, default=str, allow_nan=False)
        Path(args.json).write_text(text + "\n")
        print(f"JSON written to {args.json}")
    if bench.failed:
        return 1
    if args.strict and any(row.passed is False for row in bench.rows):
        return 1
    return 0


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
