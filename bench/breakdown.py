"""Where a message's server CPU goes: microseconds per message for each step.

    python -m bench.breakdown [--mode baseline|embedded|serve ...] [--app APP ...]
                              [--clients 50] [--seconds 8] [--json FILE] [--verbose]

For each mode and app, starts one server as the suite does (``embedded``:
``python -m bench.server --kind emulator``; ``serve``: ``apigw-ws serve`` in a
folder of its own, its log to ``serve.log`` there; ``baseline``: the bare
``websockets`` echo, once, for reference), pinned to the server core. From the
client core, ``--clients`` lean clients ping-pong the suite's ~100-byte JSON
message for ``--seconds`` while ``py-spy record --nonblocking`` samples the
server. The server's CPU per message comes from ``/proc``; each sample goes to
one step by its stack (:data:`RULES`), and a step's microseconds per message
are its share of the samples times that CPU.

The shares are taken per thread group, the event loop's thread and the others,
each weighted by the CPU the group was measured to use: a thread that waits for
the core (runnable, not running) is sampled as busy, and with sync handlers
fifty handler threads wait in turn for the one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import client
from bench.server import SERVE_LOG, write_serve_folder
from bench.stats import table
from bench.suite import (
    MESSAGE,
    ROOT,
    console_script,
    cpu_model,
    installed_script,
    launch_as_user,
    port_of,
    read_line,
)

R = TypeVar("R")  # what one run of a plan measures

MODES = ("baseline", "embedded", "serve")
APPS = ("echo_sync", "echo_async", "post_callback", "post_boto3")
WARMUP_S = 1.0
OTHER = "other"
STEPS = (
    "read and parse",
    "select",
    "event",
    "hand-off",
    "handler",
    "result",
    "frame and send",
    "post",
    "log",
    "timers",
    "reload",
    "loop",
    OTHER,
)


@dataclass(frozen=True)
class Rule:
    """Frames of a file matching ``path`` (and, if given, of a function matching
    ``function``) belong to ``step``; with ``step=None`` they are transparent
    (their callers decide). A weak rule decides only when no strong one does."""

    step: str | None
    path: str
    function: str = ""
    strong: bool = True


def _rules() -> tuple[Rule, ...]:
    handoff, send, read = "hand-off", "frame and send", "read and parse"
    return (
        # The handler, and what it calls (boto3's work included, not the emulator's hook in it).
        Rule("handler", r"(^|/)bench_handlers\.py$"),
        Rule("handler", r"^(boto3|botocore)/"),
        Rule("handler", r"^bench/server\.py$", r"\.(echo|hold|fan_out)$"),  # the baseline's
        # Log lines, the function's output, and observers (the inspector's feed).
        Rule("log", r"^logging/"),
        Rule("log", r"^emulator/gateway/log\.py$"),
        Rule("log", r"^emulator/tools/(logs|inspector|feed)\.py$"),
        Rule("log", r"^emulator/runtime/(output|lambda_logs)\.py$"),
        Rule("log", r"^emulator/gateway/(lifecycle|pipeline)\.py$", r"_notify"),
        Rule("reload", r"^emulator/tools/reload\.py$"),
        Rule("reload", r"^(watchfiles|anyio)/"),  # anyio: watchfiles' thread
        # The @connections API, from a context or a boto3 client, answered in-process.
        Rule("post", r"^emulator/gateway/(connections|management)\.py$"),
        Rule("post", r"^emulator/runtime/boto\.py$"),
        Rule("post", r"^emulator/app\.py$", r"handle_management$"),
        Rule("timers", r"^emulator/gateway/timers\.py$"),
        Rule("timers", r"^emulator/runtime/invoke\.py$", r"_Deadlines\.|_deadline$|expire_"),
        Rule("timers", r"^emulator/gateway/lifecycle\.py$", r"\.now$"),
        Rule("timers", r"^asyncio/", r"call_later$|call_at$|TimerHandle|_timer_handle"),
        Rule("select", r"^emulator/(gateway|model)/selection\.py$"),
        Rule("select", r"^jsonpath_ng/"),
        Rule("event", r"^emulator/gateway/events\.py$"),
        Rule("event", r"^emulator/runtime/context\.py$"),
        Rule("event", r"^uuid\.py$"),  # the function's request id
        Rule("event", r"^emulator/gateway/pipeline\.py$", r"Pipeline\.message$"),
        Rule("event", r"^emulator/gateway/lifecycle\.py$", r"Lifecycle\.message$"),
        Rule("result", r"^emulator/gateway/(results|respond)\.py$"),
        Rule("result", r"^emulator/gateway/integrations/", r"_finish$|outcome$"),
        Rule("result", r"^emulator/gateway/pipeline\.py$", r"_message_done$|_report$"),
        # From the loop to the handler's thread or task, and its result back.
        Rule(handoff, r"^emulator/gateway/integrations/lambda_proxy\.py$"),
        Rule(handoff, r"^emulator/runtime/(invoke|workers|sandbox|logroot|environ)\.py$"),
        Rule(handoff, r"^asyncio/(futures|tasks)\.py$"),
        Rule(handoff, r"^asyncio/base_events\.py$", r"threadsafe$|create_task$|create_future$"),
        Rule(handoff, r"^asyncio/selector_events\.py$", r"_read_from_self$|_write_to_self$"),
        Rule(handoff, r"^concurrent/"),
        Rule(handoff, r"^websockets/asyncio/messages\.py$"),  # the baseline's
        Rule(handoff, r"^websockets/asyncio/connection\.py$", r"\.recv$|__aiter__$"),
        Rule(send, r"^emulator/wire/connection\.py$", r"send_text$|send_bytes$|buffered_bytes$"),
        Rule(send, r"^emulator/gateway/lifecycle\.py$", r"\.send$"),
        Rule(send, r"^websockets/protocol\.py$", r"\.send_|data_to_send$"),
        Rule(send, r"^websockets/frames\.py$", r"serialize$"),
        Rule(send, r"^websockets/asyncio/connection\.py$", r"\.send|drain$"),
        Rule(send, r"^asyncio/selector_events\.py$", r"\.write$|_write_|write_buffer"),
        # The connection's flush serves both directions: its caller decides.
        Rule(None, r"^emulator/wire/connection\.py$", r"_flush$"),
        Rule(read, r"^emulator/wire/"),
        Rule(read, r"^websockets/"),
        Rule(read, r"^asyncio/selector_events\.py$", r"_read_ready"),
        Rule("loop", r"^emulator/runtime/guards\.py$"),
        Rule("loop", r"^(asyncio/(base_events|events|selector_events|runners)|selectors)\.py$"),
        # Frames seen without their callers (a stack cut short): a best guess.
        Rule("event", r"^emulator/clock\.py$", r"new_id$", strong=False),
        Rule("select", r"^json/decoder\.py$", strong=False),
        Rule("result", r"^(json/encoder\.py|simplejson/)", strong=False),
        Rule(handoff, r"^(threading|queue)\.py$", strong=False),
    )


RULES = _rules()
_COMPILED = [(rule, re.compile(rule.path), re.compile(rule.function)) for rule in RULES]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::-?\d+)?\)$")
# A thread's first frame: a stack that starts elsewhere was cut short.
_ROOT = re.compile(r"(<module>|_run_module_as_main|Thread\._bootstrap) ")


def normal_path(path: str) -> str:
    """A frame's file as a package path: ``websockets/protocol.py``."""
    path = re.sub(r"^.*/(site|dist)-packages/", "", path)
    return re.sub(r"^.*/lib/python3\.\d+/", "", path)


