"""Running handlers the way Lambda would: in-process, with two deadlines.

Sync handlers run on a dedicated, elastic thread pool (never the default
executor, whose few threads a hanging handler would starve); ``async def``
handlers are awaited on the event loop. Each invocation runs in its
function's sandbox (:mod:`.sandbox`), with a fresh Lambda request id and a
``context`` whose remaining time counts down the function's timeout.

Two clocks run: the function's timeout (Lambda stops the function: a failed
invocation, ``Task timed out after N.NN seconds``) and how long the caller
waits (API Gateway's integration timeout, 29 s at most): whichever comes
first is what the caller hears. A function still running when its caller
stopped waiting runs on until it finishes or times out, and its posts still
arrive, as a Lambda keeps running after API Gateway gave up (spec §5).
Whatever a handler raises, ``SystemExit`` and ``KeyboardInterrupt`` included,
becomes a failed invocation: it never reaches the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any, Final

from emulator.clock import new_uuid
from emulator.runtime.context import (
    ClientContext,
    ContextFactory,
    LambdaContext,
    ManagementCallbacks,
    context_class,
)
from emulator.runtime.environ import install as install_environ
from emulator.runtime.invocation import Invocation, InvocationOutcome
from emulator.runtime.lambda_api import error_object
from emulator.runtime.lambda_logs import (
    emit_platform,
    end_line,
    error_record,
    report_line,
    start_line,
)
from emulator.runtime.loader import LoadedHandler
from emulator.runtime.logroot import install as install_logroot
from emulator.runtime.output import InvocationScope, emit_line
from emulator.runtime.sandbox import Sandbox
from emulator.runtime.workers import LoopInbox, WorkerPool

__all__ = ["DEFAULT_CONCURRENCY", "FunctionTimeoutError", "Invoker", "ThrottledError"]

logger = logging.getLogger("emulator")


class FunctionTimeoutError(Exception):
    """The function ran past its timeout: Lambda's ``Sandbox.Timedout`` (spec §3.6)."""

    error_type: Final = "Sandbox.Timedout"

    def __init__(self, request_id: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        )


# Read per invocation: through module globals, not the enum class (on Python
# 3.11 EnumType defines __getattr__, which slows every lookup through the class).
_OK: Final = InvocationOutcome.OK
_ERROR: Final = InvocationOutcome.ERROR
_TIMEOUT: Final = InvocationOutcome.TIMEOUT
# AWS: an account's concurrent executions, 1,000 by default (Lambda quotas).
DEFAULT_CONCURRENCY: Final = 1000
# How much of a stuck handler's stack the log shows.
_STACK_FRAMES: Final = 8


class ThrottledError(Exception):
    """Lambda refused the invocation: the concurrency limit is reached (429
    ``TooManyRequestsException``, reason ``ConcurrentInvocationLimitExceeded``)."""

    error_type: Final = "TooManyRequestsException"
    reason: Final = "ConcurrentInvocationLimitExceeded"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Rate Exceeded. ({limit} concurrent invocations running)")


class _Function:
    """What every invocation of one function shares, worked out once."""

    __slots__ = ("context", "handler", "name", "sandbox")

    def __init__(self, handler: LoadedHandler, sandbox: Sandbox, context: ContextFactory) -> None:
        self.handler = handler  # keeps the id this is cached under from being reused
        self.name = handler.config.name
        self.sandbox = sandbox
        self.context = context


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _call_sync(function: Callable[..., Any], event: Any, context: LambdaContext) -> Any:
    try:
        return function(event, context)
    except BaseException as exc:  # noqa: BLE001 - SystemExit must not cross the thread boundary
        # The traceback starts in the handler, not in this wrapper.
        return _Raised(exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None))


async def _call_async(function: Callable[..., Any], event: Any, context: LambdaContext) -> Any:
    try:
        return await function(event, context)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit in a task would stop the loop
        return _Raised(exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None))


