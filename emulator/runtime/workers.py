"""An elastic pool of daemon threads for sync handlers.

Not ``asyncio.to_thread``: the default executor has a few threads, and a few
hanging handlers would starve every other invocation. Here a thread is started
whenever no worker is idle (up to ``max_threads``), so a blocked handler costs
one thread, not everyone's progress. The threads are daemons: a handler
blocked forever cannot keep the process from exiting after a clean shutdown.

Submitting is one lock and one queue put, because it sits on the per-message
path; results travel back however the job itself decides (the invoker uses
``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

__all__ = ["LoopInbox", "WorkerPool"]

logger = logging.getLogger("emulator")

Job = Callable[[], None]


class WorkerPool:
    """Worker threads for sync handlers: a few at once, more when jobs wait.

    Each running thread costs every other one GIL hand-offs, so a burst of
    fast handlers is best served by few threads; a handler that blocks must
    still not hold up the rest. So up to ``core_threads`` start at once, and
    beyond them a thread starts only when jobs wait and no worker has taken
    one for ``grow_after_s`` (checked through ``schedule``, the event loop's
    ``call_later``): workers that keep taking jobs are busy, not stuck, and
    more threads would only contend for the GIL; workers that stopped taking
    them are blocked (or waiting on I/O), and then more threads help. Threads
    beyond the core that stay idle for ``retire_after_s`` end. Without a
    ``schedule``, a thread starts whenever no worker is free.

    Jobs wait in one queue that every worker takes from, one job at a time;
    a batch (:meth:`submit_many`) wakes one idle worker, not one per job: a
    woken worker runs the jobs one after another while the loop goes on, and
    each wake-up is a thread switch on a busy core. The growth check wakes
    the other idle workers, and then starts threads, when jobs wait and no
    worker took one for ``grow_after_s``.
    """

    def __init__(
        self,
        max_threads: int = 512,
        name: str = "lambda",
        *,
        core_threads: int = 2,
        grow_after_s: float = 0.005,
        retire_after_s: float = 30.0,
        schedule: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self._max_threads = max_threads
        self._core_threads = core_threads
        self._grow_after_s = grow_after_s
        self._retire_after_s = retire_after_s
        self._schedule = schedule
        self._name = name
        self._jobs: collections.deque[Job] = collections.deque()
        # One item per wake-up of an idle worker.
        self._wake: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # All under the lock: threads alive, workers waiting for a wake-up, and
        # wake-ups on their way to them. An idle worker is free when idle > woken.
        self._threads = 0
        self._idle = 0
        self._woken = 0
        self._check_pending = False
        self._closed = False
        self._last_taken = 0.0  # monotonic time a worker last took a job
        # Workers given up on (their job outlived its function's timeout): not
        # counted any more, and they end when their job does.
        self._abandoned: set[int] = set()

    @property
    def threads(self) -> int:
        return self._threads

    def abandon(self, thread_id: int) -> None:
        """Stop counting the worker ``thread_id``, stuck in its job: a new one
        may take its place, and it ends when its job does (callable from any thread)."""
        with self._lock:
            if thread_id in self._abandoned:
                return
            self._abandoned.add(thread_id)
            self._threads -= 1
            lacking = bool(self._jobs) and self._idle <= self._woken and not self._closed
            if lacking:
                self._threads += 1
        if lacking:
            self._start_thread()

    def submit(self, job: Job) -> None:
        """Run ``job`` on a worker thread. It must not raise."""
        self.submit_many((job,))

    def submit_many(self, jobs: Collection[Job]) -> None:
        """Run ``jobs`` on worker threads, in order of taking; none may raise."""
        start = wake = check = 0
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            self._jobs.extend(jobs)
            if self._idle > self._woken:
                self._woken += 1  # a free worker takes them, one after another
                wake = 1
            elif self._threads < self._core_threads:
                self._threads += 1
                start = 1
            elif self._schedule is None:
                # No loop to check on them: a thread per job no worker is free for.
                start = min(len(jobs), self._max_threads - self._threads)
                self._threads += start
            if self._schedule is not None and not self._check_pending and len(self._jobs) > wake:
                # Jobs wait for workers that are busy, maybe blocked: look again soon.
                self._check_pending = check = True
        if wake:
            self._wake.put(True)
        for _ in range(start):
            self._start_thread()
        if check:
            assert self._schedule is not None
            self._schedule(self._grow_after_s, self._grow)

    def _start_thread(self) -> None:
        threading.Thread(
            target=self._work, name=f"{self._name}-{self._threads}", daemon=True
        ).start()

    def _grow(self) -> None:
        """Jobs wait: wake idle workers, and start threads, if the workers
        stopped taking them."""
        starting = waking = 0
        look_again = False
        with self._lock:
            self._check_pending = False
            if self._closed:
                return
            waiting = len(self._jobs)
            if waiting:
                if time.monotonic() - self._last_taken >= self._grow_after_s:
                    waking = min(waiting, self._idle - self._woken)
                    self._woken += waking
                    starting = min(waiting - waking, self._max_threads - self._threads)
                    self._threads += starting
                # Busy, not stuck, or just woken: look again, in case they get stuck.
                self._check_pending = look_again = True
        for _ in range(waking):
            self._wake.put(True)
        for _ in range(starting):
            self._start_thread()
        if look_again:
            assert self._schedule is not None
            self._schedule(self._grow_after_s, self._grow)

    def _work(self) -> None:
        jobs, lock, wake = self._jobs, self._lock, self._wake
        while True:
            with lock:
                job = jobs.popleft() if jobs else None
                if job is not None:
                    self._last_taken = time.monotonic()
                elif self._closed:
                    self._threads -= 1
                    return
                else:
                    self._idle += 1
            if job is None:
                try:
                    wake.get(timeout=self._retire_after_s)
                except queue.Empty:
                    with lock:
                        if self._idle > self._woken:  # no wake-up on its way to it
                            self._idle -= 1
                            # Retire beyond the core, unless jobs just came.
                            if self._threads > self._core_threads and not jobs:
                                self._threads -= 1
                                return
                            continue
                    wake.get()  # a wake-up was meant for it: take it
                with lock:
                    self._idle -= 1
                    self._woken -= 1
                # To the queue: its jobs first, and once it is empty after a
                # shutdown, the worker ends.
                continue
            job()
            del job
            if self._abandoned:
                with lock:
                    ident = threading.get_ident()
                    if ident in self._abandoned:
                        self._abandoned.discard(ident)
                        return  # replaced while it was stuck

    def shutdown(self) -> None:
        """Workers end once the queue is empty: idle ones are woken to run what
        is still queued, side by side, and those in a job end after it."""
        with self._lock:
            self._closed = True
            ending = self._idle - self._woken
            self._woken += ending
        for _ in range(ending):
            self._wake.put(True)


class LoopInbox:
    """Calls from other threads into the event loop, one wake-up per batch.

    ``loop.call_soon_threadsafe`` writes a byte to the loop's self-pipe per
    call; a handler posting to a thousand connections fills that pipe, and a
    signal arriving then is lost (asyncio wakes for signals through the same
    pipe). Here a call is queued, and the loop is woken only when no wake-up
    is already on its way. Calls run in the order they were put.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Made on ``loop``'s thread."""
        self.loop = self._loop = loop
        self.thread = threading.get_ident()
        # Calls run in the context the inbox was made in (the loop's), never in a
        # copy of the putting thread's: a handler's environment stays its own.
        self.context = contextvars.copy_context()
        self._calls: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._woken = False
        self.running = False  # in a call it runs: inside self.context

    def put(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` on the loop soon; callable from any thread."""
        self._calls.append((function, args))
        if not self._woken:
            self._woken = True
            # A closed loop: nobody is left to run the call.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._run, context=self.context)

    def deliver(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` at once on the loop's thread; from any other,
        :meth:`put` it (in order with everything else put)."""
        if threading.get_ident() == self.thread:
            function(*args)
        else:
            self.put(function, *args)

    def _run(self) -> None:
        # Cleared before draining: a call put from now on wakes the loop again,
        # at worst once for nothing, never zero times for something.
        self._woken = False
        calls = self._calls
        while calls:
            function, args = calls.popleft()
            self._call_now(function, args)

    def call(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` now, on the loop's thread, in the inbox's context."""
        if self.running:
            # Inside a call the inbox runs (an eager task's first step, started by
            # that call): its context is entered already and cannot be entered twice.
            self._loop.call_soon(self._call_now, function, args, context=self.context)
            return
        self.context.run(self._call_now, function, args)

    def _call_now(self, function: Callable[..., None], args: tuple[Any, ...]) -> None:
        """One call, in the inbox's context (entered by the caller)."""
        self.running = True
        try:
            function(*args)
        except Exception:
            # A task boundary: one failed call must not strand the ones behind it.
            logger.exception("a call on the loop failed")
        finally:
            self.running = False
