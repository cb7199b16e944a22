"""The chat page, the inspector page and its feed, without a browser.

Real loopback sockets on port 0: plain HTTP for the pages, the real websockets
client for the feed and the API. The browser end of the story is in
``tests/test_browser.py``.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from emulator.app import Emulator
from emulator.model.selection import compile_expression
from emulator.runtime.invocation import Invocation, InvocationOutcome
from emulator.tools import inspector as inspector_module
from emulator.tools import logs
from emulator.tools.inspector import FEED_PATH, Inspector, route_report
from emulator.tools.state import AWS_STATE_PATH
from emulator.tools.testing import Harness
from tests.conftest import HANDLERS, ROOT

TEACH_LOGS = ROOT / "tests" / "fixtures" / "teach_logs" / "routes.yaml"

TIMEOUT = 5.0
CHAT_ROUTES = ["$connect", "$default", "$disconnect", "sendmessage"]

# Helpers


async def http(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection: status, headers (lowercase), body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in sent.items()), "", ""]
    writer.write("\r\n".join(lines).encode("latin-1"))
    raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, body


class Feed:
    """A client of the inspector's feed, as the page is."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.hello: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int, token: str) -> Feed:
        feed = cls(await connect(f"ws://127.0.0.1:{port}{FEED_PATH}", max_size=None))
        await feed.connection.send(json.dumps({"type": "hello", "token": token}))
        feed.hello = await feed.receive()
        assert feed.hello["type"] == "hello"
        return feed

    async def receive(self) -> dict[str, Any]:
        try:
            message = await asyncio.wait_for(self.connection.recv(), TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"the feed sent nothing within {TIMEOUT} s") from None
        value: dict[str, Any] = json.loads(message)
        return value

    async def entries_until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Entries received until (and including) the first for which ``done`` is true."""
        start = len(self.entries)
        while True:
            message = await self.receive()
            assert message["type"] == "entries", message
            for entry in message["entries"]:
                self.entries.append(entry)
                if done(entry):
                    return self.entries[start:]

    async def next_of_type(self, kind: str) -> dict[str, Any]:
        """The next message of type ``kind``; entries received meanwhile are kept."""
        while True:
            message = await self.receive()
            if message["type"] == kind:
                return message
            self.entries.extend(message.get("entries", []))

    async def route(self, **request: Any) -> dict[str, Any]:
        await self.connection.send(json.dumps({"type": "route", "id": 7, **request}))
        answer = await self.receive()
        assert (answer["type"], answer["id"]) == ("route", 7), answer
        return answer

    async def close(self) -> None:
        await self.connection.close()


def invoked(route_key: str) -> Callable[[dict[str, Any]], bool]:
    return lambda entry: entry["kind"] == "invoke" and entry["routeKey"] == route_key


def sendmessage(data: str) -> str:
    return json.dumps({"action": "sendmessage", "data": data})


@pytest.fixture
async def chat(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """The default application (routes.yaml), with the inspector installed."""
    monkeypatch.delenv("TABLE_NAME", raising=False)  # the memory store, not DynamoDB
    harness = Harness.from_config(ROOT / "routes.yaml")
    Inspector(harness.emulator).install()
    async with harness:
        yield harness


def inspector_of(harness: Harness) -> Inspector:
    endpoint = harness.emulator.socket_routes[FEED_PATH]
    assert isinstance(endpoint, Inspector)
    return endpoint


@pytest.fixture
async def feed(chat: Harness) -> AsyncIterator[Feed]:
    opened = await Feed.open(chat.emulator.port, inspector_of(chat).token)
    yield opened
    await opened.close()


# The pages


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/_inspector", "text/html; charset=utf-8"),
        ("/_static/style.css", "text/css; charset=utf-8"),
        ("/_static/chat.js", "text/javascript; charset=utf-8"),
        ("/_static/inspector.js", "text/javascript; charset=utf-8"),
    ],
    ids=["chat-page", "inspector-page", "css", "chat-js", "inspector-js"],
)
async def test_pages_and_assets_are_served_with_their_type_and_no_caching(
    chat: Harness, path: str, content_type: str
) -> None:
    status, headers, body = await http(chat.emulator.port, path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert body
    assert int(headers["content-length"]) == len(body)


async def test_pages_load_only_what_the_emulator_serves(chat: Harness) -> None:
    port = chat.emulator.port
    for page in ("/", "/_inspector"):
        _, _, body = await http(port, page)
        links = re.findall(r'(?:src|href)="([^"]*)"', body.decode())
        assert links
        for link in links:
            if link.startswith(("#", "data:")) or link in ("/", "/_inspector"):
                continue
            # No CDN: everything the page loads comes from the package.
            assert link.startswith("/_static/"), link
            status, _, _ = await http(port, link)
            assert status == 200, link


async def test_the_chat_page_knows_the_stage_and_the_inspector_page_its_token(
    chat: Harness,
) -> None:
    _, _, chat_page = await http(chat.emulator.port, "/")
    assert b'<meta name="apigw-stage" content="local">' in chat_page
    _, _, inspector_page = await http(chat.emulator.port, "/_inspector")
    token = inspector_of(chat).token
    assert f'<meta name="inspector-token" content="{token}">'.encode() in inspector_page
    assert b"{{" not in chat_page + inspector_page


def test_the_static_files_ship_inside_the_package() -> None:
    static = resources.files("emulator.tools").joinpath("static")
    for name in ("chat.html", "inspector.html", "style.css", "chat.js", "inspector.js"):
        assert static.joinpath(name).is_file(), name


async def test_head_answers_without_a_body_and_other_methods_get_405(chat: Harness) -> None:
    status, headers, body = await http(chat.emulator.port, "/_static/chat.js", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    status, headers, _ = await http(chat.emulator.port, "/", method="POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("[::1]:{port}", 200),
        ("127.1.2.3:{port}", 200),
        ("192.168.1.20:{port}", 421),
        ("attacker.example:{port}", 421),
        ("", 421),
        ("[::1", 421),
    ],
    ids=[
        "loopback",
        "localhost",
        "ipv6",
        "loopback-net",
        "lan-ip",
        "dns-name",
        "none",
        "malformed",
    ],
)
async def test_the_inspector_page_answers_only_loopback_and_its_own_names(
    chat: Harness, host: str, status: int
) -> None:
    port = chat.emulator.port
    answer, _, body = await http(port, "/_inspector", headers={"Host": host.format(port=port)})
    assert answer == status
    assert (inspector_of(chat).token.encode() in body) is (status == 200)


async def test_an_unknown_path_still_gets_426_and_the_api_still_upgrades_on_root(
    chat: Harness,
) -> None:
    status, headers, body = await http(chat.emulator.port, "/local")
    assert (status, headers["upgrade"], body) == (
        426,
        "websocket",
        b'{"message":"Upgrade Required"}',
    )
    client = await chat.connect(path="/", query={"name": "root"})
    await client.send_text(sendmessage("via /"))
    assert await client.receive_text() == "root: via /"


async def test_without_install_nothing_is_added() -> None:
    """What ``apigw-ws serve --no-inspector`` runs: AWS's answers everywhere."""
    async with Harness.from_config({"routes": {"$default": "probe.ok"}}, base_dir=HANDLERS) as api:
        emulator: Emulator = api.emulator
        assert (emulator.http_routes, emulator.socket_routes) == ({}, {})
        assert emulator.observers == [api.record.observe]
        for path in ("/", "/_inspector", "/_static/chat.js"):
            status, _, _ = await http(emulator.port, path)
            assert status == 426, path
        assert await api.connect_rejected(path=FEED_PATH) == 403


