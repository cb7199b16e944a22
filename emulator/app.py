"""The emulator: one WebSocket API served on one host and port.

A thin composition of the layers, and the object the CLI and the pytest
plugin drive: the wire listens (:mod:`emulator.wire`), the gateway keeps the
connections and runs each event through the request pipeline of the API's
current version (:mod:`emulator.gateway.lifecycle`,
:mod:`emulator.gateway.pipeline`), and the Lambda runtime invokes the
functions (:mod:`emulator.runtime`). Beside the API, the same port serves the
@connections API and whatever pages and WebSocket endpoints tools attach
(the inspector). A reload swaps in a new version of the API.

Every HTTP request goes through :meth:`Emulator.handle_http`, which first
refuses the ones whose Host or Origin is not the emulator's own
(:mod:`emulator.gateway.access.origins`); the HTTP APIs then require a SigV4
signature, as on AWS (:meth:`Emulator.authenticate`).
With ``mock_aws``, the AWS services its functions call run in-process
(:mod:`emulator.runtime.mock_aws`, moto), with the API's resources created
before the first connection; ``state_dir`` keeps their data across restarts.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from emulator.clock import Clock, IdFactory, SystemClock, new_api_id, new_id
from emulator.errors import ConfigError
from emulator.gateway.access import origins
from emulator.gateway.access.signed import EXECUTE_API, Caller, authenticate
from emulator.gateway.connections import ConnectionsApi, request_id_from
from emulator.gateway.events import ConnectionInfo
from emulator.gateway.lifecycle import GOING_AWAY, Lifecycle
from emulator.gateway.management import is_management_path
from emulator.gateway.pipeline import Observer, Pipeline, Services
from emulator.model.api import ApiConfig
from emulator.runtime import boto
from emulator.runtime.guards import LoopWatchdog, install_exit_guard
from emulator.runtime.invoke import Invoker
from emulator.runtime.lambda_service import LambdaService
from emulator.runtime.loader import AUTHORIZER, LoadedHandler, load_functions
from emulator.runtime.sandbox import AwsAccess
from emulator.runtime.workers import LoopInbox
from emulator.wire.messages import (
    HttpRequest,
    HttpResponse,
    UpgradeAnswer,
    UpgradeRequest,
    WebSocketPeer,
)
from emulator.wire.server import DEFAULT_MAX_HEADER_BYTES, Server, tls_context

if TYPE_CHECKING:
    from emulator.runtime.mock_aws import MockedAws

__all__ = ["Emulator", "SocketEndpoint"]

DEFAULT_REGION = "us-east-1"
# Lambda's Invoke API, served on the same port (as `sam local start-lambda` serves it).
LAMBDA_API_PREFIX = "/2015-03-31/functions/"
# The SigV4 service names of the @connections API and of Lambda (botocore: signingName).
LAMBDA = "lambda"

Peer = WebSocketPeer


class SocketEndpoint(Protocol):
    """A WebSocket endpoint served beside the API, such as the inspector's feed."""

    def on_open(self, peer: WebSocketPeer) -> None: ...

    def on_message(self, peer: WebSocketPeer, text: str) -> None: ...

    def on_drained(self, peer: WebSocketPeer) -> None: ...

    def on_close(self, peer: WebSocketPeer) -> None: ...


def served_region(explicit: str | None, config: ApiConfig | None = None) -> str:
    """The region an API is served in: as given, else as the API says, else the
    shell's ``AWS_REGION``, else AWS's default."""
    if explicit:
        return explicit
    if config is not None and config.region:
        return config.region
    return os.environ.get("AWS_REGION") or DEFAULT_REGION


