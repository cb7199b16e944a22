"""The browser pages served beside the API: a chat page and a live inspector.

``Inspector(emulator).install()`` adds, on the emulator's own host and port
(no extra port, nothing beyond ``--host``, 127.0.0.1 by default):

* ``GET /``: a chat page for the default application (``handlers/chat.py``);
* ``GET /_inspector``: open connections, a live stream of everything that
  happens (each frame with its route selection, the handler's event, result and
  duration, posts, errors, closes) and a route selection playground;
* ``GET /_static/<name>``: the pages' CSS and JavaScript (``emulator/tools/static/``);
* ``ws://HOST:PORT/_inspector/feed``: the live feed the inspector page reads;
* ``GET /_inspector/aws``: with ``--mock-aws``, the mocked services' tables and
  their items, queues, topics and buckets, as JSON (what ``apigw-ws state``
  prints; the page gets the same on the feed, again after each change).

Where this departs from AWS, on purpose: API Gateway answers a plain ``GET /``
(no upgrade) with 426 Upgrade Required (spec §1). With the inspector installed,
``GET /`` is the chat page instead, a developer convenience; any other unknown
path still gets 426, and a WebSocket upgrade on ``/`` still reaches the API.
``apigw-ws serve --no-inspector`` (nothing installed) restores AWS's answer.

The feed shows everything, tokens in headers included, and a browser lets any
web page open a WebSocket to 127.0.0.1. So the feed serves only a page that
read ``/_inspector``: its first message must repeat the token that page carries
(another site cannot read it, by the same-origin policy). The emulator itself
answers the pages and the feed only for its own Host and Origin (against DNS
rebinding and other sites' pages: :mod:`emulator.gateway.access.origins`).

Cost: the observer is on the emulator's list only while a page is subscribed,
so frames pay nothing unwatched (the emulator builds no notification for an
empty list); entries (built by :mod:`emulator.tools.feed`), and the routing
explanation of each frame, are computed only while someone watches. The first
page to subscribe gets the open connections from the emulator
(:meth:`~emulator.app.Emulator.open_connections`).
Feed protocol, JSON text messages:

* page → feed: ``{"type": "hello", "token": ...}``, then any number of
  ``{"type": "route", "id": 1, "expression": ..., "message": ..., "routes": [...] | null}``
* feed → page: ``{"type": "hello", "api": {...}, "connections": [...]}``,
  ``{"type": "entries", "entries": [...]}`` (the history in batches, then one
  per live entry), ``{"type": "route", "id": 1, ...}`` answers,
  ``{"type": "gap", "dropped": 12, "first": 30, "last": 41}`` where entries were
  dropped for a page that fell behind, and with ``--mock-aws``
  ``{"type": "aws", "tables": [...], "queues": [...], ...}`` after the hello and
  after each change to the data (at most every :data:`AWS_REFRESH` seconds).

A page that stops reading costs bounded memory: once the emulator stops reading
from it (its connection is :data:`~emulator.wire.connection.WRITE_BUFFER_LIMIT`
behind), new entries wait in that page's backlog, up to
:data:`BACKLOG_BYTES`; past that the oldest are dropped, and the page is told
how many before the rest arrive.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from emulator.app import Emulator
from emulator.errors import SelectionExpressionError
from emulator.gateway.lifecycle import open_details
from emulator.model.selection import compile_expression
from emulator.tools.feed import entry_for, frame_entry, open_entry, route_report, to_json
from emulator.tools.state import AWS_STATE_PATH
from emulator.wire.messages import HttpRequest, HttpResponse, WebSocketPeer

__all__ = ["FEED_PATH", "INSPECTOR_PATH", "Inspector", "route_report"]

logger = logging.getLogger("emulator.inspector")

INSPECTOR_PATH = "/_inspector"
FEED_PATH = "/_inspector/feed"
HISTORY = 1000  # entries kept for, and sent to, a newly opened inspector
BATCH = 200  # history entries per feed message
BAD_TOKEN = (1008, "invalid inspector token")  # 1008: policy violation (RFC 6455 §7.4.1)
BACKLOG_BYTES = 1 << 20  # entries kept for a page that fell behind, oldest dropped first
AWS_REFRESH = 0.2  # seconds: a burst of writes refreshes the page's tables once
AWS_ITEMS = 100  # items shown per table

_PAGES = {"/": "chat.html", INSPECTOR_PATH: "inspector.html"}
_ASSETS = {
    "style.css": "text/css; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "inspector.js": "text/javascript; charset=utf-8",
}
_HTML = "text/html; charset=utf-8"
_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
)


class Inspector:
    """The chat page, the inspector page and its feed, attached to one emulator."""

    def __init__(self, emulator: Emulator, *, history: int = HISTORY) -> None:
        self.emulator = emulator
        # Proves a feed client read /_inspector; per process, so a reload keeps working.
        self.token = secrets.token_urlsafe(18)
        self.history: deque[str] = deque(maxlen=history)  # serialized entries, oldest first
        self._subscribers: dict[WebSocketPeer, _Subscriber] = {}
        self._sequence = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aws_refresh: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self._aws_stale = False

    def install(self) -> Inspector:
        """Register the pages, the assets, the feed and the observer on the emulator."""
        routes = self.emulator.http_routes
        for path, name in _PAGES.items():
            routes[path] = partial(self._page, name)
        for name, content_type in _ASSETS.items():
            routes[f"/_static/{name}"] = partial(self._asset, name, content_type)
        routes[AWS_STATE_PATH] = self._aws_state
        self.emulator.socket_routes[FEED_PATH] = self
        # The observer goes on the emulator's list with the first page (_subscribe).
        # What functions print and log, under the invocation that wrote it.
        _OutputFeed.serve(self)
        if self.emulator.aws is not None:
            self.emulator.aws.listeners.append(self._aws_changed)
        return self

    @property
    def watched(self) -> bool:
        """Whether at least one inspector page is subscribed to the feed."""
        return bool(self._subscribers)

    # Pages

    def _page(self, name: str, request: HttpRequest) -> HttpResponse:
        refused = _refuse_method(request)
        if refused is not None:
            return refused
        page = (
            _read(name)
            .decode("utf-8")
            .replace("{{stage}}", html.escape(self.emulator.config.stage))
            .replace("{{token}}", html.escape(self.token))
        )
        return _ok(request, _HTML, page.encode("utf-8"))

    async def _aws_state(self, request: HttpRequest) -> HttpResponse:
        """The mocked services' data as JSON (``apigw-ws state``)."""
        refused = _refuse_method(request)
        if refused is not None:
            return refused
        # Host and Origin are checked before any page (Emulator.handle_http).
        headers = (("Content-Type", "application/json"), *_HEADERS)
        aws = self.emulator.aws
        if aws is None:
            body = b'{"message": "this emulator does not mock AWS (serve --mock-aws)"}'
            return HttpResponse(404, headers, body)
        query = urlsplit(request.target).query
        limit = next(
            (
                int(v)
                for k, _, v in (p.partition("=") for p in query.split("&"))
                if k == "limit" and v.isdigit()
            ),
            AWS_ITEMS,
        )
        view = await asyncio.to_thread(_aws_view, aws, limit)
        return _ok(request, "application/json", to_json(view).encode("utf-8"))

    def _asset(self, name: str, content_type: str, request: HttpRequest) -> HttpResponse:
        return _refuse_method(request) or _ok(request, content_type, _read(name))

    # The feed (a SocketEndpoint)

    def on_open(self, peer: WebSocketPeer) -> None:
        """Nothing is sent until the page says hello with the token."""

    def on_message(self, peer: WebSocketPeer, text: str) -> None:
        try:
            request = json.loads(text)
        except (ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            request = {}
        kind = request.get("type")
        if peer not in self._subscribers:
            token = str(request.get("token", "")).encode()
            if kind != "hello" or not secrets.compare_digest(token, self.token.encode()):
                peer.close(*BAD_TOKEN)
                return
            self._subscribe(peer)
        elif kind == "route":
            try:
                answer = _play(self, request)
            except Exception as exc:  # a visitor's input must not take the feed down
                logger.error("the playground failed on %r", request, exc_info=True)
                answer = {"error": f"the emulator failed: {type(exc).__name__}: {exc}"}
            peer.send_text(to_json({"type": "route", "id": request.get("id"), **answer}))
        else:
            peer.send_text(to_json({"type": "error", "message": f"unknown request {kind!r}"}))

    def on_drained(self, peer: WebSocketPeer) -> None:
        subscriber = self._subscribers.get(peer)
        if subscriber is not None:
            subscriber.drain()

    def on_close(self, peer: WebSocketPeer) -> None:
        self._subscribers.pop(peer, None)
        if not self._subscribers and self.observe in self.emulator.observers:
            self.emulator.observers.remove(self.observe)

    def _subscribe(self, peer: WebSocketPeer) -> None:
        config = self.emulator.config
        self._loop = asyncio.get_running_loop()
        if self.observe not in self.emulator.observers:
            # The first page: from now on, every notification.
            self.emulator.observers.append(self.observe)
        hello = {
            "type": "hello",
            "api": {
                "url": self.emulator.url,
                "stage": config.stage,
                "expression": config.route_selection_expression.source,
                "routes": sorted(config.routes),
                "mockAws": self.emulator.aws is not None,
            },
            "connections": [
                open_entry(open_details(info)) for info in self.emulator.open_connections()
            ],
            "historySize": self.history.maxlen,
            "last": self._sequence,  # entries up to this one are history
        }
        peer.send_text(to_json(hello))
        history = list(self.history)
        for start in range(0, len(history), BATCH):
            batch = ",".join(history[start : start + BATCH])
            peer.send_text(f'{{"type":"entries","entries":[{batch}]}}')
        self._subscribers[peer] = _Subscriber(peer)
        if self.emulator.aws is not None:
            self._refresh_aws(now=True)

    # The mocked services' data, refreshed on the page after each change

    def _aws_changed(self) -> None:
        """A call changed the mocked data; called on the calling thread."""
        loop = self._loop
        if loop is not None and self._subscribers:
            try:
                loop.call_soon_threadsafe(self._refresh_aws)
            except RuntimeError:  # the loop is closed: the emulator stopped
                return

    def _refresh_aws(self, *, now: bool = False) -> None:
        if self._aws_refresh is not None:
            self._aws_stale = True  # refreshed again once this one is sent
            return
        loop = asyncio.get_running_loop()
        if now:
            self._aws_refresh = loop.create_task(self._send_aws())
        else:
            self._aws_refresh = loop.call_later(
                AWS_REFRESH,
                lambda: setattr(self, "_aws_refresh", loop.create_task(self._send_aws())),
            )

    async def _send_aws(self) -> None:
        aws = self.emulator.aws
        try:
            if aws is not None and self._subscribers:
                view = await asyncio.to_thread(_aws_view, aws, AWS_ITEMS)
                message = to_json({"type": "aws", **view})
                for peer in tuple(self._subscribers):
                    peer.send_text(message)
        except Exception:  # watching must never break the API it watches
            logger.error("the inspector cannot show the mocked AWS data", exc_info=True)
        finally:
            self._aws_refresh = None
            if self._aws_stale:
                self._aws_stale = False
                self._refresh_aws()

    # The observer

    def observe(self, kind: str, details: Mapping[str, Any]) -> None:
        """The emulator's observer; called on the event loop thread."""
        if not self._subscribers:
            return  # no page subscribed (yet): nothing to show
        self._sequence += 1
        try:
            entry = _entry(self, kind, details)
        except Exception:  # watching must never break the API it watches
            logger.error("the inspector cannot show a %r event", kind, exc_info=True)
            entry = {"kind": kind, "details": "the inspector cannot show this; its log says why"}
        entry["n"] = self._sequence
        entry["t"] = time.time_ns() // 1_000_000
        text = to_json(entry)
        self.history.append(text)
        for subscriber in tuple(self._subscribers.values()):
            subscriber.offer(self._sequence, text)


class _OutputFeed(logging.Handler):
    """Hands the lines functions write to the inspectors, on their event loops.

    One for the process, on the ``emulator.handler`` logger from the first
    inspector on and never taken off: a handler that took itself off from
    inside its own ``emit`` (its inspector gone) would make the logger skip the
    next handler's record, as ``Logger.callHandlers`` walks the list it is
    removed from. Free while no page watches; holds the inspectors weakly.
    Being a handler, it keeps logging's last resort (stderr, when logging is
    not configured) from a function's warnings once an inspector has existed.
    """

    _installed: _OutputFeed | None = None
    _lock = threading.Lock()  # installs may come from any thread

    def __init__(self) -> None:
        super().__init__()
        # Replaced, never changed in place: emit reads it from handler threads.
        self._inspectors: tuple[weakref.ref[Inspector], ...] = ()

    @classmethod
    def serve(cls, inspector: Inspector) -> None:
        """Feed ``inspector`` too."""
        with cls._lock:
            feed = cls._installed
            if feed is None:
                feed = cls._installed = cls()
            live = tuple(ref for ref in feed._inspectors if ref() is not None)
            feed._inspectors = (*live, weakref.ref(inspector))
        # On the logger again each time (a no-op while it is there): a logging
        # configuration of the user's (dictConfig) may have cleared its handlers.
        logging.getLogger("emulator.handler").addHandler(feed)

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "apigw", None)
        if not isinstance(fields, dict):
            return
        for ref in self._inspectors:
            inspector = ref()
            if inspector is None or not inspector.watched:
                continue
            loop = inspector.emulator.loop
            if loop is None or loop.is_closed():
                continue
            details = {**fields, "text": record.getMessage(), "level": record.levelname.lower()}
            inspector.emulator.call_on_loop(inspector.observe, "output", details)