# The feed


async def test_a_feed_without_the_token_is_closed_before_it_sees_anything(chat: Harness) -> None:
    hellos = (
        {"type": "hello", "token": "guess"},
        {"type": "hello", "token": "é"},
        {"type": "route"},
    )
    for hello in (*hellos, "not json"):
        async with connect(f"ws://127.0.0.1:{chat.emulator.port}{FEED_PATH}") as connection:
            await connection.send(json.dumps(hello) if isinstance(hello, dict) else hello)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(connection.recv(), TIMEOUT)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1008,
                "invalid inspector token",
            )
    assert not inspector_of(chat).watched


async def test_hello_describes_the_api_and_the_connections_open_before_it(chat: Harness) -> None:
    early = await chat.connect(query={"name": "early"})
    gone = await chat.connect(query={"name": "gone"})
    await gone.close()
    await chat.record.wait_for_invocations("$disconnect")
    feed = await Feed.open(chat.emulator.port, inspector_of(chat).token)
    assert feed.hello["api"] == {
        "url": chat.url,
        "stage": "local",
        "expression": "$request.body.action",
        "routes": CHAT_ROUTES,
        "mockAws": False,
    }
    [connection] = feed.hello["connections"]
    assert connection["id"] == early.connection_id
    assert connection["sourceIp"] == "127.0.0.1"
    assert connection["userAgent"].startswith("Python/")
    assert connection["authorizer"] is None
    assert feed.hello["historySize"] == 1000
    await feed.close()


