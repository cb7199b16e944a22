"""The worker pool and the loop's inbox from handler threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from emulator.workers import LoopInbox, WorkerPool


async def test_a_burst_of_calls_from_a_thread_runs_in_order_with_few_wake_ups() -> None:
    loop = asyncio.get_running_loop()
    inbox = LoopInbox(loop)
    wake_ups = 0
    real = loop.call_soon_threadsafe

    def counting(callback, *args):  # type: ignore[no-untyped-def]
        nonlocal wake_ups
        wake_ups += 1
        return real(callback, *args)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    seen: list[int] = []
    done = asyncio.Event()

    def produce() -> None:
        for n in range(10_000):
            inbox.put(seen.append, n)
        inbox.put(done.set)

    try:
        threading.Thread(target=produce).start()
        await asyncio.wait_for(done.wait(), 10)
    finally:
        del loop.call_soon_threadsafe
    assert seen == list(range(10_000))
    # One byte down the self-pipe per call would fill it (and lose signals);
    # a wake-up per batch does not.
    assert wake_ups < 1_000


def test_the_pool_starts_a_thread_only_when_none_is_idle() -> None:
    pool = WorkerPool(max_threads=8)
    release = threading.Event()
    started = threading.Barrier(4)

    def job() -> None:
        started.wait(5)
        release.wait(5)

    try:
        for _ in range(3):
            pool.submit(job)
        started.wait(5)  # three blocked jobs: three threads
        assert pool.threads == 3
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.parametrize("handler", ["probe.echo", "probe.async_echo"], ids=["sync", "async"])
def test_the_emulator_runs_on_uvloop(handler: str) -> None:
    """uvloop's transports are not asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")
    from emulator.testing import Harness
    from tests.conftest import HANDLERS

    async def echo_once() -> str:
        routes = {"routes": {"$default": {"handler": handler, "routeResponse": True}}}
        async with Harness.from_config(routes, base_dir=HANDLERS) as api:
            client = await api.connect()
            await client.send_text("on uvloop")
            return await client.receive_text()

    assert uvloop.run(echo_once()) == "on uvloop"