def _rule_for(frame: str, cache: dict[str, Rule | None]) -> Rule | None:
    if frame not in cache:
        found = None
        parsed = _FRAME.match(frame)
        if parsed is not None:
            path, function = normal_path(parsed["path"]), parsed["function"]
            for rule, path_re, function_re in _COMPILED:
                if path_re.search(path) and function_re.search(function):
                    found = rule
                    break
        cache[frame] = found
    return cache[frame]


def attribute(frames: Sequence[str], cache: dict[str, Rule | None]) -> str:
    """The step of one sample (frames outermost first): the innermost frame a
    strong rule names wins, with the frames it calls that no rule names.
    Without one, the innermost weak match; without that, ``other``."""
    weak = None
    for frame in reversed(frames):
        rule = _rule_for(frame, cache)
        if rule is None or rule.step is None:
            continue
        if rule.strong:
            return rule.step
        weak = weak or rule.step
    return weak or OTHER


def read_raw(path: Path) -> Iterator[tuple[int, list[str], int]]:
    """``(thread id, frames outermost first, count)`` per line of py-spy's raw output."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            thread, *frames = stack.split(";")
            tid = re.match(r"thread \((\d+)\)", thread)
            yield (int(tid[1]) if tid else 0), frames, int(count)


def _short(frame: str) -> str:
    parsed = _FRAME.match(frame)
    if parsed is None:
        return frame
    return f"{parsed['function']} ({normal_path(parsed['path'])})"


@dataclass
class Run:
    mode: str
    app: str
    messages: int = 0
    elapsed_s: float = 0.0
    server_us: float = 0.0  # server CPU per message, all threads
    loop_us: float = 0.0  # the event loop's thread
    other_load: float = 0.0  # share of the server core other processes took
    client_cpu: float = 0.0  # the load generator's share of its core
    # Time runnable but not running (/proc/<pid>/task/<tid>/schedstat) per message:
    # py-spy samples it as busy, where the thread stopped.
    loop_wait_us: float = 0.0
    threads_wait_us: float = 0.0
    spy_samples: int = 0  # sampling instants py-spy kept, and those it dropped
    spy_errors: int = 0  # (a stack that changed while it was read)
    samples: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> step -> n
    cut_short: int = 0  # samples whose stack lacks its thread's first frame
    unattributed: dict[str, int] = field(default_factory=dict)  # innermost frame -> n
    step_us: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "baseline echo" if self.mode == "baseline" else f"{self.mode} {self.app}"

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def dropped(self) -> float:
        tried = self.spy_samples + self.spy_errors
        return self.spy_errors / tried if tried else 0.0

    def attribute(self, raw: Path, pid: int) -> None:
        """Read py-spy's samples and split the measured CPU between the steps."""
        cache: dict[str, Rule | None] = {}
        groups: dict[str, Counter[str]] = {"loop": Counter(), "threads": Counter()}
        unattributed: Counter[str] = Counter()
        for tid, frames, count in read_raw(raw):
            step = attribute(frames, cache)
            groups["loop" if tid == pid else "threads"][step] += count
            if step == OTHER:
                unattributed[_short(frames[-1]) if frames else "(no Python frame)"] += count
            if not frames or not _ROOT.match(frames[0]):
                self.cut_short += count
        self.samples = {group: dict(counts) for group, counts in groups.items()}
        self.unattributed = dict(unattributed.most_common(10))
        cpu = {"loop": self.loop_us, "threads": max(0.0, self.server_us - self.loop_us)}
        self.step_us = dict.fromkeys(STEPS, 0.0)
        for group, counts in groups.items():
            total = sum(counts.values())
            if not total:
                self.step_us[OTHER] += cpu[group]  # CPU that no sample saw
                continue
            for step, n in counts.items():
                self.step_us[step] += n / total * cpu[group]

    def report(self, verbose: bool) -> str:
        total = sum(sum(c.values()) for c in self.samples.values())
        on_loop = sum(self.samples.get("loop", {}).values()) / total if total else 0.0
        cut = self.cut_short / total if total else 0.0
        lines = [
            f"{self.label}: {self.rate:,.0f} msg/s, server CPU {self.server_us:.1f} us/msg"
            f" (loop thread {self.loop_us:.1f}); {total} samples, {on_loop:.0%} on the loop"
            f" thread, {cut:.0%} cut short; py-spy dropped {self.dropped:.0%} of its sampling"
            f" instants; other load on the server core {self.other_load:.0%}, client core"
            f" use {self.client_cpu:.0%}; waited for the core per message: loop thread"
            f" {self.loop_wait_us:.1f} us, other threads {self.threads_wait_us:.1f} us"
        ]
        rows = []
        for step in STEPS:
            n = sum(c.get(step, 0) for c in self.samples.values())
            us = self.step_us.get(step, 0.0)
            if n or us >= 0.05:
                share = us / self.server_us if self.server_us else 0.0
                of = n / total if total else 0.0
                rows.append([step, str(n), f"{of:.1%}", f"{share:.1%}", f"{us:.1f}"])
        rows.append(["total", str(total), "100%", "100%", f"{self.server_us:.1f}"])
        lines.append(table(["step", "samples", "of samples", "share", "us/msg"], rows))
        if verbose and self.unattributed:
            lines.append("  unattributed samples by innermost frame:")
            lines += [f"    {n:6d}  {frame}" for frame, n in self.unattributed.items()]
        return "\n".join(lines)


