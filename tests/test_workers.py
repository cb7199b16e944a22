"""The worker pool and the loop's inbox from handler threads."""

from __future__ import annotations

import asyncio
import contextvars
import queue
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


async def test_a_call_runs_in_the_loops_context_and_waits_its_turn_inside_the_inbox() -> None:
    """An async handler's task reports its end with ``call``: in the loop's
    context, not the handler's; and, from inside a call the inbox is running
    (a task started eagerly there), on the loop's next turn, not by entering
    that context twice."""
    inbox = LoopInbox(asyncio.get_running_loop())
    where = contextvars.ContextVar("where", default="loop")
    seen: list[tuple[str, str]] = []
    done = asyncio.Event()

    def innermost() -> None:
        seen.append(("innermost", where.get()))
        done.set()

    def inner() -> None:
        inbox.call(innermost)  # inside a call that waited its turn: waits again
        seen.append(("inner", where.get()))

    def outer() -> None:
        inbox.call(inner)
        seen.append(("outer", where.get()))

    def from_a_handler() -> None:
        where.set("handler")
        inbox.call(seen.append, ("direct", where.get()))
        inbox.call(lambda: seen.append(("direct", where.get())))
        inbox.put(outer)

    contextvars.copy_context().run(from_a_handler)
    await asyncio.wait_for(done.wait(), 10)
    assert seen == [
        ("direct", "handler"),  # the argument, worked out in the handler's context
        ("direct", "loop"),
        ("outer", "loop"),
        ("inner", "loop"),
        ("innermost", "loop"),
    ]


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


class _CountedWake:
    """The pool's wake-up queue, telling how many workers wait on it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self.waiting = 0

    def put(self, item: bool | None) -> None:
        self._queue.put(item)

    def get(self, timeout: float | None = None) -> bool | None:
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        try:
            return self._queue.get(timeout=timeout)
        finally:
            with self._changed:
                self.waiting -= 1

    def until_waiting(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.waiting == count, 5)


def _idle_pool(workers: int, checks: list[Callable[[], None]]) -> WorkerPool:
    """A pool whose ``workers`` threads are started and idle, waiting for a wake-up."""
    pool = WorkerPool(
        16, core_threads=workers, grow_after_s=0.0, schedule=lambda _d, c: checks.append(c)
    )
    wake = _CountedWake()
    pool._wake = wake  # type: ignore[assignment]
    started = threading.Barrier(workers + 1)
    for _ in range(workers):
        pool.submit(lambda: started.wait(5) and None)
    started.wait(5)
    wake.until_waiting(workers)
    while checks:  # the start-up's growth checks, due now: nothing waits any more
        checks.pop()()
    return pool


class _Blocking:
    """A job that holds its worker until released."""

    def __init__(self) -> None:
        self.blocked = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.blocked.set()
        self.release.wait(5)


def test_a_batch_wakes_one_idle_worker_which_runs_it_in_order() -> None:
    checks: list[Callable[[], None]] = []
    pool = _idle_pool(2, checks)
    ran: list[tuple[int, int]] = []
    done = threading.Event()
    try:
        jobs = [lambda n=n: ran.append((n, threading.get_ident())) for n in range(20)]
        pool.submit_many([*jobs, done.set])
        assert done.wait(5)
        assert [n for n, _ in ran] == list(range(20))
        assert len({thread for _, thread in ran}) == 1  # one wake-up, one worker
        assert pool.threads == 2
    finally:
        pool.shutdown()


def test_a_job_behind_a_blocked_one_in_its_batch_gets_another_worker() -> None:
    """One handler blocking must not hold up the next one of the same batch:
    the growth check wakes the idle worker (Lambda runs both at once)."""
    checks: list[Callable[[], None]] = []
    pool = _idle_pool(2, checks)
    blocks = _Blocking()
    second_ran = threading.Event()
    try:
        pool.submit_many([blocks, second_ran.set])
        assert blocks.blocked.wait(5)
        assert not second_ran.is_set()  # it waits behind the blocked job, for now
        assert checks, "a growth check is due while jobs wait"
        checks.pop()()  # the loop's call_later, due now
        assert second_ran.wait(5)
        assert pool.threads == 2  # the idle worker took it: no new thread
    finally:
        blocks.release.set()
        pool.shutdown()


def test_a_shutdown_wakes_idle_workers_for_what_is_still_queued() -> None:
    checks: list[Callable[[], None]] = []
    pool = _idle_pool(2, checks)
    blocks = _Blocking()
    second_ran = threading.Event()
    try:
        pool.submit_many([blocks, second_ran.set])
        assert blocks.blocked.wait(5)
        pool.shutdown()  # the emulator stopping, or moving to another loop
        assert second_ran.wait(5)  # run beside the blocked job, not after it
    finally:
        blocks.release.set()