class Emulator:
    """Serve ``config`` on ``host:port`` (port 0 picks a free port).

    Use as ``async with Emulator(config) as emulator:`` or call :meth:`start`
    and :meth:`stop`. Handler modules are imported when it is constructed, so a
    broken handler is a :class:`~emulator.errors.ConfigError` before anything listens.

    ``domains`` are further host names HTTP requests may be addressed to (a
    custom domain, a name in /etc/hosts). ``allow_unsigned`` accepts unsigned
    @connections requests, for teaching: only on a loopback ``host``.
    ``mock_aws`` (default: the config's ``mockAws``) runs the AWS services the
    functions call in-process, and creates the config's ``resources`` first;
    ``state_dir`` restores their data at start and saves it at stop.
    ``shell_credentials`` gives the functions the shell's AWS credentials
    instead of placeholders, so that their calls reach AWS itself.
    """

    def __init__(
        self,
        config: ApiConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 3001,
        region: str | None = None,
        api_id: str | None = None,
        clock: Clock | None = None,
        id_factory: IdFactory = new_id,
        max_connections: int | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        platform_logs: bool = False,
        certfile: str | None = None,
        keyfile: str | None = None,
        domains: Sequence[str] = (),
        allow_unsigned: bool = False,
        mock_aws: bool | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        shell_credentials: bool = False,
    ) -> None:
        if allow_unsigned and not origins.trusted_name(host.lower(), ()):
            raise ConfigError(
                f"unsigned @connections requests may be allowed only on a loopback address "
                f"(127.0.0.1, ::1, localhost), not on {host!r}: it would let anyone who "
                "reaches it post to and close every connection",
                source="allow_unsigned",
            )
        self.allow_unsigned = allow_unsigned
        self.domains = tuple(domains)
        self.host = host
        self.port = port
        # As given, else as the API says, else the shell's, else AWS's default.
        region = served_region(region, config)
        self.region = region
        self.api_id = api_id or config.api_id or new_api_id()
        self.domain_name = f"{self.api_id}.execute-api.{region}.amazonaws.com"
        clock = clock or SystemClock()
        self._new_id = id_factory
        self._tasks: set[asyncio.Task[Any]] = set()
        # Observers see what happens: kinds open, refuse, frame, invoke, send, close,
        # and lambda (a function invoked through the Lambda API).
        self.observers: list[Observer] = []
        # Pages and WebSocket endpoints beside the API (the inspector), by path.
        self.http_routes: dict[
            str, Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
        ] = {}
        self.socket_routes: dict[str, SocketEndpoint] = {}
        self._gateway = Lifecycle(
            clock=clock,
            new_id=id_factory,
            observers=self.observers,
            spawn=self._spawn,
            domain_name=self.domain_name,
            api_id=self.api_id,
        )
        self.connections: ConnectionsApi = self._gateway.connections
        self._invoker = Invoker(
            region=region,
            callbacks=self.connections,
            base_dir=config.base_dir,
            platform_logs=platform_logs,
            concurrency=config.limits.concurrency,
        )
        # The Lambda Invoke API of this API's functions (lambda.invoke from handlers).
        self.lambda_api = LambdaService(self._invoker, region=region, observers=self.observers)
        self.lambda_api.when_settled = self._gateway.when_settled
        # Before any function's init: module-level boto3 clients reach this emulator.
        boto.install()
        # A handler's os._exit fails its invocation instead of ending the emulator.
        install_exit_guard()
        self._watchdog: LoopWatchdog | None = None
        self.state_dir = state_dir
        self.shell_credentials = shell_credentials
        # The mocked AWS services, their resources created before any init.
        self.aws: MockedAws | None = None
        if config.mock_aws if mock_aws is None else mock_aws:
            from emulator.runtime.aws_state import open_mocked

            self.aws = open_mocked(region, state_dir)
        self._services = Services(
            invoker=self._invoker,
            clock=clock,
            new_id=id_factory,
            send=self._gateway.send,
            observers=self.observers,
            spawn=self._spawn,
            region=region,
            api_id=self.api_id,
            port=lambda: self.port,
            proto="https" if certfile else "http",
        )
        self._loaded: dict[int, dict[str, LoadedHandler]] = {}
        try:
            handlers = self.load(config, fresh=True)
        except BaseException:
            self._close_aws(save=False)
            raise
        self._pipeline = self._gateway.pipeline = Pipeline(config, handlers, self._services)
        self._serve_functions(config, handlers)
        self._server = Server(
            self,
            max_message_bytes=config.limits.message_size,
            max_frame_bytes=config.limits.frame_size,
            max_connections=max_connections,
            max_header_bytes=max_header_bytes,
            tls=tls_context(certfile, keyfile) if certfile else None,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: LoopInbox | None = None  # calls into the loop, once started
        self._started = False

    @property
    def config(self) -> ApiConfig:
        """The version of the API served now."""
        return self._pipeline.config

    @property
    def handlers(self) -> Mapping[str, LoadedHandler]:
        """The loaded handler of each Lambda route (and ``$authorizer``)."""
        return self._pipeline.handlers

    def load(self, config: ApiConfig, *, fresh: bool = False) -> dict[str, LoadedHandler]:
        """Init ``config``'s functions as this emulator runs them (its region):
        the handler of each Lambda route, and the authorizer's. Raises
        :class:`~emulator.errors.ConfigError` for a function whose init fails.

        ``fresh`` inits every module anew, as a new deployment would; else (a
        reload) the modules that did not change are kept, with their state.
        """
        if self.aws is not None:
            # A reload's new resources; the others keep their data.
            self.aws.declare(config.resources, config.source)
        functions = load_functions(
            config,
            region=self.region,
            lambda_api=self.lambda_api,
            fresh=fresh,
            aws=AwsAccess(services=self.aws, shell_credentials=self.shell_credentials),
        )
        handlers = {
            route_key: functions[route.function.name]
            for route_key, route in config.routes.items()
            if route.function is not None
        }
        if config.authorizer is not None:
            handlers[AUTHORIZER] = functions[config.authorizer.function.name]
        self._loaded[id(config)] = functions
        return handlers

    def replace(self, config: ApiConfig, handlers: Mapping[str, LoadedHandler]) -> None:
        """Serve ``config`` with ``handlers`` from the next event on (live reload).

        Open connections stay open; invocations under way finish with the
        version they started with.
        """
        stale = self._pipeline
        self._pipeline = self._gateway.pipeline = Pipeline(config, dict(handlers), self._services)
        self._serve_functions(config, handlers)
        self._server.max_message_bytes = config.limits.message_size
        self._server.max_frame_bytes = config.limits.frame_size
        self._invoker.concurrency = config.limits.concurrency
        if self._loop is not None:
            self._spawn(stale.aclose())

    def _serve_functions(self, config: ApiConfig, handlers: Mapping[str, LoadedHandler]) -> None:
        """Every function of ``config`` answers the Lambda API, by its name."""
        functions = self._loaded.pop(id(config), None)
        if functions is None:  # handlers loaded elsewhere: the routes' and authorizer's
            functions = {handler.config.name: handler for handler in handlers.values()}
        self._loaded.clear()
        self.lambda_api.functions = functions

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in a task that :meth:`stop` waits for."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop it runs on, once started."""
        return self._loop

    def call_on_loop(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` on the event loop: at once from its thread, else
        in order with the handler threads' results and posts. Nothing before start."""
        if self._inbox is not None:
            self._inbox.deliver(function, *args)

    # Lifecycle

    async def start(self) -> None:
        """Listen, and route this API's @connections calls made through botocore."""
        self._loop = asyncio.get_running_loop()
        self._gateway.timers.bind(self._loop)
        # One way in from handler threads, shared by results, posts and what they
        # print: their order is kept, and a burst of posts wakes the loop once.
        inbox = self._inbox = LoopInbox(self._loop)
        self.connections.bind(inbox)
        self._invoker.bind(inbox)
        self.lambda_api.bind(self._loop, inbox)
        await self._server.start(self.host, self.port)
        self.host, self.port = self._server.address[0], self._server.address[1]
        boto.register(self, self.intercepted_hosts(), self.lambda_api)
        # Says so when an `async def` handler blocks the loop everyone shares.
        self._watchdog = LoopWatchdog(self._loop, self._invoker.async_handler)
        self._watchdog.start()
        self._started = True

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close every connection with 1001, run each ``$disconnect``, stop listening;
        then save the mocked services' data (``state_dir``)."""
        if not self._started:
            self._close_aws(save=False)
            return
        self._started = False
        self._gateway.timers.cancel_all()
        await self._server.stop(*GOING_AWAY)
        if self._tasks:
            await asyncio.wait(tuple(self._tasks), timeout=grace_s)
        await self._invoker.drain(grace_s)
        await self._pipeline.aclose()
        boto.unregister(self)
        if self._watchdog is not None:
            self._watchdog.stop()
        self._invoker.shutdown()
        self._close_aws(save=True)

    def _close_aws(self, *, save: bool) -> None:
        aws, self.aws = self.aws, None
        if aws is None:
            return
        try:
            if save and self.state_dir is not None:
                from emulator.runtime import aws_state

                aws_state.save(aws, self.state_dir)
        finally:
            aws.close()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def secure(self) -> bool:
        """Whether it serves over TLS (``wss://``, ``https://``)."""
        return self._server.secure

    @property
    def url(self) -> str:
        """The WebSocket URL, e.g. ``ws://127.0.0.1:3001/local`` (``wss://`` over TLS)."""
        scheme = "wss" if self.secure else "ws"
        return f"{scheme}://{_netloc(self.host, self.port)}/{self.config.stage}"

    @property
    def management_url(self) -> str:
        """The endpoint_url for ``boto3.client("apigatewaymanagementapi", ...)``."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{_netloc(self.host, self.port)}/{self.config.stage}"

    @property
    def callback_url(self) -> str:
        """The AWS-style callback URL handlers build from their event."""
        return f"https://{self.domain_name}/{self.config.stage}"

    def intercepted_hosts(self) -> set[str]:
        """Hosts whose @connections calls botocore hands to this emulator in-process."""
        return {self.domain_name, _netloc(self.host, self.port)}

    def connection_id_for(self, host: str, port: int) -> str:
        """The id of the open connection whose client is at ``host:port``."""
        for record in self._gateway.registry:
            if record.peer.remote_address == (host, port):
                return record.connection_id
        raise LookupError(f"no connection from {host}:{port}")

    def connection_ids(self) -> list[str]:
        """Ids of the connections that are open now."""
        return self._gateway.registry.open_ids()

    def open_connections(self) -> list[ConnectionInfo]:
        """The connections that are open now, as their events describe them."""
        return [record.info for record in self._gateway.registry.open_records()]

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock for timers forward, firing what expires.

        Lets a test check a 10-minute idle timeout without waiting 10 minutes.
        """
        self._gateway.advance_time(seconds)

    # The wire's callbacks (an Application)

    def handle_http(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        refused = self.refuse_foreign(request.headers)
        if refused is not None:
            return refused
        path = request.target.split("?", 1)[0]
        page = self.http_routes.get(path)
        if page is not None:
            return page(request)
        if path.startswith(LAMBDA_API_PREFIX):
            # Signed for `lambda` in this region, as Lambda's endpoint wants.
            caller = self.authenticate(request, LAMBDA)
            if not isinstance(caller, Caller):
                return caller
            return self.lambda_api.handle(request.target, request.headers, request.body)
        if is_management_path(path):
            caller = self.authenticate(request, EXECUTE_API)
            if not isinstance(caller, Caller):
                return caller
            return self.handle_management(request.method, request.target, request.body)
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
            # Not the API, which AWS opens to any origin: the emulator's own endpoint.
            refused = self.refuse_foreign(request.headers)
            if refused is not None:
                return UpgradeAnswer(refused.status, body=refused.body, headers=refused.headers)
            # Not an API connection: from now on the endpoint gets its events.
            peer.app = _EndpointApp(self, endpoint)
            return UpgradeAnswer(200)
        return await self._gateway.connect(peer, request, split.path, split.query)

    def handle_open(self, peer: Peer) -> None:
        self._gateway.opened(peer)

    def handle_message(self, peer: Peer, text: str) -> None:
        self._gateway.message(peer, text)

    def handle_drained(self, peer: Peer) -> None:
        """Nothing waits on an API connection's writes: sends past the gateway's
        bound were refused or dropped, not queued."""

    def handle_closed(self, peer: Peer, code: int, reason: str) -> None:
        self._gateway.closed(peer, code, reason)

    # Who may use the HTTP APIs

    def http_names(self) -> set[str]:
        """Host names HTTP requests may be addressed to, besides loopback ones."""
        return {self.host.lower(), self.domain_name, *(d.lower() for d in self.domains)}

    def refuse_foreign(self, headers: Sequence[tuple[str, str]]) -> HttpResponse | None:
        """421 or 403 for a request whose Host or Origin is not the emulator's own, else None."""
        return origins.refusal(headers, names=self.http_names(), port=self.port)

    def authenticate(self, request: HttpRequest, service: str) -> Caller | HttpResponse:
        """The SigV4 caller of an HTTP API request signed for ``service``, or AWS's 403.

        Signed for the API's region; the accepted keys are ``iamCredentials``
        (or ``--credentials``), any key without them. In-process calls from
        handlers never get here: botocore's hooks answer them before they are
        signed (:mod:`emulator.runtime.boto`).
        """
        return authenticate(
            request,
            service=service,
            region=self.region,
            credentials=self.config.iam_credentials,
            now=datetime.datetime.now(datetime.UTC),
            request_id=request_id_from(self._new_id()),
            allow_unsigned=self.allow_unsigned,
        )

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

    def handle_management(self, method: str, target: str, body: bytes) -> HttpResponse:
        """Answer one @connections request (HTTP endpoint and botocore alike)."""
        return self.connections.handle_management(method, target, body)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _EndpointApp:
    """The wire's view of a connection that belongs to a :class:`SocketEndpoint`."""

    def __init__(self, emulator: Emulator, endpoint: SocketEndpoint) -> None:
        self.emulator = emulator
        self.endpoint = endpoint

    def handle_http(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        return self.emulator.handle_http(request)

    async def handle_upgrade(self, peer: Peer, request: UpgradeRequest) -> UpgradeAnswer:
        return await self.emulator.handle_upgrade(peer, request)

    def handle_open(self, peer: Peer) -> None:
        self.endpoint.on_open(peer)

    def handle_message(self, peer: Peer, text: str) -> None:
        self.endpoint.on_message(peer, text)

    def handle_drained(self, peer: Peer) -> None:
        self.endpoint.on_drained(peer)

    def handle_closed(self, peer: Peer, code: int, reason: str) -> None:
        self.endpoint.on_close(peer)