class Server:
    """One server process pinned to ``core``, its stderr to a file in ``folder``;
    ``wrapper``: a command that runs it (a profiler's), its Python named."""

    def __init__(
        self,
        mode: str,
        app: str,
        core: int | None,
        folder: Path,
        wrapper: Sequence[str] = (),
        startup_s: float = 60.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if mode == "serve":  # as the suite's serve mode: pinned from its launch
            config = write_serve_folder(app, folder)
            script = [sys.executable, str(console_script())] if wrapper else [str(console_script())]
            command = [*wrapper, *script, "serve", "--config", config.name, "--port", "0"]
            self.log = folder / SERVE_LOG
            with open(self.log, "w") as err:
                self.proc = launch_as_user(command, folder, err, core, extra_env)
        else:  # bench.server pins itself once it listens
            kind = "baseline" if mode == "baseline" else "emulator"
            command = [*wrapper, sys.executable, "-m", "bench.server", "--kind", kind]
            command += ["--app", app] + (["--core", str(core)] if core is not None else [])
            self.log = folder / "server.log"
            with open(self.log, "w") as err:
                self.proc = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    env={**os.environ, **(extra_env or {})},
                )
        deadline = time.monotonic() + startup_s
        line = ""
        while not (line.isdigit() or "ws://" in line):  # a port, or serve's URL
            line = read_line(self.proc, max(0.1, deadline - time.monotonic()), mode, self.log)
        self.port = port_of(line.split()[-1])

    def stop(self, patience_s: float = 6.0) -> None:
        """SIGTERM (twice) and then SIGKILL, each given ``patience_s`` to end it."""
        proc = self.proc
        for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            # A SIGTERM can be lost when the loop's self-pipe is full: a second one.
            proc.send_signal(sig)
            try:
                proc.wait(timeout=patience_s)
            except subprocess.TimeoutExpired:
                continue
        if proc.stdout is not None:
            proc.stdout.close()


