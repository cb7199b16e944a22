"""The worker pool and the loop's inbox from handler threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from emulator.runtime.workers import LoopInbox, WorkerPool


async def test_a_burst_of_calls_from_a_thread_runs_in_order_with_few_wake_ups() -> None:
    loop = asyncio.get_running_loop()
    inbox = LoopInbox(loop)
    wake_ups = 0
    real = loop.call_soon_threadsafe

    def counting(callback, *args, **options):  # type: ignore[no-untyped-def]
        nonlocal wake_ups
        wake_ups += 1
        return real(callback, *args, **options)

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
    from emulator.tools.testing import Harness
    from tests.conftest import HANDLERS

    async def echo_once() -> str:
        routes = {"routes": {"$default": {"handler": handler, "routeResponse": True}}}
        async with Harness.from_config(routes, base_dir=HANDLERS) as api:
            client = await api.connect()
            await client.send_text("on uvloop")
            return await client.receive_text()

    assert uvloop.run(echo_once()) == "on uvloop"


def test_threads_beyond_the_core_retire_when_idle() -> None:
    checks: list[Callable[[], None]] = []
    pool = WorkerPool(
        16,
        core_threads=1,
        retire_after_s=0.05,
        schedule=lambda _delay, check: checks.append(check),
    )
    release = threading.Event()
    try:
        for _ in range(4):  # four blocked jobs: the growth check starts three more
            pool.submit(lambda: release.wait(5) and None)
        for check in checks:
            check()
        assert pool.threads == 4
        release.set()
        # Idle beyond the core, they end after retire_after_s.
        deadline = time.monotonic() + 5
        while pool.threads > 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting on the threads' own idle timeout, bounded
        assert pool.threads == 1
    finally:
        release.set()
        pool.shutdown()
