"""The Lambda ``Invoke`` API of one emulator: its functions, invoked in-process.

Handler code that calls ``boto3.client("lambda").invoke(...)`` on a function
of the same API reaches it here (:mod:`.boto` answers botocore in-process,
whatever the endpoint), and so does anything calling the emulator's own port
at ``/2015-03-31/functions/{name}/invocations`` (the AWS CLI with
``--endpoint-url``, boto3 in another process), as with ``sam local
start-lambda``. The function runs under its own environment, as Lambda would
run it:

* ``RequestResponse`` waits for the result, or the error object with
  ``FunctionError: Unhandled``;
* ``Event`` answers 202 at once and runs the function in the background; one
  asked for by a running invocation starts once that invocation is over, so a
  ``$connect`` handler's greeting finds the connection open;
* ``DryRun`` answers 204;
* a function this API does not declare gets ``ResourceNotFoundException``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from emulator.clock import new_uuid
from emulator.runtime.invocation import Invocation, InvocationOutcome, error_summary
from emulator.runtime.invoke import FunctionTimeoutError, Invoker
from emulator.runtime.lambda_api import (
    InvokeRequest,
    LambdaApiError,
    accepted,
    event_of,
    invoke_path,
    not_found,
    parse_invoke,
    result_response,
)
from emulator.runtime.loader import LoadedHandler
from emulator.runtime.output import InvocationScope, current_scope
from emulator.runtime.workers import LoopInbox
from emulator.wire.messages import HttpResponse

__all__ = ["LambdaService"]

logger = logging.getLogger("emulator")
EVENTS = logging.getLogger("emulator.events")

# Who invoked, when it was not a function of this API.
_OVER_HTTP: Final = "the Invoke endpoint"
_OUTSIDE: Final = "outside any function"

# How much longer than the function's timeout a caller in a thread waits for it.
_GRACE: Final = 5.0


class LambdaService:
    """Invokes the functions of one API, by the names the Invoke API takes."""

    def __init__(
        self,
        invoker: Invoker,
        *,
        region: str,
        observers: Sequence[Callable[[str, Mapping[str, Any]], None]] = (),
    ) -> None:
        self._invoker = invoker
        self.region = region
        # Told of each invocation once it is over (kind "lambda"), as the log is.
        self._observers = observers
        # Runs a call once a connection's $connect is settled (open or refused).
        self.when_settled: Callable[[str, Callable[[], None]], None] | None = None
        self.functions: Mapping[str, LoadedHandler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: LoopInbox | None = None
        self._loop_thread = 0

    def bind(self, loop: asyncio.AbstractEventLoop, inbox: LoopInbox) -> None:
        """Run invocations on ``loop``; calls from other threads come through ``inbox``."""
        self._loop, self._inbox = loop, inbox
        self._loop_thread = threading.get_ident()

    # The HTTP endpoint (on the loop)

    async def handle(
        self, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> HttpResponse:
        """Answer ``POST /2015-03-31/functions/{name}/invocations`` (spec §5)."""
        future: asyncio.Future[HttpResponse] = asyncio.get_running_loop().create_future()
        self._start(target, headers, body, future.set_result, None, _OVER_HTTP)
        return await future

    # Calls from handler threads (botocore, in-process)

    def call(self, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> HttpResponse:
        """Answer an Invoke request from any thread; blocks until it is answered."""
        if threading.get_ident() == self._loop_thread:
            # An `async def` handler calling boto3, which blocks the loop it would
            # need: run the function beside it instead.
            return self._call_beside_the_loop(target, headers, body)
        assert self._inbox is not None, "the emulator is not started"
        answered = threading.Event()
        box: list[HttpResponse] = []

        def done(response: HttpResponse) -> None:
            box.append(response)
            answered.set()

        # Asked for from inside an invocation: an Event runs once it is over.
        scope = current_scope.get()
        caller = scope.function_name if scope is not None else _OUTSIDE
        self._inbox.put(self._start, target, headers, body, done, scope, caller)
        timeout = self._longest_timeout() + _GRACE
        if not answered.wait(timeout):
            return HttpResponse(500, (), b'{"message":"the emulator did not answer in time"}')
        return box[0]

    def _start(
        self,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        done: Any,
        asked_by: InvocationScope | None,
        caller: str,
    ) -> None:
        """On the loop: parse, find the function, invoke it; ``done`` gets the answer."""
        try:
            request = self._parse(target, headers, body)
            handler = self._handler(request)
        except LambdaApiError as exc:
            done(self._refused(exc, caller))
            return
        if request.invocation_type == "DryRun":
            done(accepted(request, new_uuid()))
            return
        event = event_of(request.payload)
        if request.invocation_type == "Event":
            # Asked for from inside an invocation (its scope, from the caller's
            # thread: on the loop there is none): it runs once that one is over.
            scope = asked_by
            run = _EventRun(self, handler, event, request, caller)
            if scope is None:
                run()
            elif scope.connection_id and self.when_settled is not None:
                # Asked for by a $connect handler: the connection exists once the
                # 101 is sent (AWS's queue makes that the usual order, spec §5.2).
                settle, connection_id = self.when_settled, scope.connection_id
                scope.after.append(lambda: settle(connection_id, run))
            else:
                scope.after.append(run)
            done(accepted(request, run.request_id))
            return

        lambda_id = new_uuid()

        def finished(invocation: Invocation) -> None:
            self._report(handler, request, caller, event, invocation)
            done(result_response(invocation, request, lambda_id))

        self._invoker.start(
            handler,
            event,
            wait_s=handler.config.timeout,
            on_done=finished,
            qualifier=request.qualifier,
            client_context=request.client_context,
            tail=request.tail,
            lambda_request_id=lambda_id,
        )

    def _parse(self, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> InvokeRequest:
        name = invoke_path(target)
        if name is None:
            raise LambdaApiError(404, "UnknownOperationException", "Unknown operation")
        query = target.partition("?")[2]
        return parse_invoke(name, query, headers, body, region=self.region)

    def _handler(self, request: InvokeRequest) -> LoadedHandler:
        handler = self.functions.get(request.name)
        if handler is None or request.qualifier not in (None, "$LATEST"):
            raise not_found(request.name, request.qualifier, self.region)
        return handler

    def _refused(self, error: LambdaApiError, caller: str) -> HttpResponse:
        """The API's own error, said in the log too: which functions there are."""
        if EVENTS.isEnabledFor(logging.INFO):
            text = f"lambda invoke from {caller}: {error.error_type}: {error.message}"
            if error.error_type == "ResourceNotFoundException":
                names = ", ".join(sorted(self.functions)) or "none"
                text += f" (this API's functions: {names})"
            EVENTS.info(
                text,
                extra={
                    "apigw": {
                        "kind": "lambda",
                        "caller": caller,
                        "outcome": "refused",
                        "error": f"{error.error_type}: {error.message}",
                    }
                },
            )
        return error.response(new_uuid())

    def _report(
        self,
        handler: LoadedHandler,
        request: InvokeRequest,
        caller: str,
        event: Any,
        invocation: Invocation,
    ) -> None:
        """On the loop: the log line and the observers' note of one invocation."""
        name = handler.config.name
        if EVENTS.isEnabledFor(logging.INFO):
            log_invoke(name, request.invocation_type, caller, handler.config.handler, invocation)
        if self._observers:
            details = {
                "function": name,
                "invocationType": request.invocation_type,
                "caller": caller,
                "event": event,
                "invocation": invocation,
            }
            for observer in self._observers:
                observer("lambda", details)

    def _longest_timeout(self) -> float:
        return max((h.config.timeout for h in self.functions.values()), default=3.0)

    def _call_beside_the_loop(
        self, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> HttpResponse:
        scope = current_scope.get()
        caller = scope.function_name if scope is not None else _OUTSIDE
        try:
            request = self._parse(target, headers, body)
            handler = self._handler(request)
        except LambdaApiError as exc:
            return self._refused(exc, caller)
        if request.invocation_type == "DryRun":
            return accepted(request, new_uuid())
        event = event_of(request.payload)
        # An Event one runs now too: the caller blocks the loop it would run on later.
        invocation, request_id = self._invoker.call_beside(handler, event, tail=request.tail)
        self._report(handler, request, caller, event, invocation)
        if request.invocation_type == "Event":
            return accepted(request, request_id)
        return result_response(invocation, request, request_id)


class _EventRun:
    """An ``Event`` invocation: started now, or when the invocation that asked is over."""

    def __init__(
        self,
        service: LambdaService,
        handler: LoadedHandler,
        event: Any,
        request: InvokeRequest,
        caller: str,
    ) -> None:
        self.service = service
        self.handler = handler
        self.event = event
        self.request = request
        self.caller = caller
        self.request_id = new_uuid()

    def __call__(self) -> None:
        self.service._invoker.start(
            self.handler,
            self.event,
            wait_s=self.handler.config.timeout,
            on_done=self._done,
            qualifier=self.request.qualifier,
            lambda_request_id=self.request_id,
        )

    def _done(self, invocation: Invocation) -> None:
        self.service._report(self.handler, self.request, self.caller, self.event, invocation)
        # Nobody waits for it: what went wrong is said in the log. (AWS would
        # retry a failed one twice, spec §5.2; it is not retried here.)
        if invocation.outcome is InvocationOutcome.ERROR and not isinstance(
            invocation.error, FunctionTimeoutError
        ):
            assert invocation.error is not None
            logger.error(
                "%s (Event invocation) raised %s",
                self.handler.config.handler,
                error_summary(invocation.error),
            )


def log_invoke(
    function: str, invocation_type: str, caller: str, handler: str, invocation: Invocation
) -> None:
    """``lambda FormatterFunction RequestResponse from SendMessageFunction: 1.2 ms ok``."""
    text = f"lambda {function} {invocation_type} from {caller}: {handler}"
    text += f" {invocation.duration_ms:.1f} ms {invocation.outcome.value}"
    details: dict[str, Any] = {
        "kind": "lambda",
        "function": function,
        "invocationType": invocation_type,
        "caller": caller,
        "handler": handler,
        "durationMs": round(invocation.duration_ms, 3),
        "outcome": invocation.outcome.value,
        "lambdaRequestId": invocation.scope.request_id if invocation.scope else None,
        "posts": invocation.scope.posts if invocation.scope else 0,
    }
    if invocation.error is not None:
        summary = error_summary(invocation.error)
        text += f": {summary}"
        details["error"] = summary
    if invocation.scope is not None and invocation.scope.posts:
        text += f", {invocation.scope.posts} posted"
    EVENTS.info(text, extra={"apigw": details})