async def _run_async(
    pending: _Pending,
    function: Callable[..., Any],
    event: Any,
    context: LambdaContext,
    inbox: LoopInbox,
) -> None:
    """An ``async def`` handler's task. It reports its own end, in the loop's
    context (the inbox's, never the handler's), without the extra turn of the
    loop a done callback would take. A task cancelled from outside before its
    first step runs none of this: its function's timeout reports it."""
    try:
        value = await function(event, context)
    except asyncio.CancelledError:
        # Stopped by the emulator (past its timeout, or at shutdown).
        inbox.call(pending.finish, _Raised(asyncio.CancelledError()))
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit in a task would stop the loop
        # The traceback starts in the handler, not in this wrapper.
        trace = exc.__traceback__
        value = _Raised(exc.with_traceback(trace.tb_next if trace else None))
    inbox.call(pending.finish, value)


class _Pending:
    """One invocation in flight: reports to ``on_done`` exactly once."""

    __slots__ = (
        "function",
        "invoker",
        "on_done",
        "over",
        "reported",
        "scope",
        "started",
        "task",
        "thread",
        "timeout",
    )

    def __init__(
        self,
        on_done: Callable[[Invocation], None],
        invoker: Invoker,
        function: _Function,
        scope: InvocationScope,
        timeout: float,
    ) -> None:
        self.on_done = on_done
        self.invoker = invoker
        self.function = function
        self.scope = scope
        self.timeout = timeout
        self.started = time.monotonic()
        self.reported = False  # the caller heard of it
        self.over = False  # finished or timed out: its end is logged
        self.thread = 0  # the worker running a sync handler, once it started
        self.task: asyncio.Task[Any] | None = None  # an async handler's

    def _elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def finish(self, value: Any) -> None:
        if self.over:
            return  # it ran past its timeout: Lambda stopped it, its result is lost
        scope = self.scope
        scope.flush()
        if isinstance(value, _Raised):
            _log_error(self.function, scope, value.error)
        elapsed = self._elapsed_ms()
        self._end(elapsed, None)
        if self.reported:
            return  # its caller stopped waiting; it finished in the background
        self.reported = True
        if isinstance(value, _Raised):
            self._report(Invocation(_ERROR, None, value.error, elapsed, scope))
        else:
            self._report(Invocation(_OK, value, None, elapsed, scope))

    def expire_wait(self) -> None:
        """The caller stops waiting (API Gateway's integration timeout)."""
        if not self.reported and not self.over:
            # AWS stops waiting; the function runs on and its posts still arrive.
            self.reported = True
            self._report(Invocation(_TIMEOUT, duration_ms=self._elapsed_ms(), scope=self.scope))

    def expire_function(self) -> None:
        """The function's own timeout: Lambda stops it (spec §3.6)."""
        if self.over:
            return
        scope = self.scope
        scope.flush()
        scope.plain_text = False  # Lambda stopped it: what it writes now is lost
        error = FunctionTimeoutError(scope.request_id, self.timeout)
        logger.error("%s (%s) %s", self.function.handler.config.handler, self.function.name, error)
        self._stop_running()
        self._end(self.timeout * 1000, "timeout")
        if not self.reported:
            self.reported = True
            self._report(Invocation(_ERROR, None, error, self.timeout * 1000, scope))

    def _stop_running(self) -> None:
        """Lambda ends a function past its timeout. A task is cancelled; a thread
        cannot be stopped: its worker is replaced, and the log says where it is stuck."""
        if self.task is not None:
            self.task.cancel()
            return
        if not self.thread:
            return  # it never started: its job will see it is over
        frame = sys._current_frames().get(self.thread)
        stack = "".join(traceback.format_stack(frame)[-_STACK_FRAMES:]) if frame else ""
        logger.warning(
            "%s (%s) still runs past its timeout and cannot be stopped (Lambda would end"
            " its sandbox); its thread is left to finish, stuck at:\n%s",
            self.function.handler.config.handler,
            self.function.name,
            stack.rstrip("\n"),
        )
        self.invoker._pool.abandon(self.thread)

    def _report(self, invocation: Invocation) -> None:
        self.on_done(invocation)
        if self.scope.after:
            # What it asked to run once it is done (an `Event` invocation), after
            # its caller has acted on its result: a $connect handler's greeting
            # finds the connection open (spec §5.2 [INFER]).
            asyncio.get_running_loop().call_soon(_run_all, self.scope.after)

    def _end(self, duration_ms: float, status: str | None) -> None:
        self.over = True
        self.invoker._settled(self)
        if self.invoker.platform_logs:
            sandbox = self.function.sandbox
            request_id = self.scope.request_id
            emit_platform(self.scope, end_line(request_id))
            init = sandbox.init_duration_ms if self.scope.cold else None
            emit_platform(
                self.scope,
                report_line(
                    request_id,
                    duration_ms=duration_ms,
                    memory_size=sandbox.function.memory_size,
                    init_duration_ms=init,
                    status=status,
                ),
            )