def waits_s(pid: int) -> tuple[float, float]:
    """Seconds the loop's thread, and all the other threads together, were
    runnable but waited for a core (the second field of schedstat)."""
    loop = others = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            waited = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # a thread that just ended
        if int(tid) == pid:
            loop = waited
        else:
            others += waited
    return loop, others


def py_spy() -> str:
    return str(installed_script("py-spy", "py-spy is not installed (pip install -e '.[bench]')"))


async def drive(run: Run, server: Server, args: argparse.Namespace, raw: Path) -> None:
    """Ping-pong from ``args.clients`` connections while py-spy samples the server."""
    pid = server.proc.pid
    frame = client.masked_frame(client.OP_TEXT, MESSAGE)
    protos, failures = await client.open_many(server.port, args.clients, concurrency=50)
    spy = None
    try:
        if failures:
            raise RuntimeError(f"could not connect: {dict(failures)}")
        await client.ping_pong(protos, frame, len(MESSAGE), 1 << 40, WARMUP_S, keep=False)
        command = [py_spy(), "record", "-p", str(pid), "--format", "raw", "-r", str(args.rate)]
        command += ["-d", str(args.seconds), "--threads", "-o", str(raw)]
        command += [] if args.blocking else ["--nonblocking"]
        spy = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        assert spy.stdout is not None
        said = b""
        async with asyncio.timeout(20):  # until it has attached
            while b"Sampling" not in said:
                line = await spy.stdout.readline()
                if not line:
                    raise RuntimeError(f"py-spy did not start: {said.decode(errors='replace')}")
                said += line
        core = args.server_core
        before = (client.proc_cpu_s(pid), client.proc_cpu_s(pid, pid), os.times(), waits_s(pid))
        busy0 = client.core_busy_s(core) if core is not None else float("nan")
        drivers, start = await client.ping_pong(
            protos, frame, len(MESSAGE), 1 << 40, args.seconds, keep=False
        )
        busy1 = client.core_busy_s(core) if core is not None else float("nan")
        after = (client.proc_cpu_s(pid), client.proc_cpu_s(pid, pid), os.times(), waits_s(pid))
        rest, _ = await asyncio.wait_for(spy.communicate(), args.seconds + 30)
        said += rest
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {said.decode(errors='replace')}")
        tally = re.search(rb"Samples: (\d+) Errors: (\d+)", said)
        if tally is not None:
            run.spy_samples, run.spy_errors = int(tally[1]), int(tally[2])
    finally:
        if spy is not None and spy.returncode is None:
            spy.kill()
            await spy.wait()
        await client.close_many(protos, 5.0)
    run.messages = sum(d.count for d in drivers)
    if not run.messages or any(d.errors for d in drivers):
        raise RuntimeError(f"{run.messages} messages, some not echoed as sent")
    run.elapsed_s = (max(d.finished for d in drivers) - start) / 1e9
    server_s, loop_s = after[0] - before[0], after[1] - before[1]
    run.server_us = server_s / run.messages * 1e6
    run.loop_us = min(loop_s, server_s) / run.messages * 1e6
    own = (after[2].user + after[2].system) - (before[2].user + before[2].system)
    run.client_cpu = own / run.elapsed_s
    run.loop_wait_us = (after[3][0] - before[3][0]) / run.messages * 1e6
    run.threads_wait_us = max(0.0, after[3][1] - before[3][1]) / run.messages * 1e6
    run.other_load = max(0.0, (busy1 - busy0 - server_s) / run.elapsed_s)


