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
import contextvars
import enum
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from emulator.environ import Overlay, install, use_overlay
from emulator.loader import LoadedHandler

__all__ = [
    "ElasticThreadPool",
    "Invocation",
    "InvocationOutcome",
    "Invoker",
    "LambdaContext",
    "ManagementCallbacks",
]

ACCOUNT_ID = "000000000000"
MEMORY_SIZE = "128"


class ManagementCallbacks(Protocol):
    """The @connections operations offered to handlers on their context."""

    def post_to_connection(self, connection_id: str, data: bytes | str) -> None: ...

    def get_connection(self, connection_id: str) -> dict[str, Any]: ...

    def delete_connection(self, connection_id: str) -> None: ...


class LambdaContext:
    """The ``context`` argument, with the attributes Python's Lambda runtime sets.

    It also carries the emulator's local callbacks ``post_to_connection``,
    ``get_connection`` and ``delete_connection`` (same errors as boto3 would
    raise, from :mod:`emulator.errors`).
    """

    def __init__(
        self,
        *,
        function_name: str,
        region: str,
        request_id: str,
        deadline: float,
        log_stream_name: str,
        callbacks: ManagementCallbacks,
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        # The Python runtime reads this from the environment: a string.
        self.memory_limit_in_mb = MEMORY_SIZE
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = deadline
        self.post_to_connection = callbacks.post_to_connection
        self.get_connection = callbacks.get_connection
        self.delete_connection = callbacks.delete_connection

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )


class InvocationOutcome(enum.Enum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Invocation:
    """What came of one invocation, as far as the caller waited."""

    outcome: InvocationOutcome
    value: Any = None
    error: BaseException | None = None
    duration_ms: float = 0.0


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _call_sync(function: Callable[..., Any], event: Any, context: LambdaContext) -> Any:
    try:
        return function(event, context)
    except BaseException as exc:  # noqa: BLE001 - SystemExit must not cross the thread boundary
        return _Raised(exc)


async def _call_async(function: Callable[..., Any], event: Any, context: LambdaContext) -> Any:
    try:
        return await function(event, context)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit in a task would stop the loop
        return _Raised(exc)


class ElasticThreadPool(Executor):
    """Daemon threads, started only when none is idle, up to ``max_threads``.

    Unlike ``ThreadPoolExecutor``, its threads are daemons: a handler blocked
    forever cannot keep the process from exiting after a clean shutdown.
    """

    def __init__(self, max_threads: int, name: str = "lambda") -> None:
        self._max_threads = max_threads
        self._name = name
        self._jobs: queue.SimpleQueue[
            tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("keyword arguments are not supported")
        future: Future[Any] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((future, fn, args))
            if not self._idle.acquire(blocking=False) and self._threads < self._max_threads:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                    future.set_exception(exc)
            del job, future, fn, args
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            for _ in range(self._threads):
                self._jobs.put(None)


def function_name_for(handler: str) -> str:
    """A Lambda-valid function name for a handler string."""
    return handler.replace(".", "-")[:64]


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
        self._executor = ElasticThreadPool(max_threads)
        self._overlays: dict[str, Overlay] = {}
        self._log_streams: dict[str, str] = {}
        self._background: set[asyncio.Future[Any]] = set()

    def _overlay(self, handler: LoadedHandler) -> Overlay:
        name = function_name_for(handler.route.handler)
        overlay = self._overlays.get(name)
        if overlay is None:
            overlay = Overlay(self._lambda_environment(name, handler.route.environment))
            self._overlays[name] = overlay
        return overlay

    def _lambda_environment(self, name: str, configured: Mapping[str, str]) -> dict[str, str]:
        stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{uuid.uuid4().hex}"
        self._log_streams[name] = stream
        return {
            **configured,
            # What the Lambda runtime sets; boto3 needs a region and credentials.
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_ACCESS_KEY_ID": "ASIAEMULATOREXAMPLE0",
            "AWS_SECRET_ACCESS_KEY": "emulator/secret/access/key/example000000",
            "AWS_SESSION_TOKEN": "emulator-session-token",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": MEMORY_SIZE,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(self._base_dir.resolve()),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(os.__file__),
        }

    async def invoke(
        self, handler: LoadedHandler, event: Any, *, request_id: str, wait_s: float
    ) -> Invocation:
        """Invoke ``handler`` and wait at most ``wait_s`` seconds (its integration timeout)."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        overlay = self._overlay(handler)
        name = function_name_for(handler.route.handler)
        context = LambdaContext(
            function_name=name,
            region=self._region,
            request_id=request_id,
            deadline=started + wait_s,
            log_stream_name=self._log_streams[name],
            callbacks=self._callbacks,
        )
        run_context = contextvars.copy_context()
        run_context.run(use_overlay, overlay)
        future: asyncio.Future[Any]
        if handler.is_async:
            future = loop.create_task(
                _call_async(handler.function, event, context), context=run_context
            )
        else:
            future = loop.run_in_executor(
                self._executor, run_context.run, _call_sync, handler.function, event, context
            )
        done, _ = await asyncio.wait((future,), timeout=wait_s)
        duration_ms = (time.monotonic() - started) * 1000
        if not done:
            # AWS stops waiting; the function runs on and its posts still arrive.
            self._background.add(future)
            future.add_done_callback(self._background.discard)
            return Invocation(InvocationOutcome.TIMEOUT, duration_ms=duration_ms)
        value = future.result()
        if isinstance(value, _Raised):
            return Invocation(InvocationOutcome.ERROR, error=value.error, duration_ms=duration_ms)
        return Invocation(InvocationOutcome.OK, value=value, duration_ms=duration_ms)

    async def drain(self, grace_s: float) -> None:
        """Give handlers still running in the background ``grace_s`` seconds."""
        if self._background:
            await asyncio.wait(tuple(self._background), timeout=grace_s)

    def shutdown(self) -> None:
        # Blocked handler threads cannot be killed; do not wait for them.
        self._executor.shutdown(wait=False, cancel_futures=True)
