"""Parts of the bench's tools that run without their minutes of load.

bench.instructions runs servers under valgrind for minutes (``python -m
bench.instructions``); here, what it makes of callgrind's output, and that a
machine without valgrind gets an error that says so rather than a traceback.
bench.mock_aws's in-process measure runs a few calls. The stand-ins
``--stand-in`` puts into a server replace what they say they replace. The
bare servers that bound the message rows answer as the bare echo does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from bench import instructions
from bench.instructions import Count, summary, total_instructions
from bench.suite import MESSAGE, ROOT

# The head and tail of a dump asked for with `callgrind_control --dump`: its
# summary line stays 0, the totals line has the count.
DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 14933
desc: Trigger: dump messages

positions: line
events: Ir
summary: 0


ob=(11) /usr/lib/python3.11/lib-dynload/binascii.so
+5 138
totals: 628043167
"""


def test_the_count_is_the_totals_line_not_the_summary() -> None:
    assert total_instructions(DUMP) == 628043167


def test_a_dump_without_totals_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no totals line"):
        total_instructions(DUMP.replace("totals:", "total"))


def test_ratios_are_the_baselines_instructions_over_each_servers() -> None:
    counts = [
        Count("baseline", "echo", messages=3000, instructions=345_000_000),
        Count("serve", "echo_async", messages=3000, instructions=628_000_000),
    ]
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]] for line in summary(counts).splitlines()
    ]
    assert rows[2] == ["baseline echo", "3,000", "115.0k", "1.00"]
    assert rows[3] == ["serve echo_async", "3,000", "209.3k", "0.55"]


def test_without_valgrind_it_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert instructions.main(["--mode", "baseline"]) == 1
    assert "valgrind is not installed" in capsys.readouterr().err


def test_mock_aws_measures_calls_from_a_functions_sandbox() -> None:
    """bench.mock_aws's in-process measure: boto3 calls from a thread in a
    function's environment, answered by the mocked table."""
    from bench.mock_aws import calls_per_s

    assert calls_per_s(3, None) > 0


def _run_with_stand_ins(names: str, code: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(instructions.STANDINS),
        "APIGW_BENCH_STANDINS": names,
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )


def test_the_stand_in_names_are_the_modules() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_standins", instructions.STANDINS / "sitecustomize.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # APIGW_BENCH_STANDINS unset here: nothing replaced
    assert tuple(module.STAND_INS) == instructions.STAND_IN_NAMES
    assert instructions.parse_args(["--stand-in", "log", "--stand-in", "gc"]).stand_in == [
        "log",
        "gc",
    ]


def test_each_stand_in_replaces_its_part() -> None:
    code = """
import gc
from emulator.app import Emulator
from emulator.gateway import pipeline
from emulator.gateway.integrations import lambda_proxy
from emulator.gateway.lifecycle import Lifecycle
from emulator.gateway.selection import RouteSelector
from emulator.runtime.invoke import Invoker
replaced = {
    "wire": Emulator.handle_message.__module__,
    "entry": pipeline.Pipeline.message.__module__,
    "log": pipeline.log_frame.__module__,
    "invocation": Invoker.start.__module__,
    "selection": RouteSelector.select.__module__,
    "event": pipeline.message_event.__module__,
    "send": Lifecycle.send.__module__,
    "result": lambda_proxy.proxy_outcome.__module__,
}
print(sorted(name for name, module in replaced.items() if module == "sitecustomize"))
print(gc.isenabled())
"""
    everything = ",".join(name for name in instructions.STAND_IN_NAMES if name != "handler")
    done = _run_with_stand_ins(everything, code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "['entry', 'event', 'invocation', 'log', 'result', 'selection', 'send', 'wire']",
        "False",
    ]
    none = _run_with_stand_ins("", code)
    assert none.stdout.splitlines() == ["[]", "True"]
    handler = _run_with_stand_ins("handler", code)
    assert handler.stdout.splitlines() == ["['invocation']", "True"]


def test_an_unknown_stand_in_is_an_error() -> None:
    done = _run_with_stand_ins("log,logs", "pass")
    assert done.returncode != 0
    assert "no stand-in 'logs'" in done.stderr
    with pytest.raises(SystemExit):
        instructions.parse_args(["--stand-in", "logs"])


@pytest.mark.parametrize("app", ["echo_thread", "echo_boto3"])
async def test_a_bound_server_echoes_each_message(app: str) -> None:
    """Through its worker thread, or after botocore's post_to_connection: a
    call botocore refused (a malformed answer at before-call) would end the
    connection with 1011 instead of a reply."""
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.server", "--kind", "baseline", "--app", app),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(await asyncio.wait_for(server.stdout.readline(), 30))
        async with connect(f"ws://127.0.0.1:{port}", open_timeout=10) as ws:
            for seq in range(3):
                message = MESSAGE.decode().replace("12345", str(seq))
                await ws.send(message)
                assert await ws.recv(decode=True) == message
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