def _log_error(function: _Function, scope: InvocationScope, error: BaseException) -> None:
    """What Lambda's runtime writes to the function's log when it raised (spec §4.3)."""
    if isinstance(error, asyncio.CancelledError):
        return  # the emulator stopped it
    failure = error_object(error, scope.request_id)
    if failure["errorType"] == "Runtime.ExitError":
        # The runtime process itself exited: Lambda's own line, no traceback.
        emit_line(scope, "platform", f"{failure['errorMessage']}\n{failure['errorType']}")
        return
    record = error_record(failure, function.sandbox.function.logging)
    emit_line(scope, "runtime", record, logging.ERROR)


def _run_all(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        call()


class _Deadlines:
    """The deadlines of invocations that share one duration.

    A timer per invocation, armed and cancelled every message, churns the
    loop's timer heap; here invocations with the same duration queue in start
    order (so deadlines only grow), and one timer watches the oldest still
    running. ``expire`` is called on each that is due.
    """

    __slots__ = ("duration", "expire", "loop", "queue", "timer")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        duration: float,
        expire: Callable[[_Pending], None],
    ) -> None:
        self.loop = loop
        self.duration = duration
        self.expire = expire
        self.queue: collections.deque[tuple[float, _Pending]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, pending: _Pending) -> None:
        # On the clock invocations are timed with (_Pending.started): uvloop's
        # timers go by a millisecond clock, and may fire a fraction of one early.
        deadline = time.monotonic() + self.duration
        queue = self.queue
        while queue and queue[0][1].over:
            queue.popleft()  # finished ones, oldest first
        queue.append((deadline, pending))
        if self.timer is None:
            self.timer = self.loop.call_later(self.duration, self.fire)

    def fire(self) -> None:
        self.timer = None
        now = time.monotonic()
        queue = self.queue
        while queue:
            deadline, oldest = queue[0]
            if not oldest.over and deadline > now:
                # Not yet: look again when the oldest one still running is due.
                self.timer = self.loop.call_later(deadline - now, self.fire)
                return
            queue.popleft()
            self.expire(oldest)