async def test_a_frame_arrives_live_with_its_routing_and_what_came_of_it(
    chat: Harness, feed: Feed
) -> None:
    alice = await chat.connect(query={"name": "alice"})
    await alice.send_text(sendmessage("hi"))
    assert await alice.receive_text() == "alice: hi"
    entries = await feed.entries_until(invoked("sendmessage"))
    by_kind = {entry["kind"]: entry for entry in entries}
    assert [e["kind"] for e in entries] == ["invoke", "open", "frame", "send", "invoke"]
    assert by_kind["open"]["id"] == alice.connection_id
    frame = by_kind["frame"]
    assert frame["id"] == alice.connection_id
    assert frame["body"] == '{"action": "sendmessage", "data": "hi"}'
    assert (frame["routeKey"], frame["reason"], frame["evaluated"]) == (
        "sendmessage",
        "matched",
        "sendmessage",
    )
    assert frame["expression"] == "$request.body.action"
    assert frame["trace"] == [
        {
            "source": "$request.body.action",
            "path": "action",
            "found": True,
            "value": '"sendmessage"',
            "text": "sendmessage",
        }
    ]
    assert frame["steps"][-1] == "→ 'sendmessage' equals the route key exactly: route sendmessage."
    send = by_kind["send"]
    assert (send["id"], send["data"], send["source"]) == (alice.connection_id, "alice: hi", "post")
    invoke = entries[-1]
    assert (invoke["id"], invoke["outcome"], invoke["posts"]) == (alice.connection_id, "ok", 1)
    assert invoke["result"] == '{"statusCode":200}'
    assert invoke["durationMs"] >= 0
    event = json.loads(invoke["event"])
    assert event["body"] == frame["body"]
    assert event["requestContext"]["requestId"] == invoke["requestId"]
    numbers = [e["n"] for e in entries]
    assert numbers == sorted(numbers)
    assert all(isinstance(e["t"], int) for e in entries)


async def test_a_non_json_frame_falls_back_to_default_without_evaluating(
    chat: Harness, feed: Feed
) -> None:
    client = await chat.connect()
    await client.send_text("hello?")
    entries = await feed.entries_until(invoked("$default"))
    [frame] = [e for e in entries if e["kind"] == "frame"]
    assert (frame["routeKey"], frame["reason"], frame["evaluated"]) == (
        "$default",
        "not-json",
        None,
    )
    assert frame["trace"] == []
    assert any("not JSON" in step for step in frame["steps"])


async def test_errors_and_closes_are_in_the_stream() -> None:
    async with Harness.from_config(
        {"routes": {"$default": "probe.boom"}}, base_dir=HANDLERS
    ) as api:
        inspector = Inspector(api.emulator).install()
        watcher = await Feed.open(api.emulator.port, inspector.token)
        client = await api.connect()
        await client.send_text("{}")
        entries = await watcher.entries_until(lambda e: e.get("source") == "error")
        invoke = next(e for e in entries if e["kind"] == "invoke")
        assert (invoke["outcome"], invoke["error"]) == ("error", "RuntimeError: boom")
        assert '"Internal server error"' in entries[-1]["data"]
        await client.close(4000, "done")
        [close] = await watcher.entries_until(lambda e: e["kind"] == "close")
        assert (close["id"], close["code"]) == (client.connection_id, 4000)
        await watcher.close()


