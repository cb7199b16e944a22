"""The emulator: one WebSocket API served on one host and port.

A thin composition of the layers, and the object the CLI and the pytest
plugin drive. It listens through the wire (:mod:`emulator.wire`), keeps the
connections (:mod:`emulator.gateway.registry`, their timers and the
@connections operations), runs each event through the request pipeline of
the API's current version (:mod:`emulator.gateway.pipeline`), which invokes
functions with the Lambda runtime (:mod:`emulator.runtime`), and swaps in a
new version on reload. What a connection is told, and when, is decided here:
the upgrade waits for ``$connect``, ``$disconnect`` follows every close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from emulator.clock import Clock, IdFactory, SystemClock, new_api_id, new_id
from emulator.gateway.connections import CLIENT_BUFFER_BYTES, ConnectionsApi
from emulator.gateway.events import ConnectionInfo, trace_id
from emulator.gateway.management import ManagementResponse, is_management_path
from emulator.gateway.pipeline import Observer, Pipeline, Services
from emulator.gateway.registry import ConnectionRecord, ConnectionState, Registry
from emulator.gateway.timers import ConnectionTimers
from emulator.model.api import ApiConfig
from emulator.runtime import boto
from emulator.runtime.invoke import Invoker
from emulator.runtime.loader import LoadedHandler, load_handlers
from emulator.runtime.workers import LoopInbox
from emulator.wire.messages import (
    HttpRequest,
    HttpResponse,
    UpgradeAnswer,
    UpgradeRequest,
    WebSocketPeer,
)
from emulator.wire.server import DEFAULT_MAX_HEADER_BYTES, Server

__all__ = ["Emulator", "SocketEndpoint"]

logger = logging.getLogger("emulator")

DEFAULT_REGION = "us-east-1"

# Close codes and reasons the server sends, and $disconnect then reports (spec §3.3).
GOING_AWAY = (1001, "Going away")

Peer = WebSocketPeer


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
        self.host = host
        self.port = port
        self.region = region
        self.api_id = api_id or new_api_id()
        self.domain_name = f"{self.api_id}.execute-api.{region}.amazonaws.com"
        self._clock = clock or SystemClock()
        self._new_id = id_factory
        self._registry: Registry[Peer] = Registry()
        self.connections = ConnectionsApi(
            self._registry, self._send, lambda: self.config.stage, id_factory
        )
        self._invoker = Invoker(region=region, callbacks=self.connections, base_dir=config.base_dir)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Observers see what happens: kinds open, refuse, frame, invoke, send, close.
        self.observers: list[Observer] = []
        # Pages and WebSocket endpoints beside the API (the inspector), by path.
        self.http_routes: dict[str, Callable[[HttpRequest], HttpResponse]] = {}
        self.socket_routes: dict[str, SocketEndpoint] = {}
        self._services = Services(
            invoker=self._invoker,
            clock=self._clock,
            new_id=id_factory,
            send=self._send,
            observers=self.observers,
            spawn=self._spawn,
            region=region,
            api_id=self.api_id,
            port=lambda: self.port,
        )
        self._pipeline = Pipeline(config, load_handlers(config), self._services)
        self._server = Server(
            self,
            max_message_bytes=config.limits.message_size,
            max_frame_bytes=config.limits.frame_size,
            max_connections=max_connections,
            max_header_bytes=max_header_bytes,
        )
        self._time_offset = 0.0  # seconds added to the clock by advance_time()
        self._timers = ConnectionTimers(
            self._now, self._registry, lambda: self.config.limits, _going_away
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False

    @property
    def config(self) -> ApiConfig:
        """The version of the API served now."""
        return self._pipeline.config

    @property
    def handlers(self) -> Mapping[str, LoadedHandler]:
        """The loaded handler of each Lambda route (and ``$authorizer``)."""
        return self._pipeline.handlers

    def replace(self, config: ApiConfig, handlers: Mapping[str, LoadedHandler]) -> None:
        """Serve ``config`` with ``handlers`` from the next event on (live reload).

        Open connections stay open; invocations under way finish with the
        version they started with.
        """
        stale, self._pipeline = self._pipeline, Pipeline(config, dict(handlers), self._services)
        self._server.max_message_bytes = config.limits.message_size
        self._server.max_frame_bytes = config.limits.frame_size
        if self._loop is not None:
            self._spawn(stale.aclose())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in a task that :meth:`stop` waits for."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        await self._pipeline.aclose()
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

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock for timers forward, firing what expires.

        Lets a test check a 10-minute idle timeout without waiting 10 minutes.
        """
        self._time_offset += seconds
        self._timers.recheck()

    def _now(self) -> float:
        """Monotonic seconds, plus what advance_time() added: activity and timers' clock."""
        return self._clock.monotonic() + self._time_offset

    # The wire's callbacks (an Application)

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
        answer = await self._connect(peer, request, split.path, split.query)
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

    async def _connect(
        self, peer: Peer, request: UpgradeRequest, path: str, raw_query: str
    ) -> UpgradeAnswer:
        pipeline = self._pipeline
        if path.rstrip("/") not in ("", f"/{pipeline.config.stage}"):
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
            stage=pipeline.config.stage,
        )
        record = self._registry.add(info, peer)
        peer.record = record
        request_id = self._new_id()
        headers = [
            *request.headers,
            # What API Gateway adds (spec §2.2 rule 3), with the local port and scheme.
            ("X-Amzn-Trace-Id", trace_id(now, request_id)),
            ("X-Forwarded-For", request.peer[0]),
            ("X-Forwarded-Port", str(request.local[1])),
            ("X-Forwarded-Proto", "http"),
        ]
        answer, record.info = await pipeline.connect(
            info,
            request,
            headers=headers,
            query=parse_qsl(raw_query, keep_blank_values=True) if raw_query else None,
            raw_query=raw_query or None,
            request_id=request_id,
            now_ms=now,
        )
        return answer

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
        self._pipeline.message(record, text, now)

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
        self._spawn(self._disconnect(record, code, reason))

    async def _disconnect(self, record: ConnectionRecord[Peer], code: int, reason: str) -> None:
        try:
            await self._pipeline.disconnect(record, code, reason)
        finally:
            self._registry.discard(record.connection_id)

    # Sending

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
