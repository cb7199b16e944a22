"""Runaway handlers cannot take the API down (nor the process), and say who they are.

Lambda runs each invocation in a sandbox of its own, within an account's
concurrency limit; the emulator runs them all in one process. So: past the
limit an invocation is throttled as Lambda throttles it; an invocation past
its timeout frees its slot and its thread is replaced, the log showing where
it is stuck; ``$connect`` and ``$disconnect`` still run while message handlers
hang; a handler's ``os._exit`` fails its invocation, not the emulator; and an
``async def`` handler that blocks the event loop is named in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from emulator.tools.testing import Harness
from tests.conftest import HANDLERS, handler_module

runaway_gate = handler_module("runaway_gate")

HOLDS = {"function": "holder"}
FUNCTIONS: dict[str, Any] = {
    "holder": {"handler": "runaway_probe.holds", "timeout": 30},
    "hanger": {"handler": "runaway_probe.hangs", "timeout": 1},
    "echo": {"handler": "runaway_probe.echo"},
    "exiter": {"handler": "runaway_probe.exits"},
    "blocker": {"handler": "runaway_probe.blocks_the_loop"},
    "invoker": {"handler": "runaway_probe.invokes", "timeout": 10},
}


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


@pytest.fixture
def gate() -> Iterator[None]:
    runaway_gate.gate.clear()
    try:
        yield
    finally:
        runaway_gate.gate.set()


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    started: list[Harness] = []

    async def start(routes: dict[str, Any], **limits: Any) -> Harness:
        config = {"functions": FUNCTIONS, "routes": routes, "limits": limits}
        harness = Harness.from_config(config, base_dir=HANDLERS)
        await harness.__aenter__()
        started.append(harness)
        return harness

    yield start
    runaway_gate.gate.set()
    for harness in started:
        await harness.stop()


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# Lambda's concurrency limit


async def test_past_the_concurrency_limit_invocations_are_throttled(
    serve: Any, gate: None, caplog: pytest.LogCaptureFixture
) -> None:
    api = await serve(
        {
            "$connect": {"function": "echo"},
            "hold": {**HOLDS, "routeResponse": True},
            "$default": {"function": "echo", "routeResponse": True},
        },
        concurrency=3,
    )
    client = await api.connect()
    for _ in range(3):
        await client.send_json({"action": "hold"})
    assert [await client.receive_text() for _ in range(3)] == ["held"] * 3
    # A fourth invocation: API Gateway answers a throttled Lambda as any failure.
    await client.send_text("still there?")
    frame = json.loads(await client.receive_text())
    assert frame["message"] == "Internal server error"
    assert any("throttled: 3 invocations are running" in line for line in errors(caplog))
    # $connect too: the upgrade is refused with 502.
    assert await api.connect_rejected() == 502
    # Once they end, there is room again.
    runaway_gate.gate.set()
    assert [await client.receive_text() for _ in range(3)] == ["released"] * 3
    await client.send_text("room again")
    assert await client.receive_text() == "room again"


async def test_the_lambda_api_answers_a_throttle_with_429(serve: Any, gate: None) -> None:
    api = await serve(
        {
            "hold": {**HOLDS, "routeResponse": True},
            "invoke": {"function": "invoker", "routeResponse": True},
        },
        concurrency=2,
    )
    client = await api.connect()
    await client.send_json({"action": "hold"})
    assert await client.receive_text() == "held"
    # The invoker is the second invocation running; the one it asks for, a third.
    await client.send_json({"action": "invoke", "function": "echo"})
    assert json.loads(await client.receive_text()) == {
        "error": "TooManyRequestsException",
        "reason": "ConcurrentInvocationLimitExceeded",
    }


# A handler past its timeout


async def test_a_timed_out_invocation_frees_its_slot_and_says_where_it_is_stuck(
    serve: Any, gate: None, caplog: pytest.LogCaptureFixture
) -> None:
    api = await serve(
        {
            "hang": {"function": "hanger", "routeResponse": True},
            "$default": {"function": "echo", "routeResponse": True},
        },
        concurrency=1,
    )
    client = await api.connect()
    await client.send_json({"action": "hang"})
    frame = json.loads(await client.receive_text())
    assert frame["message"] == "Internal server error"  # Task timed out after 1.00 seconds
    # Its thread still hangs, but the slot is free: the limit of 1 lets this one run.
    await client.send_text("next")
    assert await client.receive_text() == "next"
    [stuck] = [line for line in errors(caplog) if "still runs past its timeout" in line]
    assert stuck.startswith("runaway_probe.hangs (hanger) still runs past its timeout")
    assert 'runaway_probe.py", line' in stuck
    assert "in hangs" in stuck
    assert "gate.wait(GATE_TIMEOUT)" in stuck


async def test_hung_handlers_do_not_take_the_api_down(
    serve: Any, gate: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Many more hung threads than the pool ever had: new clients still connect,
    their messages are routed, and closes still run $disconnect."""
    hung = 520
    api = await serve(
        {
            "$connect": {"function": "echo"},
            "$disconnect": {"function": "echo"},
            "hang": {"function": "hanger", "routeResponse": True},
            "$default": {"function": "echo", "routeResponse": True},
        },
    )
    client = await api.connect()
    for _ in range(hung):
        await client.send_json({"action": "hang"})
    answers = [json.loads(await client.receive_text(timeout=30)) for _ in range(hung)]
    assert {answer["message"] for answer in answers} == {"Internal server error"}
    others = [await api.connect() for _ in range(5)]
    for other in others:
        await other.send_text("hello")
        assert await other.receive_text() == "hello"
        await other.close()
    disconnects = await api.record.wait_for_invocations("$disconnect", 5)
    assert {d.outcome for d in disconnects} == {"ok"}


