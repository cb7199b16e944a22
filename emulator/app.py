"""The emulator: one WebSocket API served on one host and port.

It wires the pure core (config, route selection, events, results, registry,
management mapping) to the adapters (transport, handler invocation, botocore
interception), and is the object the CLI and the pytest plugin drive. Each
connection's life is here: the upgrade and ``$connect``, each message's route
and reply, ``$disconnect``. Who may connect is :mod:`emulator.gateway.access.admit`'s call,
the @connections operations are :mod:`emulator.gateway.connections`', and idle or
too-old connections are closed by :mod:`emulator.gateway.timers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import SplitResult, parse_qsl, urlsplit

from emulator.clock import Clock, IdFactory, SystemClock, new_api_id, new_id
from emulator.gateway.access.admit import admit
from emulator.gateway.connections import CLIENT_BUFFER_BYTES, ConnectionsApi
from emulator.gateway.events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
)
from emulator.gateway.management import (
    ManagementResponse,
    is_management_path,
)
from emulator.gateway.registry import ConnectionRecord, ConnectionState, Registry
from emulator.gateway.results import (
    MalformedResultError,
    interpret_connect_result,
    interpret_route_result,
)
from emulator.gateway.timers import ConnectionTimers
from emulator.gateway.validation import ModelValidators, bad_request_body
from emulator.model.config import ApiConfig, RouteRequest
from emulator.model.selection import RouteDecision, RouteSelector
from emulator.model.settings import IntegrationRoute
from emulator.runtime import boto
from emulator.runtime.invoke import Invocation, InvocationOutcome, Invoker
from emulator.runtime.loader import LoadedHandler, load_handlers
from emulator.runtime.logs import EVENTS, log_close, log_connect, log_frame
from emulator.runtime.workers import LoopInbox
from emulator.wire.transport import (
    DEFAULT_MAX_HEADER_BYTES,
    HttpRequest,
    HttpResponse,
    Server,
    UpgradeAnswer,
    UpgradeRequest,
    WebSocketPeer,
)

if TYPE_CHECKING:
    from emulator.gateway.integrations.runner import IntegrationRunner, RunResult

__all__ = ["Emulator", "SocketEndpoint"]

logger = logging.getLogger("emulator")

DEFAULT_REGION = "us-east-1"

# Close codes and reasons the server sends, and $disconnect then reports (spec §3.3).
GOING_AWAY = (1001, "Going away")


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """AWS's error frame, byte for byte, irregular spacing included (spec §3.2.5)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


Peer = WebSocketPeer
# A message route's hook: record, text, decision, now; True to go on to its Lambda.
_Special = Callable[[ConnectionRecord[Peer], str, RouteDecision, int], bool]


class SocketEndpoint(Protocol):
    """A WebSocket endpoint served beside the API, such as the inspector's feed."""

    def on_open(self, peer: WebSocketPeer) -> None: ...

    def on_message(self, peer: WebSocketPeer, text: str) -> None: ...

    def on_close(self, peer: WebSocketPeer) -> None: ...