async def test_authorizer_context_is_shown_with_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAT_TOKEN", raising=False)  # the authorizer's default, letmein
    config = {
        "authorizer": {"handler": "handlers.auth.authorize"},
        "routes": {"$default": "handlers.chat.default"},
    }
    async with Harness.from_config(config, base_dir=ROOT) as api:
        inspector = Inspector(api.emulator).install()
        watcher = await Feed.open(api.emulator.port, inspector.token)
        client = await api.connect(query={"name": "ada", "token": "letmein"})
        [opened] = [
            e
            for e in await watcher.entries_until(lambda e: e["kind"] == "open")
            if e["kind"] == "open"
        ]
        assert opened["id"] == client.connection_id
        assert opened["authorizer"]["name"] == "ada"
        assert opened["authorizer"]["principalId"] == "ada"
        assert await api.connect_rejected(query={"token": "guess"}) == 401
        refused = (await watcher.entries_until(lambda e: e["kind"] == "refuse"))[-1]
        assert (refused["status"], refused["path"]) == (401, "/local?token=guess")
        await watcher.close()


async def test_a_new_inspector_gets_the_history_and_older_entries_make_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inspector_module, "BATCH", 2)  # several history messages
    async with Harness.from_config(
        {"routes": {"$default": {"handler": "probe.echo", "routeResponse": True}}},
        base_dir=HANDLERS,
    ) as api:
        inspector = Inspector(api.emulator, history=5).install()
        first = await Feed.open(api.emulator.port, inspector.token)
        client = await api.connect()
        for number in range(4):
            await client.send_text(f"message {number}")
            assert await client.receive_text() == f"message {number}"
        seen = await first.entries_until(lambda e: e.get("data") == "message 3")
        assert len(seen) > 5
        second = await Feed.open(api.emulator.port, inspector.token)
        assert second.hello["historySize"] == 5
        assert second.hello["last"] == seen[-1]["n"]
        history = await second.entries_until(lambda e: e["n"] == seen[-1]["n"])
        assert history == seen[-5:]
        await first.close()
        await second.close()


async def test_big_bodies_and_events_are_clipped_with_a_marker(chat: Harness, feed: Feed) -> None:
    client = await chat.connect(query={"name": "big"})
    await client.send_text(sendmessage("x" * 20_000))
    assert (await client.receive_text()).startswith("big: xxx")
    entries = await feed.entries_until(invoked("sendmessage"))
    frame = next(e for e in entries if e["kind"] == "frame")
    assert frame["routeKey"] == "sendmessage"
    assert len(frame["body"]) < 2_100
    assert frame["body"].endswith("more characters not shown]")
    invoke = entries[-1]
    assert 4_096 < len(invoke["event"]) < 4_200
    assert all(len(step) < 500 for step in frame["steps"])
    send = next(e for e in entries if e["kind"] == "send")
    assert send["data"].endswith(f"[{20_005 - 2_048} more characters not shown]")