async def test_connect_and_disconnect_run_while_message_handlers_hang(
    serve: Any, gate: None
) -> None:
    api = await serve(
        {
            "$connect": {"function": "echo"},
            "$disconnect": {"function": "echo"},
            "hold": {**HOLDS, "routeResponse": True},
        },
    )
    client = await api.connect()
    for _ in range(50):
        await client.send_json({"action": "hold"})
    assert [await client.receive_text() for _ in range(50)] == ["held"] * 50
    other = await api.connect()
    await other.close()
    [disconnect] = await api.record.wait_for_invocations("$disconnect")
    assert disconnect.event["requestContext"]["connectionId"] == other.connection_id


# os._exit and a blocked event loop


async def test_os_exit_in_a_handler_fails_its_invocation_not_the_emulator(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = await serve(
        {
            "exit": {"function": "exiter", "routeResponse": True},
            "$default": {"function": "echo", "routeResponse": True},
        }
    )
    client = await api.connect()
    await client.send_json({"action": "exit"})
    [invocation] = await api.record.wait_for_invocations("exit")
    request_id = invocation.event["requestContext"]["requestId"]
    assert await client.receive_text() == error_frame(
        "Internal server error", client.connection_id, request_id
    )
    [said] = [line for line in errors(caplog) if "os._exit" in line]
    assert said.startswith("function exiter called os._exit(7) at ")
    assert "runaway_probe.py:" in said
    assert "in exits" in said
    # The runtime's line, as Lambda writes it for an exit.
    written = [r.getMessage() for r in caplog.records if r.name == "emulator.handler"]
    assert any("Runtime exited with error: exit status 7" in line for line in written)
    await client.send_text("still serving")
    assert await client.receive_text() == "still serving"


async def test_an_async_handler_that_blocks_the_loop_is_named(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = await serve({"block": {"function": "blocker", "routeResponse": True}})
    client = await api.connect()
    await client.send_json({"action": "block"})
    assert await client.receive_text() == "unblocked"
    await asyncio.sleep(0)  # the loop's next turn: its beat says for how long
    said = [line for line in errors(caplog) if "event loop" in line]
    assert said[0].startswith(
        "async def runaway_probe.blocks_the_loop (blocker) is blocking the event loop"
    )
    assert "runaway_probe.py:" in said[0]
    assert "in blocks_the_loop" in said[0]
    assert "Blocking code belongs in a def handler" in said[0]


def test_a_deadline_timer_that_fires_early_does_not_expire_the_invocation() -> None:
    """uvloop's timers go by a millisecond clock and can fire a fraction of one
    early: an invocation is never timed out before its duration has passed."""
    from emulator.runtime.invoke import _Deadlines

    class Loop:
        def __init__(self) -> None:
            self.timers: list[tuple[float, Any]] = []

        def call_later(self, delay: float, callback: Any) -> None:
            self.timers.append((delay, callback))

    class Pending:
        over = False

    loop = Loop()
    expired: list[Any] = []
    deadlines = _Deadlines(loop, 0.1, expired.append)  # type: ignore[arg-type]
    pending = Pending()
    deadlines.add(pending)  # type: ignore[arg-type]
    ((delay, fire),) = loop.timers
    assert delay == 0.1
    fire()  # at once: well before 0.1 s
    assert expired == []
    assert 0 < loop.timers[-1][0] <= 0.1  # armed again for what is left
