"""Instructions per message: the server's own work, counted rather than timed.

    python -m bench.instructions [--mode baseline|embedded|serve ...] [--app APP ...]
                                 [--clients 50] [--messages 60] [--json FILE]

Each server starts as :mod:`bench.breakdown` starts it (``serve``: the console
script in a folder of its own, its log to ``serve.log`` there), under
valgrind's callgrind with instrumentation off. From the client core,
``--clients`` connections ping-pong the suite's message to warm it up; then
instrumentation is switched on (``callgrind_control``) for ``--messages``
round trips per connection, off again, and the counters dumped. The ratio is
the baseline's instructions per message divided by the server's, read as the
suite's ratios are: 1.00 is parity, higher is better.

A count does not depend on what else the machine runs, so two runs of the same
code agree to within about 1% where a timed run on a shared machine can move by
a third: this is the measure to compare a change with. It counts user-space
instructions of every thread of the server; not the kernel's (the socket's
reads and writes, the same for every server here), nor cache misses, nor the
wake-ups a sync handler's thread hand-off costs. The throughput ratios of
``python -m bench`` are what the targets are about; on this project's servers
the two have agreed to within a few hundredths.

Needs valgrind (``apt install valgrind``); a server runs about fifty times
slower under it, so a run takes a minute or two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import client
from bench.breakdown import (
    Server,
    add_run_options,
    check_run_options,
    leave_workdir,
    run_each,
    run_plan,
)
from bench.stats import table
from bench.suite import MESSAGE, cpu_model

WARMUP = 40  # round trips per connection before counting: Python specializes hot code
# --stand-in: a sitecustomize module on the emulator server's PYTHONPATH.
STANDINS = Path(__file__).resolve().parent / "standins"
STAND_IN_NAMES = (
    "wire",
    "entry",
    "log",
    "invocation",
    "handler",
    "selection",
    "event",
    "send",
    "result",
    "gc",
)
STARTUP_S = 300.0  # imports under valgrind are slow
_TOTAL = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


@dataclass
class Count:
    mode: str
    app: str
    messages: int = 0
    instructions: int = 0
    stand_ins: str = ""  # the parts replaced, comma-separated

    @property
    def label(self) -> str:
        if self.mode == "baseline":
            return "baseline echo"
        without = f" (stand-ins: {self.stand_ins})" if self.stand_ins else ""
        return f"{self.mode} {self.app}{without}"

    @property
    def per_message(self) -> float:
        return self.instructions / self.messages if self.messages else 0.0


def total_instructions(dump: str) -> int:
    """The instructions a callgrind output file counted (its ``totals:`` line;
    a dump's ``summary:`` line is left at 0)."""
    found = _TOTAL.search(dump)
    if found is None:
        raise RuntimeError("callgrind's output has no totals line")
    return int(found[1])


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: this measure needs valgrind")
    return found


def _control(pid: int, *what: str) -> None:
    """Tell the callgrind running ``pid`` to do ``what``; it answers once done."""
    done = subprocess.run(
        [tool("callgrind_control"), *what, str(pid)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or "Error" in done.stdout:
        raise RuntimeError(f"callgrind_control {' '.join(what)} failed: {done.stdout}{done.stderr}")


async def drive(count: Count, server: Server, args: argparse.Namespace) -> None:
    pid = server.proc.pid
    frame = client.masked_frame(client.OP_TEXT, MESSAGE)
    protos, failures = await client.open_many(server.port, args.clients, concurrency=10, timeout=60)
    try:
        if failures:
            raise RuntimeError(f"could not connect: {dict(failures)}")
        await client.ping_pong(protos, frame, len(MESSAGE), WARMUP, 600.0, keep=False)
        await asyncio.to_thread(_control, pid, "--instr=on")
        drivers, _ = await client.ping_pong(
            protos, frame, len(MESSAGE), args.messages, 1800.0, keep=False
        )
        await asyncio.to_thread(_control, pid, "--instr=off")
        await asyncio.to_thread(_control, pid, "--dump=messages")
    finally:
        await client.close_many(protos, 30.0)
    count.messages = sum(d.count for d in drivers)
    if count.messages != args.clients * args.messages or any(d.errors for d in drivers):
        raise RuntimeError(f"{count.messages} messages, some not echoed as sent")


def measure(mode: str, app: str, args: argparse.Namespace, workdir: Path) -> Count:
    stand_ins = args.stand_in if mode != "baseline" else None
    count = Count(mode, app, stand_ins=",".join(stand_ins or ()))
    folder = workdir / f"{mode}-{app}"
    output = folder / "callgrind.out"
    wrapper = [
        tool("valgrind"),
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={output}",
    ]
    extra_env = (
        {
            "PYTHONPATH": os.pathsep.join([str(STANDINS), os.environ.get("PYTHONPATH", "")]),
            "APIGW_BENCH_STANDINS": ",".join(stand_ins),
        }
        if stand_ins
        else None
    )
    server = Server(
        mode, app, args.server_core, folder, wrapper, startup_s=STARTUP_S, extra_env=extra_env
    )
    try:
        coroutine = drive(count, server, args)
        if client.uvloop_available():
            import uvloop

            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
    finally:
        server.stop(patience_s=120.0)  # valgrind ends slowly, and writes on its way out
    # The dump asked for is the first numbered one: callgrind.out.1.
    dumps = sorted(folder.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump in {folder}")
    count.instructions = total_instructions(dumps[0].read_text(errors="replace"))
    return count


def summary(counts: Sequence[Count]) -> str:
    baseline = next((c for c in counts if c.mode == "baseline"), None)
    rows = []
    for count in counts:
        ratio = (
            f"{baseline.per_message / count.per_message:.2f}"
            if baseline is not None and count.per_message
            else "-"
        )
        rows.append([count.label, f"{count.messages:,}", f"{count.per_message / 1000:.1f}k", ratio])
    return table(["server", "messages counted", "instructions/msg", "ratio"], rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per message of each server, counted under callgrind.",
    )
    add_run_options(parser, keep_help="keep server logs and callgrind's dumps")
    parser.add_argument(
        "--messages", type=int, default=60, help="counted round trips per connection"
    )
    parser.add_argument(
        "--stand-in",
        action="append",
        choices=STAND_IN_NAMES,
        help="repeatable: replace this part of the emulator's per-message path with a"
        " stand-in that does none of its work (bench/standins/sitecustomize.py); the"
        " drop in the count is what the part costs",
    )
    args = parser.parse_args(argv)
    check_run_options(parser, args)
    if not 1 <= args.messages <= 10_000:
        parser.error("--messages is between 1 and 10000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tool("valgrind")
        tool("callgrind_control")
    except RuntimeError as exc:
        print(f"error: {exc} (apt install valgrind)", file=sys.stderr)
        return 1
    client.raise_nofile()
    if args.client_core is not None:
        os.sched_setaffinity(0, {args.client_core})
    _, _, plan = run_plan(args)
    version = subprocess.run(
        [tool("valgrind"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"instructions per message: {args.clients} clients, {args.messages} counted round trips"
        f" each; {version}; {cpu_model() or platform.machine()}, Python"
        f" {platform.python_version()}",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="apigw-ws-instructions-"))
    counts, failed = run_each(
        plan,
        lambda mode, app: measure(mode, app, args, workdir),
        lambda count, seconds: print(
            f"  {count.label}: {count.per_message / 1000:.1f}k instructions per message"
            f" ({seconds:.0f} s)",
            flush=True,
        ),
    )
    if counts:
        print(summary(counts))
    leave_workdir(workdir, failed, args.keep, "server logs and callgrind's dumps")
    if args.json:
        document = {
            "python": platform.python_version(),
            "valgrind": version,
            "settings": {"clients": args.clients, "messages": args.messages},
            "counts": [{**asdict(c), "per_message": c.per_message} for c in counts],
            "failed": failed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
        print(f"JSON written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
