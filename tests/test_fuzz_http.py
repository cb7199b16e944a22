"""Property tests of the HTTP side, through the real server: whatever arrives on the
port, the answer is a well-formed HTTP response of a known status, nothing is
posted without a valid signature, and the emulator keeps serving.

One emulator for the module, on its own event loop in a background thread, so
that hypothesis drives it with plain blocking sockets (one per example). The
runs are bounded (a few hundred examples, no database) to keep the suite fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from emulator.tools.inspector import FEED_PATH, Inspector
from emulator.tools.testing import Harness
from tests.conftest import HANDLERS
from tests.signing import KEY, SECRET, signed

T = TypeVar("T")
TIMEOUT = 5.0
CREDENTIALS = {KEY: SECRET}
# What the emulator may answer an HTTP request with: AWS's answers and HTTP's own.
STATUSES = {100, 200, 204, 400, 403, 405, 410, 413, 414, 421, 426, 429, 431, 501, 505}
FUZZ = settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Served:
    """An emulator on a loop of its own thread, and a client connected to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.api = Harness.from_config(
            {
                "functions": {"fuzzfn": {"handler": "probe.echo"}},
                "routes": {"$default": {"handler": "probe.echo", "routeResponse": True}},
                "iamCredentials": CREDENTIALS,
            },
            base_dir=HANDLERS,
        )
        self.run(self.api.__aenter__)
        self.inspector = self.on_loop(lambda: Inspector(self.api.emulator).install())
        self.port = self.api.emulator.port
        self.stack = contextlib.ExitStack()
        self.client = self.stack.enter_context(connect(self.api.url, open_timeout=TIMEOUT))
        local = self.client.socket.getsockname()
        self.connection_id = self.on_loop(lambda: self.api.emulator.connection_id_for(*local[:2]))

    def run(self, coroutine: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine(), self.loop).result(TIMEOUT)

    def on_loop(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        result: T = asyncio.run_coroutine_threadsafe(call(), self.loop).result(TIMEOUT)
        return result

    def posted(self) -> list[bytes]:
        sent = self.on_loop(lambda: self.api.record.sent_to(self.connection_id, "post"))
        return [data.encode() if isinstance(data, str) else data for data in sent]

    def close(self) -> None:
        self.stack.close()
        self.run(self.api.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.close()


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and half-close; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def statuses(answer: bytes) -> list[int]:
    """The status of each response in ``answer`` (pipelined requests get several)."""
    found = []
    rest = answer
    while rest:
        head, separator, rest = rest.partition(b"\r\n\r\n")
        assert separator, f"an incomplete response head: {head[:200]!r}"
        line, *fields = head.decode("latin-1").split("\r\n")
        assert line.startswith("HTTP/1.1 "), line
        found.append(int(line.split()[1]))
        length = 0
        for field in fields:
            name, _, value = field.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        rest = rest[length:]
    return found


# -- strategies ------------------------------------------------------------------------------

TOKENS = st.sampled_from(["@connections", "%40connections", "local", "prod", "", "..", ".", "x"])
METHODS = st.sampled_from(["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH", "TRACE"])
TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@st.composite
def paths(draw: st.DrawFn, connection_id: str) -> str:
    ids = st.sampled_from(
        [quote(connection_id, safe=""), connection_id, "AAAAAAAAAAAAAAA%3D", "not-an-id", ""]
    )
    segments = draw(st.lists(TOKENS | ids | TEXT.map(lambda t: quote(t, safe="")), max_size=5))
    query = draw(st.sampled_from(["", "?", "?a=b", "?X-Amz-Signature=x", "?X-Amz-Credential=y"]))
    return "/" + "/".join(segments) + query


HOSTS = st.sampled_from(["127.0.0.1:{port}", "localhost", "[::1]:{port}", "evil.example", ""])
ORIGINS = st.sampled_from(
    [None, "http://127.0.0.1:{port}", "http://evil.example", "null", "http://localhost:1"]
)
SIGNING = st.sampled_from(["valid", "none", "wrong-secret", "wrong-region", "garbage", "valid"])


@st.composite
def requests(draw: st.DrawFn, served: Served) -> tuple[bytes, bool, bytes, bool]:
    """Request bytes, whether they are a validly signed POST, the body, and whether
    the path is the client's connection as boto3 spells it."""
    method = draw(METHODS)
    own = f"/local/@connections/{quote(served.connection_id, safe='')}"
    path = draw(st.sampled_from([own]) | paths(served.connection_id))
    body = b"fuzz " + draw(st.binary(max_size=40))
    host = draw(HOSTS).format(port=served.port)
    origin = draw(ORIGINS)
    signing = draw(SIGNING)
    headers: dict[str, str] = {"Host": host}
    if signing != "none":
        options: dict[str, str] = {}
        if signing == "wrong-secret":
            options["secret"] = "guessed"
        if signing == "wrong-region":
            options["region"] = "eu-west-1"
        headers = signed(method, f"http://{host or 'x'}{path}", body, **options)
        headers["Host"] = host
        if signing == "garbage":
            headers["Authorization"] = draw(
                st.sampled_from(["AWS4-HMAC-SHA256", "Basic eA==", "AWS4-HMAC-SHA256 a=b,c"]) | TEXT
            )
    if origin is not None:
        headers["Origin"] = origin.format(port=served.port)
    extra = draw(
        st.dictionaries(st.sampled_from(["X-Amz-Date", "Expect", "X-A"]), TEXT, max_size=2)
    )
    headers.update(extra)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    data = f"{method} {path} HTTP/1.1\r\n{lines}Content-Length: {len(body)}\r\n\r\n".encode()
    accepted = (
        signing == "valid"
        and "X-Amz-Date" not in extra  # it replaced the signed one
        and origin in (None, "http://127.0.0.1:{port}")
        and host.startswith(("127.0.0.1", "localhost", "[::1]"))
    )
    # A valid DeleteConnection would close the client the other examples need.
    assume(not (accepted and method == "DELETE"))
    return data + body, accepted and method == "POST", body, path == own


# -- properties ------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_any_request_gets_a_known_answer_and_posts_only_when_validly_signed(
    served: Served, data: st.DataObject
) -> None:
    request, valid, body, own_path = data.draw(requests(served))
    before = len(served.posted())
    found = statuses(exchange(served.port, request))
    assert found, "no answer at all"
    assert set(found) <= STATUSES, found
    if valid and own_path:
        assert found[-1] == 200
    # Nothing reached the connection but a validly signed post (by whichever path).
    assert served.posted()[before:] in ([], [body] if valid else [])


@FUZZ
@given(garbage=st.binary(max_size=300), prefix=st.sampled_from([b"", b"POST /local/@connections/"]))
def test_garbage_on_the_port_gets_an_answer_or_a_close(
    served: Served, garbage: bytes, prefix: bytes
) -> None:
    answer = exchange(served.port, prefix + garbage)
    if answer:
        assert set(statuses(answer)) <= STATUSES


def test_the_emulator_still_serves_after_the_fuzzing(served: Served) -> None:
    # What was validly posted during the fuzzing arrived, in order; then an echo.
    received = [served.client.recv(TIMEOUT) for _ in served.posted()]
    assert [m.encode() if isinstance(m, str) else m for m in received] == served.posted()
    served.client.send("still there?")
    assert served.client.recv(TIMEOUT) == "still there?"
    path = f"/local/@connections/{quote(served.connection_id, safe='')}"
    answer = exchange(
        served.port,
        f"POST {path} HTTP/1.1\r\n".encode()
        + "".join(
            f"{k}: {v}\r\n"
            for k, v in signed("POST", f"http://127.0.0.1:{served.port}{path}", b"last").items()
        ).encode()
        + b"Content-Length: 4\r\n\r\nlast",
    )
    assert statuses(answer) == [200]


# -- the inspector's feed --------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
FEED_REQUESTS = st.one_of(
    st.text(max_size=50),
    JSON.map(json.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["route", "hello", "other", 1, None]),
            "id": JSON,
            "expression": st.text(alphabet="$\\{}[]'\".*-_ab0 request.body", max_size=30) | JSON,
            "message": st.text(max_size=60) | JSON,
            "routes": st.none() | st.lists(st.text(max_size=8), max_size=4) | JSON,
        }
    ).map(json.dumps),
)


