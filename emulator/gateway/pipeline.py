"""The request pipeline: every event of every route takes the same steps (spec §3, §A.1).

API Gateway handles each request the same way, whatever the route's integration:

1. **select** the route: ``$connect`` and ``$disconnect`` by the event, a
   message by the route selection expression (:mod:`.selection`);
2. **authorize and validate**: on ``$connect`` the API key, IAM or the
   Lambda authorizer, and required parameters (:mod:`.access.admit`); on a
   message the route's request model (:mod:`.validation`);
3. **integrate**: the route's integration runs with the proxy event
   (:mod:`.events`): the Lambda proxy (``AWS_PROXY``,
   :mod:`.integrations.lambda_proxy`) or a backend (``HTTP_PROXY``, ``HTTP``,
   ``AWS``, ``MOCK``, :mod:`.integrations.runner`); either ends in an
   :class:`~.integrations.outcome.Outcome`;
4. **respond**: the handshake's answer or the route response (:mod:`.respond`).

Observers and the log see every step the same way for every integration. One
:class:`Pipeline` serves one version of the API; a reload builds a new one,
and what is under way finishes in the version it started in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from emulator.clock import Clock, IdFactory
from emulator.gateway.access.admit import admit
from emulator.gateway.connections import Sender
from emulator.gateway.events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
)
from emulator.gateway.integrations.lambda_proxy import LambdaProxy
from emulator.gateway.integrations.outcome import IntegrationResult
from emulator.gateway.log import EVENTS, log_close, log_connect, log_frame
from emulator.gateway.registry import ConnectionRecord
from emulator.gateway.respond import ERROR, connect_answer, error_frame, message_reply
from emulator.gateway.selection import RouteDecision, RouteSelector
from emulator.gateway.validation import ModelValidators, bad_request_body
from emulator.model.api import ApiConfig, RouteConfig
from emulator.model.integration import LambdaIntegration
from emulator.runtime.invocation import Invocation
from emulator.runtime.invoke import Invoker
from emulator.runtime.loader import AUTHORIZER, LoadedHandler
from emulator.wire.messages import UpgradeAnswer, UpgradeRequest, WebSocketPeer

if TYPE_CHECKING:
    from emulator.gateway.integrations.runner import IntegrationRunner

__all__ = ["Integration", "Observer", "Pipeline", "Services"]

logger = logging.getLogger("emulator")

Record = ConnectionRecord[WebSocketPeer]
# An observer sees what happens: kinds open, refuse, frame, invoke, send, close.
Observer = Callable[[str, Mapping[str, Any]], None]


class Integration(Protocol):
    """A route's integration, ready to run: started per event, it reports once."""

    @property
    def target(self) -> str:
        """What it calls, for the log: a handler, or ``HTTP_PROXY POST <url>``."""
        ...

    def start(
        self,
        event: dict[str, Any],
        *,
        request_id: str,
        now_ms: int,
        on_done: Callable[[IntegrationResult], None],
        raw_query: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class Services:
    """What a pipeline uses of the emulator that runs it."""

    invoker: Invoker
    clock: Clock
    new_id: IdFactory
    send: Sender  # one message to one connection, ``source`` says who sent it
    observers: Sequence[Observer]  # the emulator's list: observers may come and go
    spawn: Callable[[Coroutine[Any, Any, None]], object]  # a task the emulator tracks
    region: str
    api_id: str
    port: Callable[[], int]
    proto: str = "http"  # how clients reach the emulator: https over TLS


@dataclass(frozen=True)
class _Route:
    """One route, compiled: its settings and its integration, ready to run."""

    config: RouteConfig
    integration: Integration


class Pipeline:
    """One version of the API: its routes compiled, the steps every event takes."""

    def __init__(
        self, config: ApiConfig, handlers: Mapping[str, LoadedHandler], services: Services
    ) -> None:
        self.config = config
        self.handlers = handlers
        self._services = services
        self._selector = RouteSelector(config.route_selection_expression, config.route_keys)
        self._validators = ModelValidators(config.models)
        self._runner: IntegrationRunner | None = None
        self._routes: dict[str, _Route] = {}
        for route_key, route in config.routes.items():
            integration: Integration
            if isinstance(route.integration, LambdaIntegration):
                handler = handlers[route_key]
                integration = LambdaProxy(route_key, route.integration, handler, services.invoker)
            else:
                integration = self._backend(route)
            self._routes[route_key] = _Route(route, integration)

    def _backend(self, route: RouteConfig) -> Integration:
        # Imported here: its HTTP client and VTL engine are start-up time that an
        # API of Lambda routes only (the default) need not pay.
        from emulator.gateway.integrations.runner import BackendIntegration, IntegrationRunner

        if self._runner is None:
            services = self._services
            self._runner = IntegrationRunner(
                self.config,
                api_id=services.api_id,
                region=services.region,
                port=services.port,
                proto=services.proto,
            )
        return BackendIntegration(route, self._runner, self._services.spawn)

    async def aclose(self) -> None:
        """Release what the routes hold (the backends' HTTP connection pool)."""
        if self._runner is not None:
            await self._runner.aclose()

    # $connect

    async def connect(
        self,
        info: ConnectionInfo,
        request: UpgradeRequest,
        *,
        headers: Sequence[tuple[str, str]],
        query: Sequence[tuple[str, str]] | None,
        raw_query: str | None,
        request_id: str,
        now_ms: int,
    ) -> tuple[UpgradeAnswer, ConnectionInfo]:
        """Authorize the upgrade and run ``$connect``: the answer, and what it learned.

        ``headers`` are the upgrade's with API Gateway's additions.
        """
        services = self._services
        admitted = await admit(
            self.config,
            info,
            request,
            headers=headers,
            query=query,
            request_id=request_id,
            region=services.region,
            invoke=self._invoke_authorizer,
            handlers=self.handlers,
            clock=services.clock,
        )
        if isinstance(admitted, UpgradeAnswer):
            return admitted, info
        info = admitted
        route = self._routes.get("$connect")
        if route is None:
            # AWS: $connect is optional; without it the connection is accepted.
            if EVENTS.isEnabledFor(logging.INFO):
                log_connect(info.connection_id, info.source_ip, 200, None, None)
            return UpgradeAnswer(200), info
        event = connect_event(
            info,
            headers=headers,
            query=query,
            request_id=request_id,
            request_time_ms=services.clock.epoch_ms(),
        )
        result = await self._run(route, event, request_id, now_ms, raw_query)
        answer = connect_answer(result.outcome)
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(
                info.connection_id,
                info.source_ip,
                answer.status,
                route.integration.target,
                result.invocation,
                request_id=request_id,
            )
        return answer, info

    async def _invoke_authorizer(self, handler: LoadedHandler, event: Any) -> Invocation:
        authorizer = self.config.authorizer
        assert authorizer is not None
        invocation = await self._services.invoker.invoke(
            handler, event, wait_s=authorizer.timeout, route_key=AUTHORIZER
        )
        self._notify_invoke(AUTHORIZER, event, invocation)
        return invocation

    # Messages

    def message(self, record: Record, text: str, now_ms: int) -> None:
        """Route one message from ``record``'s client, received at ``now_ms``."""
        services = self._services
        decision = self._selector.select(text)
        observers = services.observers
        if observers:
            details = {"connectionId": record.connection_id, "body": text, "decision": decision}
            for observer in observers:
                observer("frame", details)
        route_key = decision.route_key
        if route_key is None:
            frame = error_frame("Forbidden", record.connection_id, services.new_id())
            services.send(record, frame, ERROR)
            if EVENTS.isEnabledFor(logging.INFO):
                log_frame(record.connection_id, None, decision.reason, decision.evaluated)
            return
        route = self._routes[route_key]
        request = route.config.request
        if request.validates:
            problem = self._validators.check(request, text)
            if problem is not None:
                logger.warning(
                    "%s: message to %s failed validation: %s",
                    record.connection_id,
                    route_key,
                    problem,
                )
                body = bad_request_body(record.connection_id, services.new_id())
                services.send(record, body, ERROR)
                return
        request_id = services.new_id()
        event = message_event(
            record.info,
            route_key=route_key,
            body=text,
            message_id=services.new_id(),
            request_id=request_id,
            request_time_ms=now_ms,
        )
        route.integration.start(
            event,
            request_id=request_id,
            now_ms=now_ms,
            on_done=partial(self._message_done, record, route, decision, request_id),
        )

    def _message_done(
        self,
        record: Record,
        route: _Route,
        decision: RouteDecision,
        request_id: str,
        result: IntegrationResult,
    ) -> None:
        self._report(route, result)
        if EVENTS.isEnabledFor(logging.INFO):
            log_frame(
                record.connection_id,
                decision.route_key,
                decision.reason,
                decision.evaluated,
                route.integration.target,
                result.invocation,
                request_id,
            )
        reply = message_reply(
            result.outcome,
            route_response=route.config.route_response,
            connection_id=record.connection_id,
            request_id=request_id,
        )
        if reply is not None:
            self._services.send(record, *reply)

    # $disconnect

    async def disconnect(self, record: Record, code: int, reason: str) -> None:
        """Run ``$disconnect`` for a connection that closed with ``code`` and ``reason``."""
        route = self._routes.get("$disconnect")
        if route is None:
            if EVENTS.isEnabledFor(logging.INFO):
                log_close(record.connection_id, code, reason, None, None)
            return
        clock = self._services.clock
        request_id = self._services.new_id()
        event = disconnect_event(
            record.info,
            status_code=code,
            reason=reason,
            request_id=request_id,
            request_time_ms=clock.epoch_ms(),
        )
        # AWS: best effort, the outcome is ignored (spec §3.3).
        result = await self._run(route, event, request_id, clock.epoch_ms())
        if EVENTS.isEnabledFor(logging.INFO):
            log_close(
                record.connection_id,
                code,
                reason,
                route.integration.target,
                result.invocation,
                request_id,
            )

    # Reporting

    async def _run(
        self,
        route: _Route,
        event: dict[str, Any],
        request_id: str,
        now_ms: int,
        raw_query: str | None = None,
    ) -> IntegrationResult:
        """Start ``route``'s integration and wait for its result, reported."""
        future: asyncio.Future[IntegrationResult] = asyncio.get_running_loop().create_future()

        def done(result: IntegrationResult) -> None:
            # The caller may have stopped waiting (a client gone during $connect).
            if not future.done():
                future.set_result(result)

        route.integration.start(
            event, request_id=request_id, now_ms=now_ms, raw_query=raw_query, on_done=done
        )
        result = await future
        self._report(route, result)
        return result

    def _report(self, route: _Route, result: IntegrationResult) -> None:
        if self._services.observers:
            self._notify_invoke(route.config.route_key, result.event, result.invocation)

    def _notify_invoke(self, route_key: str, event: Any, invocation: Invocation) -> None:
        details = {"routeKey": route_key, "event": event, "invocation": invocation}
        for observer in self._services.observers:
            observer("invoke", details)