def measure(mode: str, app: str, args: argparse.Namespace, workdir: Path) -> Run:
    run = Run(mode, app)
    folder = workdir / f"{mode}-{app}"
    raw = folder / "py-spy.txt"
    server = Server(mode, app, args.server_core, folder)
    try:
        coroutine = drive(run, server, args, raw)
        if client.uvloop_available():
            import uvloop

            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
    finally:
        server.stop()
    if not raw.exists():
        raise RuntimeError("py-spy wrote no samples")
    run.attribute(raw, server.proc.pid)
    return run


def summary(runs: Sequence[Run]) -> str:
    """Microseconds per message, a column per run."""
    rows = []
    for step in STEPS:
        if any(run.step_us.get(step, 0.0) >= 0.05 for run in runs):
            rows.append([step, *(f"{run.step_us.get(step, 0.0):.1f}" for run in runs)])
    rows.append(["total (server CPU)", *(f"{run.server_us:.1f}" for run in runs)])
    rows.append(["msg/s", *(f"{run.rate:,.0f}" for run in runs)])
    rows.append(["loop thread waited", *(f"{run.loop_wait_us:.1f}" for run in runs)])
    rows.append(["other threads waited", *(f"{run.threads_wait_us:.1f}" for run in runs)])
    rows.append(["py-spy dropped", *(f"{run.dropped:.0%}" for run in runs)])
    rows.append(["other load, server core", *(f"{run.other_load:.0%}" for run in runs)])
    return table(["us per message", *(run.label for run in runs)], rows)


def add_run_options(parser: argparse.ArgumentParser, *, keep_help: str) -> None:
    """The options of a run of servers and ping-pong clients (this tool's, and
    ``bench.instructions``')."""
    parser.add_argument(
        "--mode", action="append", choices=MODES, help="repeatable; default: all three"
    )
    parser.add_argument("--app", action="append", choices=APPS, help="repeatable; default: all")
    parser.add_argument("--clients", type=int, default=50, help="ping-pong connections")
    parser.add_argument("--server-core", type=int, default=-1, help="default: first usable core")
    parser.add_argument("--client-core", type=int, default=-1, help="default: last usable core")
    parser.add_argument("--json", metavar="FILE", help="also write the runs as JSON here")
    parser.add_argument("--keep", action="store_true", help=keep_help)