async def test_unwatched_frames_cost_nothing_but_connections_are_tracked(
    chat: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    explained: list[str] = []
    real = inspector_module.route_report

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        explained.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(inspector_module, "route_report", spy)
    inspector = inspector_of(chat)
    client = await chat.connect(query={"name": "alone"})
    await client.send_text(sendmessage("unwatched"))
    assert await client.receive_text() == "alone: unwatched"
    await chat.record.wait_for_invocations("sendmessage")
    assert (explained, list(inspector.history)) == ([], [])
    # Nobody watches: the emulator builds no notification for anyone.
    assert inspector.observe not in chat.emulator.observers
    feed = await Feed.open(chat.emulator.port, inspector.token)
    # The page still sees the connection that opened before it.
    assert [c["id"] for c in feed.hello["connections"]] == [client.connection_id]
    assert feed.hello["connections"][0]["userAgent"].startswith("Python/")
    await client.send_text(sendmessage("watched"))
    await feed.entries_until(invoked("sendmessage"))
    assert explained == [sendmessage("watched")]
    await feed.close()
    await chat.record.wait_for_invocations("sendmessage", 2)
    client_gone = await chat.connect()
    await client_gone.send_text("unwatched again")
    await chat.record.wait_for_invocations("$default")
    assert explained == [sendmessage("watched")]


# The playground


async def test_the_playground_routes_over_the_feed(feed: Feed) -> None:
    answer = await feed.route(
        expression="${request.body.service}/${request.body.action}",
        message='{"service": "chat", "action": "join"}',
        routes=["chat/join", "$default"],
    )
    assert (answer["routeKey"], answer["reason"], answer["evaluated"]) == (
        "chat/join",
        "matched",
        "chat/join",
    )
    assert [t["text"] for t in answer["trace"]] == ["chat", "join"]
    not_json = await feed.route(expression="$request.body.action", message="hello", routes=None)
    assert (not_json["routeKey"], not_json["reason"]) == ("$default", "not-json")
    broken = await feed.route(expression="$request.header.x", message="{}", routes=None)
    assert broken["error"].startswith("unsupported variable '$request.header.x'")
    wrong = await feed.route(expression=1, message="{}")
    assert wrong["error"] == "expression and message must be strings"
    wrong = await feed.route(expression="$request.body.a", message="{}", routes="a,b")
    assert wrong["error"] == "routes must be a list of route keys"
    await feed.connection.send(json.dumps({"type": "shout"}))
    assert await feed.receive() == {"type": "error", "message": "unknown request 'shout'"}


@pytest.mark.parametrize(
    ("expression", "message", "routes", "expected"),
    [
        ("$request.body.action", '{"action": "join"}', ["join", "$default"], ("join", "matched")),
        (
            "$request.body.action",
            '{"action": "Join"}',
            ["join", "$default"],
            ("$default", "fallback"),
        ),
        ("$request.body.action", "not json", ["join", "$default"], ("$default", "not-json")),
        ("$request.body.action", '{"action": "x"}', ["join"], (None, "forbidden")),
        ("$request.body.action", '{"action": "x"}', [], (None, None)),
        ("$request.body.action", "not json", [], (None, None)),
        ("\\$default", "{}", ["$default"], ("$default", "matched")),
    ],
    ids=[
        "matched",
        "case-sensitive",
        "not-json",
        "forbidden",
        "no-routes",
        "no-routes-no-json",
        "static",
    ],
)
def test_route_report_agrees_with_the_server(
    expression: str, message: str, routes: list[str], expected: tuple[str | None, str | None]
) -> None:
    report = route_report(compile_expression(expression), message, routes)
    assert (report["routeKey"], report["reason"]) == expected
    assert report["steps"][0] == f"expression: {expression}"


async def test_odd_values_and_kinds_added_later_still_make_entries(
    feed: Feed, chat: Harness
) -> None:
    inspector = inspector_of(chat)
    circular: list[Any] = []
    circular.append(circular)
    event = ["not", "a", "dict"]
    invocation = Invocation(InvocationOutcome.OK, value=circular, duration_ms=1.234)
    inspector.observe("invoke", {"routeKey": "$default", "event": event, "invocation": invocation})
    inspector.observe("future", {"connectionId": "x", "what": b"bytes"})
    inspector.observe("send", {"connectionId": "x", "data": b"\x00\x01", "source": "post"})
    invoke, future, send = await feed.entries_until(lambda e: e["kind"] == "send")
    assert (invoke["id"], invoke["requestId"], invoke["result"]) == (None, None, "[[...]]")
    assert (invoke["durationMs"], invoke["posts"], invoke["error"]) == (1.23, 0, None)
    assert future["details"] == '{"connectionId":"x","what":"b\'bytes\'"}'
    assert send["data"] == "[2 bytes, binary]"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


async def test_what_the_inspector_cannot_show_never_breaks_the_api(
    feed: Feed, chat: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inspector = inspector_of(chat)
    invocation = Invocation(InvocationOutcome.OK, value={"odd": Unprintable()})
    inspector.observe("invoke", {"routeKey": "$default", "event": {}, "invocation": invocation})
    [entry] = await feed.entries_until(lambda e: e["kind"] == "invoke")
    assert entry["details"] == "the inspector cannot show this; its log says why"
    assert "the inspector cannot show a 'invoke' event" in caplog.text

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("explaining failed")

    monkeypatch.setattr(inspector_module, "route_report", broken)
    answer = await feed.route(expression="$request.body.action", message="{}")
    assert answer["error"] == "the emulator failed: RuntimeError: explaining failed"
    # Frames are still routed, and the feed still says what happened.
    client = await chat.connect(query={"name": "still"})
    await client.send_text(sendmessage("working"))
    assert await client.receive_text() == "still: working"
    entries = await feed.entries_until(invoked("sendmessage"))
    frame = next(e for e in entries if e["kind"] == "frame")
    assert frame["details"].startswith("the inspector")


@pytest.mark.parametrize(
    ("gone_before", "handlers_cleared"),
    [(0, False), (1, False), (2, False), (3, False), (1, True)],
    ids=["first", "1-inspector-gone", "2-inspectors-gone", "3-inspectors-gone", "logging-reset"],
)
async def test_what_a_function_writes_is_shown_under_its_invocation(
    gone_before: int, handlers_cleared: bool
) -> None:
    """Its print and logging lines, with its function, Lambda request id and
    connection; every one of them, whatever inspectors came and went before
    (earlier tests' in this process), and after a logging configuration of
    the user's cleared the emulator's loggers (as logging.config.dictConfig
    does to the loggers under one it names)."""
    for _ in range(gone_before):
        Inspector(Harness.from_config(TEACH_LOGS).emulator).install()
    gc.collect()
    if handlers_cleared:
        logging.getLogger("emulator.handler").handlers.clear()
    harness = Harness.from_config(TEACH_LOGS)
    Inspector(harness.emulator).install()
    async with harness:
        feed = await Feed.open(harness.emulator.port, inspector_of(harness).token)
        client = await harness.connect()
        # As `apigw-ws serve` sets it up (in the test's body: pytest puts its own
        # sys.stdout back between phases), so that print output is captured too.
        logs.configure("text", io.StringIO())
        try:
            await client.send_json({"action": "talk"})
            lambda_request_id = await client.receive_text()
            entries = await feed.entries_until(invoked("talk"))
        finally:
            logs.unconfigure()
        await feed.close()
    invoke = entries[-1]  # talk's; $connect's came before
    assert invoke["lambdaRequestId"] == lambda_request_id
    assert invoke["lambdaRequestId"] != invoke["requestId"]  # API Gateway's is apart
    output = [e for e in entries if e["kind"] == "output" and e["routeKey"] == "talk"]
    assert {(e["id"], e["function"], e["requestId"], e["routeKey"]) for e in output} == {
        (client.connection_id, "teach_log_handlers-talk", lambda_request_id, "talk")
    }
    texts = [(e["stream"], e["level"], e["text"]) for e in output]
    assert texts[:2] == [("stdout", "info", "hello from talk"), ("stderr", "info", "to stderr")]
    assert texts[2][:2] == ("logging", "warning")
    assert texts[2][2].endswith(f"\t{lambda_request_id}\tcareful with talk")
    assert texts[3:] == [("stdout", "info", "from a thread"), ("stdout", "info", "no newline")]


# The mocked AWS services' data


async def test_the_aws_state_needs_mock_aws_and_a_trusted_host(chat: Harness) -> None:
    port = chat.emulator.port
    status, _, body = await http(port, AWS_STATE_PATH)
    assert (status, json.loads(body)) == (
        404,
        {"message": "this emulator does not mock AWS (serve --mock-aws)"},
    )
    status, _, _ = await http(port, AWS_STATE_PATH, headers={"Host": f"evil.example:{port}"})
    assert status == 421  # as every HTTP request addressed to a foreign name
    status, _, _ = await http(port, AWS_STATE_PATH, method="POST")
    assert status == 405


async def test_the_feed_sends_the_tables_after_the_hello_and_after_each_change() -> None:
    harness = Harness.from_config(ROOT / "routes.yaml", mock_aws=True)
    inspector = Inspector(harness.emulator).install()
    async with harness:
        feed = await Feed.open(harness.emulator.port, inspector.token)
        assert feed.hello["api"]["mockAws"] is True
        first = await feed.next_of_type("aws")
        (table,) = first["tables"]
        assert (table["name"], table["key"], table["count"]) == (
            "ConnectionsTable",
            ["connectionId"],
            0,
        )
        client = await harness.connect(query={"name": "eve"})
        changed = await feed.next_of_type("aws")
        assert changed["tables"][0]["items"] == [
            {"connectionId": client.connection_id, "name": "eve"}
        ]
        status, _, body = await http(harness.emulator.port, f"{AWS_STATE_PATH}?limit=0")
        assert status == 200
        assert json.loads(body)["tables"][0] == {**changed["tables"][0], "items": []}
        await feed.close()