class Invoker:
    """Invokes loaded handlers in their sandboxes, within their deadlines."""

    def __init__(
        self,
        *,
        region: str,
        callbacks: ManagementCallbacks,
        base_dir: Path,
        max_threads: int | None = None,
        platform_logs: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        install_environ()
        install_logroot()
        self._region = region
        self._callbacks = callbacks
        self._base_dir = base_dir
        # Lambda's concurrency limit: invocations running at once, throttled beyond.
        self.concurrency = concurrency
        # Never fewer workers than invocations allowed: a stuck one is replaced.
        self._max_threads = max_threads or max(concurrency, 16)
        self.platform_logs = platform_logs  # START, END and REPORT lines per invocation
        self._pool = WorkerPool(self._max_threads)
        self._inbox: LoopInbox | None = None
        self._outbox: list[Callable[[], None]] = []  # jobs for the next hand-over
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: dict[tuple[float, bool], _Deadlines] = {}
        # Per loaded handler, by identity (a reload loads new handlers).
        self._functions: dict[int, _Function] = {}
        self._async_codes: dict[CodeType, str] = {}
        self._in_flight: set[_Pending] = set()
        self._drained: asyncio.Future[None] | None = None

    def _function(self, handler: LoadedHandler) -> _Function:
        sandbox = handler.sandbox
        if sandbox is None:  # loaded without one (a test's own LoadedHandler)
            sandbox = Sandbox(handler.config, region=self._region, task_root=self._base_dir)
        base = LambdaContext(
            function_name=handler.config.name,
            region=self._region,
            request_id="",
            deadline=0.0,
            log_stream_name=sandbox.log_stream,
            callbacks=self._callbacks,
            memory_size=handler.config.memory_size,
        )
        prepared = _Function(handler, sandbox, context_class(handler.config.name, base))
        self._functions[id(handler)] = prepared
        code = getattr(handler.function, "__code__", None)
        if handler.is_async and code is not None:
            self._async_codes[code] = f"async def {handler.config.handler} ({handler.config.name})"
        return prepared

    def async_handler(self, code: CodeType) -> str | None:
        """Which ``async def`` handler ``code`` is, if it is one (for the loop's watchdog)."""
        return self._async_codes.get(code)

    def start(
        self,
        handler: LoadedHandler,
        event: Any,
        *,
        wait_s: float,
        on_done: Callable[[Invocation], None],
        route_key: str = "",
        qualifier: str | None = None,
        client_context: ClientContext | None = None,
        tail: bool = False,
        lambda_request_id: str | None = None,
        connection_id: str = "",
    ) -> None:
        """Invoke ``handler``; call ``on_done`` on the loop once: when it returns or
        raises, when it runs past its function's timeout, or when ``wait_s``
        seconds (how long the caller waits) are up, whichever is first.

        The function gets a Lambda request id of its own (``lambda_request_id``
        if the caller made it already). ``route_key`` names the route the
        invocation serves, for the log; ``tail`` keeps its log lines on its
        scope; ``connection_id`` is the connection whose event it
        handles. The per-message path: no
        task, no executor future, no timer of its own.
        """
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox = LoopInbox(loop)
        if self._pool_loop is not loop:
            # The pool grows on the loop's clock: a few threads, more when jobs wait.
            self._pool.shutdown()
            self._pool = WorkerPool(self._max_threads, schedule=loop.call_later)
            self._pool_loop = loop
            self._hand_over()  # what a previous loop left, to the new workers
        aws_request_id = lambda_request_id or new_uuid()
        if len(self._in_flight) >= self.concurrency:
            self._throttle(loop, handler, on_done)
            return
        prepared = self._functions.get(id(handler))
        if prepared is None or prepared.handler is not handler:
            prepared = self._function(handler)
        sandbox = prepared.sandbox
        scope = sandbox.scope(aws_request_id, route_key)
        scope.cold, sandbox.cold = sandbox.cold, False
        scope.connection_id = connection_id
        if tail:
            scope.tail = []
        timeout = handler.config.timeout
        context = prepared.context(
            aws_request_id, time.monotonic() + timeout, qualifier, client_context
        )
        run_context = sandbox.context(scope)
        waits = wait_s < timeout
        pending = _Pending(on_done, self, prepared, scope, timeout)
        self._deadline(loop, timeout, False).add(pending)
        if waits:
            self._deadline(loop, wait_s, True).add(pending)
        self._in_flight.add(pending)
        if self.platform_logs:
            emit_platform(scope, start_line(aws_request_id))
        function = handler.function
        if handler.is_async:
            pending.task = loop.create_task(
                _run_async(pending, function, event, context, inbox), context=run_context
            )
        else:

            def job() -> None:
                if pending.over:
                    return  # timed out while it waited for a worker: never ran
                pending.thread = threading.get_ident()
                value = run_context.run(_call_sync, function, event, context)
                # Done: a timeout due before the result is delivered must not
                # blame (and abandon) the job this worker takes next.
                pending.thread = 0
                inbox.put(pending.finish, value)

            outbox = self._outbox
            outbox.append(job)
            if len(outbox) == 1:
                loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        """Give the workers the sync invocations this turn of the loop started,
        as one batch: one wake-up for all of them (results come back the same way,
        through the :class:`LoopInbox`)."""
        jobs, self._outbox = self._outbox, []
        if jobs:
            self._pool.submit_many(jobs)

    def _throttle(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: LoadedHandler,
        on_done: Callable[[Invocation], None],
    ) -> None:
        """Refuse an invocation beyond the concurrency limit, as Lambda does."""
        error = ThrottledError(self.concurrency)
        logger.error(
            "%s (%s) throttled: %d invocations are running, the concurrency limit"
            " (limits.concurrency, --concurrency)",
            handler.config.handler,
            handler.config.name,
            self.concurrency,
        )
        loop.call_soon(on_done, Invocation(_ERROR, None, error, 0.0, None))

    def call_beside(
        self, handler: LoadedHandler, event: Any, *, tail: bool = False
    ) -> tuple[Invocation, str]:
        """Run ``handler`` in a thread of its own and wait for it, within its timeout.

        For a caller on the loop's thread, which :meth:`start` would need free
        (an ``async def`` handler calling ``lambda.invoke`` synchronously).
        """
        prepared = self._functions.get(id(handler))
        if prepared is None or prepared.handler is not handler:
            prepared = self._function(handler)
        sandbox = prepared.sandbox
        aws_request_id = new_uuid()
        scope = sandbox.scope(aws_request_id)
        if tail:
            scope.tail = []
        timeout = handler.config.timeout
        context = prepared.context(aws_request_id, time.monotonic() + timeout, None, None)
        run_context = sandbox.context(scope)
        box: list[Any] = []

        def run() -> None:
            if handler.is_async:
                box.append(asyncio.run(_call_async(handler.function, event, context)))
            else:
                box.append(_call_sync(handler.function, event, context))

        started = time.monotonic()
        thread = threading.Thread(target=run_context.run, args=(run,), daemon=True)
        thread.start()
        thread.join(timeout)
        scope.flush()
        elapsed = (time.monotonic() - started) * 1000
        if not box:
            error = FunctionTimeoutError(aws_request_id, timeout)
            return Invocation(_ERROR, None, error, elapsed, scope), aws_request_id
        value = box[0]
        if isinstance(value, _Raised):
            _log_error(prepared, scope, value.error)
            invocation = Invocation(_ERROR, None, value.error, elapsed, scope)
        else:
            invocation = Invocation(_OK, value, None, elapsed, scope)
        return invocation, aws_request_id

    def _deadline(self, loop: asyncio.AbstractEventLoop, duration: float, wait: bool) -> _Deadlines:
        deadlines = self._deadlines.get((duration, wait))
        if deadlines is None or deadlines.loop is not loop:
            expire = _Pending.expire_wait if wait else _Pending.expire_function
            deadlines = self._deadlines[(duration, wait)] = _Deadlines(loop, duration, expire)
        return deadlines

    def bind(self, inbox: LoopInbox) -> None:
        """Send results to the loop through ``inbox`` (shared with other callers)."""
        self._inbox = inbox

    async def invoke(
        self,
        handler: LoadedHandler,
        event: Any,
        *,
        wait_s: float,
        route_key: str = "",
    ) -> Invocation:
        """:meth:`start`, awaited."""
        future: asyncio.Future[Invocation] = asyncio.get_running_loop().create_future()

        def done(invocation: Invocation) -> None:
            # The caller may have stopped waiting (a client gone during $connect).
            if not future.done():
                future.set_result(invocation)

        self.start(handler, event, wait_s=wait_s, on_done=done, route_key=route_key)
        return await future

    def _settled(self, pending: _Pending) -> None:
        self._in_flight.discard(pending)
        if not self._in_flight and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self, grace_s: float) -> None:
        """Give handlers still running (timed out included) ``grace_s`` seconds."""
        if self._in_flight:
            self._drained = asyncio.get_running_loop().create_future()
            await asyncio.wait((self._drained,), timeout=grace_s)

    def shutdown(self) -> None:
        # Blocked handler threads cannot be killed; they are daemons.
        self._hand_over()
        self._pool.shutdown()