def check_run_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a client count out of range; settle the cores (none on one core)."""
    if not 1 <= args.clients <= 1000:
        parser.error("--clients is between 1 and 1000")
    cores = sorted(os.sched_getaffinity(0))
    args.server_core = args.server_core if args.server_core >= 0 else cores[0]
    args.client_core = args.client_core if args.client_core >= 0 else cores[-1]
    if len(cores) < 2:
        args.server_core = args.client_core = None


def run_plan(args: argparse.Namespace) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The modes and apps asked for, and the (mode, app) runs they make, in
    order: the baseline once, with its own app."""
    modes = [m for m in MODES if m in (args.mode or MODES)]
    apps = [a for a in APPS if a in (args.app or APPS)]
    plan = list(dict.fromkeys((m, "echo" if m == "baseline" else a) for m in modes for a in apps))
    return modes, apps, plan


def run_each(
    plan: Sequence[tuple[str, str]],
    measure: Callable[[str, str], R],
    report: Callable[[R, float], None],
) -> tuple[list[R], list[str]]:
    """Each run of ``plan`` measured and reported (with its seconds); one that
    fails is named, and the others still run."""
    results: list[R] = []
    failed: list[str] = []
    for mode, app in plan:
        started = time.monotonic()
        try:
            result = measure(mode, app)
        except Exception as exc:  # noqa: BLE001 - one broken run must not hide the others
            failed.append(f"{mode} {app}")
            print(f"\nERROR {mode} {app}: {type(exc).__name__}: {exc}", flush=True)
            continue
        results.append(result)
        report(result, time.monotonic() - started)
    return results, failed


def leave_workdir(workdir: Path, failed: Sequence[str], keep: bool, what: str) -> None:
    """Keep ``workdir`` (``what`` it holds) after a failed run or with --keep;
    else remove it."""
    if failed:
        print(f"\nfailed: {', '.join(failed)}; {what} kept in {workdir}")
    elif keep:
        print(f"\n{what} kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.breakdown",
        description="Server CPU per message, step by step, from py-spy's samples.",
    )
    add_run_options(parser, keep_help="keep server logs and raw samples")
    parser.add_argument("--seconds", type=int, default=8, help="sampled seconds per run")
    parser.add_argument("--rate", type=int, default=250, help="py-spy's samples per second")
    parser.add_argument(
        "--blocking",
        action="store_true",
        help="let py-spy pause the server for each sample (nothing dropped; a slower server,"
        " much slower with sync handlers' threads)",
    )
    parser.add_argument("--verbose", action="store_true", help="the top unattributed frames")
    args = parser.parse_args(argv)
    check_run_options(parser, args)
    if not 1 <= args.seconds <= 120:
        parser.error("--seconds is between 1 and 120")
    if not 1 <= args.rate <= 1000:
        parser.error("--rate is between 1 and 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client.raise_nofile()
    if args.client_core is not None:
        os.sched_setaffinity(0, {args.client_core})  # py-spy inherits it
    modes, apps, plan = run_plan(args)
    machine = {
        "cpu_model": cpu_model() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "server_core": args.server_core,
        "client_core": args.client_core,
        "load_average_at_start": os.getloadavg(),
    }
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"per-message breakdown: {args.clients} clients, {args.seconds} s sampled per run,"
        f" py-spy at {args.rate}/s{' (blocking)' if args.blocking else ''};"
        f" {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']};"
        f" server core {args.server_core}, client core {args.client_core}; load average {load}",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="apigw-ws-breakdown-"))
    runs, failed = run_each(
        plan,
        lambda mode, app: measure(mode, app, args, workdir),
        lambda run, _: print("\n" + run.report(args.verbose), flush=True),
    )
    machine["load_average_at_end"] = os.getloadavg()
    if runs:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average at the end {load}")
        print(summary(runs))
    leave_workdir(workdir, failed, args.keep, "server logs and samples (py-spy's raw format)")
    if args.json:
        document = {
            "machine": machine,
            "settings": {
                **{k: v for k, v in vars(args).items() if k not in ("json", "keep")},
                "mode": modes,
                "app": apps,
            },
            "runs": [{"label": run.label, "rate": run.rate, **asdict(run)} for run in runs],
            "failed": failed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
        print(f"JSON written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
