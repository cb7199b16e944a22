"""The ``AWS_PROXY`` integration: a route's Lambda function, invoked with a proxy event.

API Gateway invokes the function with the event of spec §2 and reads its
result as a proxy response (spec §3.1, §3.2.4): on ``$connect`` the status and
``Sec-WebSocket-Protocol``, on a two-way route the body. A function that
raises, times out or returns a malformed result is a failed integration:
``Internal server error`` (502 on ``$connect``), or ``Endpoint request timed
out`` (504) when API Gateway stopped waiting first. ``$disconnect``'s result is
ignored (spec §3.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from emulator.gateway.integrations.outcome import Failure, IntegrationResult, Outcome, failed
from emulator.gateway.results import (
    MalformedResultError,
    interpret_connect_result,
    interpret_route_result,
)
from emulator.model.integration import LambdaIntegration
from emulator.runtime.invocation import Invocation, InvocationOutcome, error_summary
from emulator.runtime.invoke import FunctionTimeoutError, Invoker, ThrottledError
from emulator.runtime.loader import LoadedHandler

__all__ = ["LambdaProxy", "proxy_outcome"]

logger = logging.getLogger("emulator")

# Read per message: through a module global, not the enum class (on Python
# 3.11 EnumType defines __getattr__, which slows every lookup through the class).
_TIMEOUT: Final = InvocationOutcome.TIMEOUT
_ERROR: Final = InvocationOutcome.ERROR
# UNKNOWN on AWS for $connect; the spec recommends 504 (§6.1 of the Lambda spec).
_TIMED_OUT = failed(Failure.TIMEOUT, status=504)
# AWS: a function error refuses the handshake with 502 (spec §3.1).
_FUNCTION_ERROR = failed(Failure.INTERNAL, status=502)


def proxy_outcome(invocation: Invocation, event_type: str) -> Outcome:
    """What API Gateway makes of an invocation for a CONNECT, MESSAGE or DISCONNECT event."""
    if invocation.outcome is _TIMEOUT:
        return _TIMED_OUT
    if invocation.outcome is _ERROR:
        return _FUNCTION_ERROR
    try:
        if event_type == "MESSAGE":
            return Outcome(200, frame=interpret_route_result(invocation.value))
        if event_type == "CONNECT":
            connected = interpret_connect_result(invocation.value)
            return Outcome(connected.status, subprotocol=connected.subprotocol)
    except MalformedResultError as exc:
        return failed(Failure.INTERNAL, f"returned a malformed result: {exc}", status=502)
    return Outcome(200)  # AWS: $disconnect's result is ignored (spec §3.3)


class LambdaProxy:
    """The ``AWS_PROXY`` integration of one route, ready to start per event."""

    def __init__(
        self,
        route_key: str,
        integration: LambdaIntegration,
        handler: LoadedHandler,
        invoker: Invoker,
    ) -> None:
        self.route_key = route_key
        self.target = integration.function.handler
        self._timeout = integration.timeout
        self._handler = handler
        self._invoker = invoker

    def start(
        self,
        event: dict[str, Any],
        *,
        request_id: str,
        now_ms: int,
        on_done: Callable[[IntegrationResult], None],
        raw_query: str | None = None,
    ) -> None:
        """Invoke the function; ``on_done`` gets the result once, on the loop."""
        self._invoker.start(
            self._handler,
            event,
            wait_s=self._timeout,
            route_key=self.route_key,
            on_done=partial(self._finish, event, on_done),
            connection_id=event["requestContext"]["connectionId"],
        )

    def _finish(
        self,
        event: dict[str, Any],
        on_done: Callable[[IntegrationResult], None],
        invocation: Invocation,
    ) -> None:
        outcome = proxy_outcome(invocation, event["requestContext"]["eventType"])
        if invocation.outcome is _ERROR:
            error = invocation.error
            assert error is not None
            if not isinstance(error, FunctionTimeoutError | ThrottledError):  # logged already
                logger.error(
                    "%s (%s) raised %s",
                    self.target,
                    self.route_key,
                    error_summary(error),
                )
        elif invocation.outcome is _TIMEOUT:
            logger.error(
                "%s (%s) timed out after %.3f s", self.target, self.route_key, self._timeout
            )
        elif outcome.reason:
            logger.error("%s %s", self.target, outcome.reason)
        on_done(IntegrationResult(outcome, invocation, event))