def feed(served: Served) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{served.port}{FEED_PATH}",
        origin=f"http://127.0.0.1:{served.port}",  # type: ignore[arg-type]
        open_timeout=TIMEOUT,
        max_size=None,
    )


@FUZZ
@given(first=FEED_REQUESTS)
def test_a_feed_that_is_not_greeted_with_the_token_closes_with_1008(
    served: Served, first: str
) -> None:
    with feed(served) as page:
        page.send(first)
        # Nothing is sent to a page before its greeting: the close comes first.
        with pytest.raises(ConnectionClosed) as closed:
            page.recv(TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


@FUZZ
@given(messages=st.lists(FEED_REQUESTS, min_size=1, max_size=4))
def test_a_greeted_feed_answers_each_request_with_json(served: Served, messages: list[str]) -> None:
    with feed(served) as page:
        page.send(json.dumps({"type": "hello", "token": served.inspector.token}))
        assert json.loads(page.recv(TIMEOUT))["type"] == "hello"
        for message in messages:
            page.send(message)
            # Entries of the emulator's own traffic may come first; then the answer.
            while True:
                answer = json.loads(page.recv(TIMEOUT))
                if answer["type"] != "entries":
                    break
            assert answer["type"] in ("route", "error"), answer
            if answer["type"] == "route":
                assert ("error" in answer) != ("routeKey" in answer), answer


# -- the Lambda Invoke API -------------------------------------------------------------------

# What Lambda's Invoke API may answer (spec §5.3), and HTTP's own.
INVOKE_STATUSES = {200, 202, 204, 400, 403, 404, 405, 413, 421, 429, 431}
FUNCTION_NAMES = st.sampled_from(
    [
        "fuzzfn",
        "fuzzfn:$LATEST",
        "fuzzfn:7",
        "arn:aws:lambda:us-east-1:000000000000:function:fuzzfn",
        "arn:aws:lambda:eu-west-1:000000000000:function:fuzzfn",
        "000000000000:function:fuzzfn",
        "nothere",
        "",
        "a" * 200,
    ]
) | TEXT.map(lambda t: quote(t, safe=""))
PAYLOADS = st.sampled_from([b"", b"{}", b'{"body": "x"}', b"[1, 2]", b"null", b"{", b"\xff"]) | (
    st.binary(max_size=40)
)


@st.composite
def invocations(draw: st.DrawFn, served: Served) -> tuple[bytes, bool]:
    """An Invoke request's bytes, and whether it is validly signed (for lambda)."""
    name = draw(FUNCTION_NAMES)
    query = draw(st.sampled_from(["", "?Qualifier=%24LATEST", "?Qualifier=7", "?x=y"]))
    path = f"/2015-03-31/functions/{quote(name, safe=':$')}/invocations{query}"
    body = draw(PAYLOADS)
    headers = {
        name: value
        for name, value in draw(
            st.dictionaries(
                st.sampled_from(
                    ["X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"]
                ),
                st.sampled_from(["RequestResponse", "Event", "DryRun", "Tail", "None", "e30=", "!"])
                | TEXT,
                max_size=3,
            )
        ).items()
    }
    signing = draw(st.sampled_from(["valid", "none", "wrong-service", "wrong-secret", "valid"]))
    host = f"127.0.0.1:{served.port}"
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT"]))
    if signing != "none":
        options: dict[str, str] = {"service": "lambda"}
        if signing == "wrong-service":
            options["service"] = "execute-api"
        if signing == "wrong-secret":
            options["secret"] = "guessed"
        headers = signed(method, f"http://{host}{path}", body, headers=headers, **options)
    headers["Host"] = host
    lines = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    data = f"{method} {path} HTTP/1.1\r\n{lines}Content-Length: {len(body)}\r\n\r\n".encode()
    return data + body, signing == "valid"


@FUZZ
@given(data=st.data())
def test_any_invoke_request_gets_lambdas_answer_and_runs_only_when_signed(
    served: Served, data: st.DataObject
) -> None:
    request, valid = data.draw(invocations(served))
    before = served.on_loop(lambda: len(served.api.record.lambda_invocations))
    answer = exchange(served.port, request)
    [status] = statuses(answer)
    assert status in INVOKE_STATUSES, answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    if status >= 400 and body:
        json.loads(body)  # Lambda's errors are JSON, with x-amzn-ErrorType
        assert b"\r\nx-amzn-ErrorType: " in head or status in (405, 421, 431), head
    if not valid:
        assert status not in (200, 202, 204)
        ran = served.on_loop(lambda: len(served.api.record.lambda_invocations))
        assert ran == before  # an unsigned request runs nothing