class _Subscriber:
    """One page's feed: entries go out at once, or wait while the page is behind."""

    def __init__(self, peer: WebSocketPeer) -> None:
        self.peer = peer
        self.backlog: deque[tuple[int, str, int]] = deque()  # (sequence number, entry, bytes)
        self.backlog_bytes = 0
        self.dropped: list[int] = []  # the first and last dropped sequence numbers
        self.dropped_count = 0

    def offer(self, sequence: int, text: str) -> None:
        if not self.backlog and not self.peer.writing_paused:
            self.peer.send_text(f'{{"type":"entries","entries":[{text}]}}')
            return
        size = len(text.encode("utf-8"))
        self.backlog.append((sequence, text, size))
        self.backlog_bytes += size
        while self.backlog_bytes > BACKLOG_BYTES:
            dropped, _, dropped_size = self.backlog.popleft()
            self.backlog_bytes -= dropped_size
            self.dropped = [self.dropped[0] if self.dropped else dropped, dropped]
            self.dropped_count += 1
        if not self.peer.writing_paused:
            self.drain()

    def drain(self) -> None:
        """Send the gap, if any, then the backlog, until the page falls behind again."""
        if self.dropped:
            first, last = self.dropped
            gap = {"type": "gap", "dropped": self.dropped_count, "first": first, "last": last}
            self.peer.send_text(to_json(gap))
            self.dropped, self.dropped_count = [], 0
        while self.backlog and not self.peer.writing_paused:
            batch = [self.backlog.popleft() for _ in range(min(BATCH, len(self.backlog)))]
            self.backlog_bytes -= sum(size for _, _, size in batch)
            entries = ",".join(text for _, text, _ in batch)
            self.peer.send_text(f'{{"type":"entries","entries":[{entries}]}}')


