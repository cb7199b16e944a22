"""Running handlers the way Lambda would: in-process, with a deadline.

Sync handlers run on a dedicated, elastic thread pool (never the default
executor, whose few threads a hanging handler would starve); ``async def``
handlers are awaited on the event loop. Either way the caller stops waiting at
the route's timeout while the handler may finish in the background, as a
Lambda keeps running after API Gateway gave up (spec §5). Whatever a handler
raises, ``SystemExit`` and ``KeyboardInterrupt`` included, becomes a failed
invocation: it never reaches the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.model.function import FunctionConfig
from emulator.runtime.context import LambdaContext, ManagementCallbacks, context_class
from emulator.runtime.environ import Overlay, install, use_overlay
from emulator.runtime.invocation import Invocation, InvocationOutcome
from emulator.runtime.loader import LoadedHandler
from emulator.runtime.output import InvocationScope, current_scope
from emulator.runtime.workers import LoopInbox, WorkerPool

__all__ = ["Invoker"]


class _Function:
    """What every invocation of one function shares, worked out once.

    Each function gets its own ``LambdaContext`` subclass whose class holds
    the attributes that never change (name, ARN, log group, callbacks), so
    that a context per invocation sets only its request id and deadline.
    """

    __slots__ = ("context_class", "handler", "name", "overlay")

    def __init__(self, handler: LoadedHandler, name: str, overlay: Overlay, base: LambdaContext):
        self.handler = handler  # keeps the id this is cached under from being reused
        self.name = name
        self.overlay = overlay
        self.context_class = context_class(name, base)


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


def _enter(overlay: Overlay, scope: InvocationScope) -> None:
    use_overlay(overlay)
    current_scope.set(scope)


class _Pending:
    """One invocation in flight: reports to ``on_done`` exactly once."""

    __slots__ = ("deadline", "deadlines", "invoker", "on_done", "reported", "scope", "started")

    def __init__(
        self,
        on_done: Callable[[Invocation], None],
        started: float,
        invoker: Invoker,
        scope: InvocationScope,
    ) -> None:
        self.on_done = on_done
        self.started = started
        self.invoker = invoker
        self.scope = scope
        self.reported = False
        self.deadline = 0.0  # loop time
        self.deadlines: _Deadlines | None = None

    def _elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def finish(self, value: Any) -> None:
        self.invoker._settled(self)
        self.scope.flush()
        if self.reported:
            return  # it timed out before; it finished in the background
        self.reported = True
        if self.deadlines is not None:
            self.deadlines.trim()
        scope, elapsed = self.scope, self._elapsed_ms()
        if isinstance(value, _Raised):
            self.on_done(Invocation(InvocationOutcome.ERROR, None, value.error, elapsed, scope))
        else:
            self.on_done(Invocation(InvocationOutcome.OK, value, None, elapsed, scope))

    def task_done(self, task: asyncio.Task[Any]) -> None:
        self.finish(_Raised(asyncio.CancelledError()) if task.cancelled() else task.result())

    def expire(self) -> None:
        if not self.reported:
            # AWS stops waiting; the function runs on and its posts still arrive.
            self.reported = True
            self.on_done(
                Invocation(
                    InvocationOutcome.TIMEOUT, duration_ms=self._elapsed_ms(), scope=self.scope
                )
            )


class _Deadlines:
    """The timeouts of invocations that share one integration timeout.

    A timer per invocation, armed and cancelled every message, churns the
    loop's timer heap; here invocations with the same timeout queue in start
    order (so deadlines only grow), and one timer watches the oldest that has
    not finished.
    """

    __slots__ = ("loop", "queue", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: collections.deque[_Pending] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, pending: _Pending, deadline: float) -> None:
        pending.deadline = deadline
        pending.deadlines = self
        self.queue.append(pending)
        if self.timer is None:
            self.timer = self.loop.call_at(deadline, self.fire)

    def trim(self) -> None:
        """Forget invocations that finished, from the oldest on."""
        queue = self.queue
        while queue and queue[0].reported:
            queue.popleft()

    def fire(self) -> None:
        self.timer = None
        now = self.loop.time()
        queue = self.queue
        while queue:
            oldest = queue[0]
            if not oldest.reported and oldest.deadline > now:
                # Not yet: look again when the oldest one still running is due.
                self.timer = self.loop.call_at(oldest.deadline, self.fire)
                return
            queue.popleft()
            oldest.expire()


class Invoker:
    """Invokes loaded handlers with Lambda's environment and a deadline."""

    def __init__(
        self,
        *,
        region: str,
        callbacks: ManagementCallbacks,
        base_dir: Path,
        max_threads: int = 512,
    ) -> None:
        install()
        self._region = region
        self._callbacks = callbacks
        self._base_dir = base_dir
        self._max_threads = max_threads
        self._pool = WorkerPool(max_threads)
        self._inbox: LoopInbox | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: dict[float, _Deadlines] = {}
        # Per loaded handler, by identity (a reload loads new handlers).
        self._functions: dict[int, _Function] = {}
        self._overlays: dict[tuple[str, frozenset[tuple[str, str]]], Overlay] = {}
        self._log_streams: dict[str, str] = {}
        self._in_flight: set[_Pending] = set()
        self._drained: asyncio.Future[None] | None = None

    def _function(self, handler: LoadedHandler) -> _Function:
        name = handler.config.name
        base = LambdaContext(
            function_name=name,
            region=self._region,
            request_id="",
            deadline=0.0,
            log_stream_name=self._log_stream(name),
            callbacks=self._callbacks,
            memory_size=handler.config.memory_size,
        )
        prepared = _Function(handler, name, self._overlay(name, handler), base)
        self._functions[id(handler)] = prepared
        return prepared

    def _overlay(self, name: str, handler: LoadedHandler) -> Overlay:
        # One per function, kept across invocations like a Lambda container's.
        # Routes that share a handler but not an environment are two functions.
        key = (name, frozenset(handler.config.environment.items()))
        overlay = self._overlays.get(key)
        if overlay is None:
            overlay = Overlay(self._lambda_environment(handler.config))
            self._overlays[key] = overlay
        return overlay

    def _log_stream(self, name: str) -> str:
        stream = self._log_streams.get(name)
        if stream is None:
            stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{uuid.uuid4().hex}"
            self._log_streams[name] = stream
        return stream

    def _lambda_environment(self, function: FunctionConfig) -> dict[str, str]:
        name, memory_size = function.name, function.memory_size
        stream = self._log_stream(name)
        return {
            **function.environment,
            # What the Lambda runtime sets; boto3 needs a region and credentials.
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_ACCESS_KEY_ID": "ASIAEMULATOREXAMPLE0",
            "AWS_SECRET_ACCESS_KEY": "emulator/secret/access/key/example000000",
            "AWS_SESSION_TOKEN": "emulator-session-token",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(self._base_dir.resolve()),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(os.__file__),
        }

    def start(
        self,
        handler: LoadedHandler,
        event: Any,
        *,
        request_id: str,
        wait_s: float,
        on_done: Callable[[Invocation], None],
        route_key: str = "",
    ) -> None:
        """Invoke ``handler``; call ``on_done`` on the loop once, at the latest
        after ``wait_s`` seconds (its integration timeout). ``route_key`` names
        the route the invocation serves, for the log.

        The per-message path: no task, no executor future, one timer. A sync
        handler's result comes back through the loop's inbox (one wake-up per batch).
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
        prepared = self._functions.get(id(handler))
        if prepared is None or prepared.handler is not handler:
            prepared = self._function(handler)
        started = time.monotonic()
        context = prepared.context_class(request_id, started + wait_s)
        scope = InvocationScope(prepared.name, request_id, route_key)
        run_context = contextvars.copy_context()
        run_context.run(_enter, prepared.overlay, scope)
        pending = _Pending(on_done, started, self, scope)
        deadlines = self._deadlines.get(wait_s)
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines[wait_s] = _Deadlines(loop)
        deadlines.add(pending, loop.time() + wait_s)
        self._in_flight.add(pending)
        function = handler.function
        if handler.is_async:
            task = loop.create_task(_call_async(function, event, context), context=run_context)
            task.add_done_callback(pending.task_done)
        else:

            def job() -> None:
                value = run_context.run(_call_sync, function, event, context)
                inbox.put(pending.finish, value)

            self._pool.submit(job)

    def bind(self, inbox: LoopInbox) -> None:
        """Send results to the loop through ``inbox`` (shared with other callers)."""
        self._inbox = inbox

    async def invoke(
        self,
        handler: LoadedHandler,
        event: Any,
        *,
        request_id: str,
        wait_s: float,
        route_key: str = "",
    ) -> Invocation:
        """:meth:`start`, awaited."""
        future: asyncio.Future[Invocation] = asyncio.get_running_loop().create_future()

        def done(invocation: Invocation) -> None:
            # The caller may have stopped waiting (a client gone during $connect).
            if not future.done():
                future.set_result(invocation)

        self.start(
            handler, event, request_id=request_id, wait_s=wait_s, on_done=done, route_key=route_key
        )
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
        self._pool.shutdown()