class Emulator:
    """Serve ``config`` on ``host:port`` (port 0 picks a free port).

    Use as ``async with Emulator(config) as emulator:`` or call :meth:`start`
    and :meth:`stop`. Handler modules are imported when it is constructed, so a
    broken handler is a :class:`~emulator.errors.ConfigError` before anything listens.
    """

    def __init__(
        self,
        config: ApiConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 3001,
        region: str = DEFAULT_REGION,
        api_id: str | None = None,
        clock: Clock | None = None,
        id_factory: IdFactory = new_id,
        max_connections: int | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.region = region
        self.api_id = api_id or new_api_id()
        self.domain_name = f"{self.api_id}.execute-api.{region}.amazonaws.com"
        self._clock = clock or SystemClock()
        self._new_id = id_factory
        self._handlers: dict[str, LoadedHandler] = load_handlers(config)
        self._validators = ModelValidators(config.models)
        self._selector = RouteSelector(config.route_selection_expression, config.route_keys)
        self._runner = self._new_runner(config)
        self._registry: Registry[Peer] = Registry()
        self.connections = ConnectionsApi(
            self._registry, self._send, lambda: self.config.stage, id_factory
        )
        self._invoker = Invoker(region=region, callbacks=self.connections, base_dir=config.base_dir)
        self._server = Server(
            self,
            config.limits,
            max_connections=max_connections,
            max_header_bytes=max_header_bytes,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._time_offset = 0.0  # seconds added to the clock by advance_time()
        self._timers = ConnectionTimers(
            self._now, self._registry, lambda: self.config.limits, _going_away
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        # Observers see what happens: kinds open, refuse, frame, invoke, send, close.
        self.observers: list[Callable[[str, Mapping[str, Any]], None]] = []
        # Pages and WebSocket endpoints beside the API (the inspector), by path.
        self.http_routes: dict[str, Callable[[HttpRequest], HttpResponse]] = {}
        self.socket_routes: dict[str, SocketEndpoint] = {}
        # Message routes that are not a plain Lambda call (an integration, or a
        # model to validate against), decided once here, not per frame.
        self._special = self._special_routes(config)

    def replace(self, config: ApiConfig, handlers: Mapping[str, LoadedHandler]) -> None:
        """Serve ``config`` with ``handlers`` from the next event on (live reload).

        Open connections stay open; invocations under way finish with the
        version they started with.
        """
        self.config = config
        self._handlers = dict(handlers)
        self._validators = ModelValidators(config.models)
        self._selector = RouteSelector(config.route_selection_expression, config.route_keys)
        self._server.limits = config.limits
        stale, self._runner = self._runner, self._new_runner(config)
        if stale is not None and self._loop is not None:
            self._track(self._loop.create_task(stale.aclose()))
        self._special = self._special_routes(config)

    def _new_runner(self, config: ApiConfig) -> IntegrationRunner | None:
        if not config.integrations:
            return None
        # Imported here: its HTTP client and VTL engine are start-up time that an
        # API of Lambda routes only (the default) need not pay.
        from emulator.gateway.integrations.runner import IntegrationRunner

        return IntegrationRunner(
            config, api_id=self.api_id, region=self.region, port=lambda: self.port
        )

    def _special_routes(self, config: ApiConfig) -> dict[str, _Special]:
        special: dict[str, _Special] = {}
        for route_key in config.route_keys:
            integration = config.integrations.get(route_key)
            if integration is not None:
                special[route_key] = partial(self._message_integration, integration)
                continue
            request = config.routes[route_key].request
            if request.validates:
                special[route_key] = partial(self._validated, request)
        return special

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def handlers(self) -> Mapping[str, LoadedHandler]:
        """The loaded handler of each route (and ``$authorizer``)."""
        return self._handlers

    # Lifecycle

    async def start(self) -> None:
        """Listen, and route this API's @connections calls made through botocore."""
        self._loop = asyncio.get_running_loop()
        self._timers.bind(self._loop)
        # One way in from handler threads, shared by results and posts: their
        # order is kept, and a burst of posts wakes the loop once.
        inbox = LoopInbox(self._loop)
        self.connections.bind(inbox)
        self._invoker.bind(inbox)
        await self._server.start(self.host, self.port)
        self.host, self.port = self._server.address[0], self._server.address[1]
        boto.register(self, self.intercepted_hosts())
        self._started = True

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close every connection with 1001, run each ``$disconnect``, stop listening."""
        if not self._started:
            return
        self._started = False
        self._timers.cancel_all()
        await self._server.stop(*GOING_AWAY)
        if self._tasks:
            await asyncio.wait(tuple(self._tasks), timeout=grace_s)
        await self._invoker.drain(grace_s)
        if self._runner is not None:
            await self._runner.aclose()
        boto.unregister(self)
        self._invoker.shutdown()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The WebSocket URL, e.g. ``ws://127.0.0.1:3001/local``."""
        return f"ws://{_netloc(self.host, self.port)}/{self.config.stage}"

    @property
    def management_url(self) -> str:
        """The endpoint_url for ``boto3.client("apigatewaymanagementapi", ...)``."""
        return f"http://{_netloc(self.host, self.port)}/{self.config.stage}"

    @property
    def callback_url(self) -> str:
        """The AWS-style callback URL handlers build from their event."""
        return f"https://{self.domain_name}/{self.config.stage}"

    def intercepted_hosts(self) -> set[str]:
        """Hosts whose @connections calls botocore hands to this emulator in-process."""
        return {self.domain_name, _netloc(self.host, self.port)}

    def connection_id_for(self, host: str, port: int) -> str:
        """The id of the open connection whose client is at ``host:port``."""
        for record in self._registry:
            if record.peer.remote_address == (host, port):
                return record.connection_id
        raise LookupError(f"no connection from {host}:{port}")

    def connection_ids(self) -> list[str]:
        """Ids of the connections that are open now."""
        return self._registry.open_ids()

    # Transport callbacks

    def handle_http(self, request: HttpRequest) -> HttpResponse:
        path = request.target.split("?", 1)[0]
        page = self.http_routes.get(path)
        if page is not None:
            return page(request)
        if is_management_path(path):
            answer = self.handle_management(request.method, request.target, request.body)
            return HttpResponse(answer.status, answer.headers, answer.body)
        # AWS answers a plain GET without the upgrade with 426 (spec §1).
        return HttpResponse(
            426,
            (("Content-Type", "application/json"), ("Upgrade", "websocket")),
            b'{"message":"Upgrade Required"}',
        )

    async def handle_upgrade(self, peer: Peer, request: UpgradeRequest) -> UpgradeAnswer:
        split = urlsplit(request.target)
        endpoint = self.socket_routes.get(split.path)
        if endpoint is not None:
            # Not an API connection: from now on the endpoint gets its events.
            peer.app = _EndpointApp(self, endpoint)
            return UpgradeAnswer(200)
        answer = await self._upgrade(peer, request, split)
        if self.observers and not answer.accepted:
            record = peer.record
            self._notify(
                "refuse",
                {
                    "connectionId": record.connection_id if record is not None else None,
                    "sourceIp": request.peer[0],
                    "path": request.target,
                    "status": answer.status,
                },
            )
        return answer

    async def _upgrade(
        self, peer: Peer, request: UpgradeRequest, split: SplitResult
    ) -> UpgradeAnswer:
        if split.path.rstrip("/") not in ("", f"/{self.config.stage}"):
            # UNKNOWN on AWS for an unknown stage; the spec infers REST's 403.
            return UpgradeAnswer(403, body=b'{"message":"Forbidden"}')
        now = self._clock.epoch_ms()
        user_agent = None
        for name, value in request.headers:
            if name.lower() == "user-agent":
                user_agent = value
        info = ConnectionInfo(
            connection_id=self._new_id(),
            connected_at=now,
            source_ip=request.peer[0],
            user_agent=user_agent,
            domain_name=self.domain_name,
            api_id=self.api_id,
            stage=self.config.stage,
        )
        record = self._registry.add(info, peer)
        peer.record = record
        request_id = self._new_id()
        headers = [
            *request.headers,
            # What API Gateway adds (spec §2.2 rule 3), with the local port and scheme.
            ("X-Amzn-Trace-Id", _trace_id(now, request_id)),
            ("X-Forwarded-For", request.peer[0]),
            ("X-Forwarded-Port", str(request.local[1])),
            ("X-Forwarded-Proto", "http"),
        ]
        query = parse_qsl(split.query, keep_blank_values=True) if split.query else None
        outcome = await admit(
            self.config,
            info,
            request,
            headers=headers,
            query=query,
            request_id=request_id,
            region=self.region,
            invoke=partial(self._invoke, log_errors=False),
            handlers=self._handlers,
            clock=self._clock,
        )
        if isinstance(outcome, UpgradeAnswer):
            return outcome
        record.info = info = outcome
        integration = self.config.integrations.get("$connect")
        if integration is not None:
            event = connect_event(
                info,
                headers=headers,
                query=query,
                request_id=request_id,
                request_time_ms=self._clock.epoch_ms(),
                stage_variables=self.config.stage_variables,
            )
            return await self._connect_integration(integration, event, split.query or None, now)
        handler = self._handlers.get("$connect")
        if handler is None:
            # AWS: $connect is optional; without it the connection is accepted.
            if EVENTS.isEnabledFor(logging.INFO):
                log_connect(info.connection_id, info.source_ip, 200, None, None)
            return UpgradeAnswer(200)
        event = connect_event(
            info,
            headers=headers,
            query=query,
            request_id=request_id,
            request_time_ms=self._clock.epoch_ms(),
        )
        invocation = await self._invoke(handler, event, request_id)
        answer = self._connect_answer(handler, invocation)
        if EVENTS.isEnabledFor(logging.INFO):
            log_connect(
                info.connection_id, info.source_ip, answer.status, handler.route.handler, invocation
            )
        return answer

    async def _connect_integration(
        self, route: IntegrationRoute, event: dict[str, Any], raw_query: str | None, now: int
    ) -> UpgradeAnswer:
        assert self._runner is not None
        result = await self._runner.run(route, event, raw_query=raw_query, now_ms=now)
        self._report_integration(route, result)
        outcome = result.outcome
        if outcome.failure is not None:
            body = f'{{"message": "{outcome.failure.value}"}}'.encode()
            answer = UpgradeAnswer(outcome.status, body=body)
        else:
            answer = UpgradeAnswer(outcome.status, outcome.subprotocol)
        if EVENTS.isEnabledFor(logging.INFO):
            context = event["requestContext"]
            log_connect(
                context["connectionId"],
                context["identity"]["sourceIp"],
                answer.status,
                route.integration.describe(),
                result.invocation,
            )
        return answer

    def _connect_answer(self, handler: LoadedHandler, invocation: Invocation) -> UpgradeAnswer:
        if invocation.outcome is InvocationOutcome.TIMEOUT:
            # UNKNOWN on AWS; the spec recommends 504.
            return UpgradeAnswer(504, body=b'{"message": "Endpoint request timed out"}')
        if invocation.outcome is InvocationOutcome.ERROR:
            return UpgradeAnswer(502, body=b'{"message": "Internal server error"}')
        try:
            outcome = interpret_connect_result(invocation.value)
        except MalformedResultError as exc:
            logger.error("%s returned a malformed result: %s", handler.route.handler, exc)
            return UpgradeAnswer(502, body=b'{"message": "Internal server error"}')
        return UpgradeAnswer(outcome.status, outcome.subprotocol)

    def handle_open(self, peer: Peer) -> None:
        record: ConnectionRecord[Peer] = peer.record
        record.state = ConnectionState.OPEN
        record.opened_at = record.active_at = self._now()
        self._timers.check(record)
        if self.observers:
            info = record.info
            self._notify(
                "open",
                {
                    "connectionId": info.connection_id,
                    "sourceIp": info.source_ip,
                    "userAgent": info.user_agent,
                    "connectedAt": info.connected_at,
                    "authorizer": dict(info.authorizer) if info.authorizer else None,
                },
            )

    def handle_message(self, peer: Peer, text: str) -> None:
        record: ConnectionRecord[Peer] = peer.record
        now = self._clock.epoch_ms()
        record.last_active_ms = now
        record.active_at = self._now()
        decision = self._selector.select(text)
        route_key = decision.route_key
        if self.observers:
            self._notify(
                "frame",
                {"connectionId": record.connection_id, "body": text, "decision": decision},
            )
        if route_key is None:
            self._send(
                record, error_frame("Forbidden", record.connection_id, self._new_id()), "error"
            )
            if EVENTS.isEnabledFor(logging.INFO):
                log_frame(record.connection_id, None, decision.reason.value, decision.evaluated)
            return
        special = self._special.get(route_key)
        if special is not None and not special(record, text, decision, now):
            return
        handler = self._handlers[route_key]
        request_id = self._new_id()
        event = message_event(
            record.info,
            route_key=route_key,
            body=text,
            message_id=self._new_id(),
            request_id=request_id,
            request_time_ms=now,
        )
        self._invoker.start(
            handler,
            event,
            request_id=request_id,
            wait_s=handler.route.timeout,
            on_done=partial(self._message_done, record, handler, event, request_id, decision),
        )

    def _validated(
        self,
        request: RouteRequest,
        record: ConnectionRecord[Peer],
        text: str,
        decision: RouteDecision,
        now: int,
    ) -> bool:
        """Whether the message passes the route's model; else the Bad request body frame."""
        problem = self._validators.check(request, text)
        if problem is None:
            return True
        logger.warning(
            "%s: message to %s failed validation: %s",
            record.connection_id,
            decision.route_key,
            problem,
        )
        self._send(record, bad_request_body(record.connection_id, self._new_id()), "error")
        return False

    def _message_integration(
        self,
        route: IntegrationRoute,
        record: ConnectionRecord[Peer],
        text: str,
        decision: RouteDecision,
        now: int,
    ) -> bool:
        """Start ``route``'s integration for a message (never the Lambda path)."""
        if route.request.validates and not self._validated(
            route.request, record, text, decision, now
        ):
            return False
        request_id = self._new_id()
        event = message_event(
            record.info,
            route_key=route.route_key,
            body=text,
            message_id=self._new_id(),
            request_id=request_id,
            request_time_ms=now,
        )
        task = asyncio.get_running_loop().create_task(
            self._run_message_integration(record, route, event, decision, now)
        )
        self._track(task)
        return False

    async def _run_message_integration(
        self,
        record: ConnectionRecord[Peer],
        route: IntegrationRoute,
        event: dict[str, Any],
        decision: RouteDecision,
        now: int,
    ) -> None:
        assert self._runner is not None
        result = await self._runner.run(route, event, now_ms=now)
        self._report_integration(route, result)
        if EVENTS.isEnabledFor(logging.INFO):
            log_frame(
                record.connection_id,
                decision.route_key,
                decision.reason.value,
                decision.evaluated,
                route.integration.describe(),
                result.invocation,
            )
        outcome = result.outcome
        if outcome.failure is not None:
            # AWS: sent on one- and two-way routes alike (spec §3.2.5, §A.1).
            request_id = event["requestContext"]["requestId"]
            frame = error_frame(outcome.failure.value, record.connection_id, request_id)
            self._send(record, frame, "error")
        elif outcome.frame is not None:
            self._send(record, outcome.frame, "route-response")

    def _report_integration(self, route: IntegrationRoute, result: RunResult) -> None:
        if self.observers:
            self._notify(
                "invoke",
                {
                    "routeKey": route.route_key,
                    "event": result.event,
                    "invocation": result.invocation,
                },
            )

    def handle_closed(self, peer: Peer, code: int, reason: str) -> None:
        record: ConnectionRecord[Peer] | None = peer.record
        if record is None:
            return
        if record.state is ConnectionState.PENDING:
            # Refused, or gone while $connect ran: it never opened, no $disconnect.
            self._registry.discard(record.connection_id)
            return
        record.state = ConnectionState.CLOSING
        self._timers.forget(record.connection_id)
        self._notify("close", {"connectionId": record.connection_id, "code": code})
        self._track(
            asyncio.get_running_loop().create_task(self._run_disconnect(record, code, reason))
        )

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock for timers forward, firing what expires.

        Lets a test check a 10-minute idle timeout without waiting 10 minutes.
        """
        self._time_offset += seconds
        self._timers.recheck()

    def _now(self) -> float:
        """Monotonic seconds, plus what advance_time() added: activity and timers' clock."""
        return self._clock.monotonic() + self._time_offset

    # Invocations

    async def _invoke(
        self, handler: LoadedHandler, event: Any, request_id: str, log_errors: bool = True
    ) -> Invocation:
        invocation = await self._invoker.invoke(
            handler, event, request_id=request_id, wait_s=handler.route.timeout
        )
        self._report(handler, event, invocation, log_errors)
        return invocation

    def _report(
        self, handler: LoadedHandler, event: Any, invocation: Invocation, log_errors: bool = True
    ) -> None:
        if self.observers:
            self._notify(
                "invoke",
                {"routeKey": handler.route.route_key, "event": event, "invocation": invocation},
            )
        if not log_errors:
            return
        if invocation.outcome is InvocationOutcome.ERROR:
            logger.error(
                "%s (%s) raised",
                handler.route.handler,
                handler.route.route_key,
                exc_info=invocation.error,
            )
        elif invocation.outcome is InvocationOutcome.TIMEOUT:
            logger.error(
                "%s (%s) timed out after %.3f s",
                handler.route.handler,
                handler.route.route_key,
                handler.route.timeout,
            )

    def _message_done(
        self,
        record: ConnectionRecord[Peer],
        handler: LoadedHandler,
        event: Any,
        request_id: str,
        decision: RouteDecision,
        invocation: Invocation,
    ) -> None:
        self._report(handler, event, invocation)
        if EVENTS.isEnabledFor(logging.INFO):
            log_frame(
                record.connection_id,
                decision.route_key,
                decision.reason.value,
                decision.evaluated,
                handler.route.handler,
                invocation,
            )
        if invocation.outcome is InvocationOutcome.TIMEOUT:
            self._send(
                record,
                error_frame("Endpoint request timed out", record.connection_id, request_id),
                "error",
            )
            return
        if invocation.outcome is InvocationOutcome.OK:
            try:
                reply = interpret_route_result(invocation.value)
            except MalformedResultError as exc:
                logger.error("%s returned a malformed result: %s", handler.route.handler, exc)
            else:
                if handler.route.route_response:
                    self._send(record, reply, "route-response")
                return
        # AWS: an integration failure sends this frame on one- and two-way routes
        # alike, and the connection stays open (spec §3.2.5).
        self._send(
            record, error_frame("Internal server error", record.connection_id, request_id), "error"
        )

    async def _run_disconnect(self, record: ConnectionRecord[Peer], code: int, reason: str) -> None:
        try:
            integration = self.config.integrations.get("$disconnect")
            handler = self._handlers.get("$disconnect")
            if integration is None and handler is None:
                if EVENTS.isEnabledFor(logging.INFO):
                    log_close(record.connection_id, code, reason, None, None)
                return
            request_id = self._new_id()
            event = disconnect_event(
                record.info,
                status_code=code,
                reason=reason,
                request_id=request_id,
                request_time_ms=self._clock.epoch_ms(),
            )
            # AWS: best effort, the outcome is ignored (spec §3.3).
            if integration is not None:
                assert self._runner is not None
                result = await self._runner.run(integration, event, now_ms=self._clock.epoch_ms())
                self._report_integration(integration, result)
                target, invocation = integration.integration.describe(), result.invocation
            else:
                assert handler is not None
                invocation = await self._invoke(handler, event, request_id)
                target = handler.route.handler
            if EVENTS.isEnabledFor(logging.INFO):
                log_close(record.connection_id, code, reason, target, invocation)
        finally:
            self._registry.discard(record.connection_id)

    def _send(self, record: ConnectionRecord[Peer], data: str | bytes, source: str) -> None:
        """Send one message; ``source`` says who sent it (for observers)."""
        peer = record.peer
        if not peer.is_open:
            return
        if source != "post" and peer.buffered_bytes > CLIENT_BUFFER_BYTES:
            # A client that stops reading must not grow memory without bound:
            # posts are refused with 429 before this, other messages dropped.
            logger.warning(
                "dropped a %s for %s: the client is not reading", source, record.connection_id
            )
            return
        record.last_active_ms = self._clock.epoch_ms()
        record.active_at = self._now()
        if isinstance(data, str):
            record.peer.send_text(data)
        else:
            record.peer.send_bytes(data)
        if self.observers:
            self._notify(
                "send", {"connectionId": record.connection_id, "data": data, "source": source}
            )

    def _notify(self, kind: str, details: Mapping[str, Any]) -> None:
        for observer in self.observers:
            observer(kind, details)

    # The @connections operations, callable from any thread (see ConnectionsApi)

    def post_to_connection(self, connection_id: str, data: bytes | str) -> None:
        """PostToConnection; raises the AWS errors of :mod:`emulator.errors`."""
        self.connections.post_to_connection(connection_id, data)

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        """GetConnection, shaped as boto3 returns it."""
        return self.connections.get_connection(connection_id)

    def delete_connection(self, connection_id: str) -> None:
        """DeleteConnection: close with 1000; ``$disconnect`` follows."""
        self.connections.delete_connection(connection_id)

    def handle_management(self, method: str, target: str, body: bytes) -> ManagementResponse:
        """Answer one @connections request (HTTP endpoint and botocore alike)."""
        return self.connections.handle_management(method, target, body)


def _going_away(record: ConnectionRecord[Peer]) -> None:
    record.peer.close(*GOING_AWAY)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _trace_id(now_ms: int, request_id: str) -> str:
    return f"Root=1-{now_ms // 1000:08x}-{request_id.encode().hex()[:24]:0<24}"


class _EndpointApp:
    """The transport's view of a connection that belongs to a :class:`SocketEndpoint`."""

    def __init__(self, emulator: Emulator, endpoint: SocketEndpoint) -> None:
        self.emulator = emulator
        self.endpoint = endpoint

    def handle_http(self, request: HttpRequest) -> HttpResponse:
        return self.emulator.handle_http(request)

    async def handle_upgrade(self, peer: Peer, request: UpgradeRequest) -> UpgradeAnswer:
        return await self.emulator.handle_upgrade(peer, request)

    def handle_open(self, peer: Peer) -> None:
        self.endpoint.on_open(peer)

    def handle_message(self, peer: Peer, text: str) -> None:
        self.endpoint.on_message(peer, text)

    def handle_closed(self, peer: Peer, code: int, reason: str) -> None:
        self.endpoint.on_close(peer)