def _play(inspector: Inspector, request: Mapping[str, Any]) -> dict[str, Any]:
    """The playground: route a visitor's message by a visitor's expression."""
    source, message, routes = (
        request.get("expression"),
        request.get("message"),
        request.get("routes"),
    )
    if not isinstance(source, str) or not isinstance(message, str):
        return {"error": "expression and message must be strings"}
    if routes is None:
        routes = list(inspector.emulator.config.routes)
    if not isinstance(routes, list) or not all(isinstance(key, str) for key in routes):
        return {"error": "routes must be a list of route keys"}
    try:
        expression = compile_expression(source)
    except SelectionExpressionError as exc:
        return {"error": str(exc)}
    return route_report(expression, message, routes)


def _entry(inspector: Inspector, kind: str, details: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "frame":
        config = inspector.emulator.config
        report = route_report(
            config.route_selection_expression, details["body"], config.routes, details["decision"]
        )
        return frame_entry(details, report)
    return entry_for(kind, details)


def _aws_view(aws: Any, limit: int) -> dict[str, Any]:
    from emulator.runtime.aws_view import view  # boto3's types: only with --mock-aws

    return view(aws, limit)


def _read(name: str) -> bytes:
    # Read on each request (a few KB): an edited page shows on reload.
    return resources.files("emulator.tools").joinpath("static", name).read_bytes()


def _ok(request: HttpRequest, content_type: str, body: bytes) -> HttpResponse:
    headers = (("Content-Type", content_type), *_HEADERS)
    return HttpResponse(200, headers, b"" if request.method == "HEAD" else body)


def _refuse_method(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    return HttpResponse(405, (("Allow", "GET, HEAD"), *_HEADERS))
