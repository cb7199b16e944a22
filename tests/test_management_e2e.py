"""The @connections API end to end: real server, real boto3, real handlers (spec §4).

boto3 is blocking, so every call from a test runs in a thread
(``asyncio.to_thread``) while the server keeps running on the test's loop.

The emulator hands botocore's calls for its own host (``127.0.0.1:PORT``) to
itself in-process, so a plain client on ``api.management_url`` never touches
the network. The ``via`` fixture therefore runs the boto3 tests twice: through
that interceptor, and over real HTTP with the interceptor removed from the client.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect

from emulator.app import Emulator
from emulator.model.config import parse_config
from emulator.runtime import boto as emulator_boto
from emulator.tools.testing import Client, Harness
from tests.conftest import HANDLERS, StartApi
from tests.signing import signed

STAGE = "dev"
USER_AGENT = "mgmt-e2e/1.0"
UNKNOWN_ID = "AAAAAAAAAAAAAAA="  # well-formed, never issued (16 chars ending "=")

# $connect and $disconnect are there to be observed; $default echoes.
ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
}

OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("post_to_connection", {"Data": b"x"}),
    ("get_connection", {}),
    ("delete_connection", {}),
]
OPERATION_IDS = ["post", "get", "delete"]


# -- boto3 from the test ---------------------------------------------------------------


# A fresh session per client (unregistering a hook on one client reaches its
# session's other clients), sharing one loader: it caches the service model,
# whose loading would otherwise be most of a test's time.
_LOADER = botocore.loaders.create_loader()


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


@pytest.fixture(params=["http", "interceptor"])
def via(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def management_client(endpoint_url: str, via: str) -> Any:
    """A boto3 client as a user would build it; over real HTTP when ``via == "http"``."""
    client = _session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=5),
    )
    if via == "http":
        # The emulator exposes no switch for this; removing its hook from this one
        # client is the only way to send a call for its own host over the socket.
        client.meta.events.unregister(
            "before-send.apigatewaymanagementapi", emulator_boto._before_send
        )
        for operation in ("PostToConnection", "DeleteConnection"):
            client.meta.events.unregister(
                f"before-call.apigatewaymanagementapi.{operation}", emulator_boto._before_call
            )
    return client


async def call(client: Any, operation: str, connection_id: str, **params: Any) -> Any:
    return await asyncio.to_thread(getattr(client, operation), ConnectionId=connection_id, **params)


async def start(start_api: StartApi, routes: dict[str, Any] | None = None) -> Harness:
    return await start_api(routes or ROUTES, stage=STAGE)


async def receive(client: Client, timeout: float = 5.0) -> str | bytes:
    """The next message, text or binary."""
    try:
        return await asyncio.wait_for(client.connection.recv(), timeout)
    except TimeoutError:
        raise AssertionError(f"{client.connection_id} received nothing in {timeout} s") from None


async def expect_gone(client: Any, operation: str, connection_id: str, **params: Any) -> None:
    with pytest.raises(client.exceptions.GoneException) as raised:
        await call(client, operation, connection_id, **params)
    # Spec §4.2: the modelled exception, the code and the status all line up.
    assert raised.value.response["Error"]["Code"] == "GoneException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


# -- PostToConnection ----------------------------------------------------------------------


async def test_posts_arrive_in_order_as_text_at_the_addressed_client(
    start_api: StartApi, via: str
) -> None:
    api = await start(start_api)
    target, bystander = await api.connect(), await api.connect()
    client = management_client(api.management_url, via)
    for n in range(5):
        response = await call(
            client, "post_to_connection", target.connection_id, Data=f"m{n}".encode()
        )
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    await call(client, "post_to_connection", bystander.connection_id, Data=b"only this")
    # Spec §4.4: each post is one WebSocket message, text for UTF-8 data.
    assert [await target.receive_text() for _ in range(5)] == ["m0", "m1", "m2", "m3", "m4"]
    assert await bystander.receive_text() == "only this"
    assert api.record.sent_to(target.connection_id) == ["m0", "m1", "m2", "m3", "m4"]


@pytest.mark.parametrize(
    ("data", "delivered"),
    [
        (b"plain ascii", "plain ascii"),
        ("h\u00e9llo \u2603".encode(), "h\u00e9llo \u2603"),
        ('{"json": true}', '{"json": true}'),  # a str Data is sent UTF-8 encoded (spec §4.2)
        # Spec §4.4: UNKNOWN on AWS; the recommendation is a binary frame.
        (b"\xff\x00\x01binary", b"\xff\x00\x01binary"),
        (b"caf\xe9", b"caf\xe9"),  # Latin-1, not UTF-8
    ],
    ids=["ascii", "utf8", "str-data", "not-utf8", "latin1"],
)
async def test_utf8_data_is_a_text_frame_anything_else_binary(
    start_api: StartApi, via: str, data: bytes | str, delivered: str | bytes
) -> None:
    api = await start(start_api)
    target = await api.connect()
    client = management_client(api.management_url, via)
    await call(client, "post_to_connection", target.connection_id, Data=data)
    message = await receive(target)
    assert type(message) is type(delivered)
    assert message == delivered


@pytest.mark.parametrize(
    ("size", "delivered"),
    [(131072, True), (131073, False)],
    ids=["exactly-128k-delivered", "one-byte-over-413"],
)
async def test_post_data_is_capped_at_128_kb(
    start_api: StartApi, via: str, size: int, delivered: bool
) -> None:
    api = await start(start_api)
    target = await api.connect()
    client = management_client(api.management_url, via)
    if delivered:
        await call(client, "post_to_connection", target.connection_id, Data=b"a" * size)
        assert await target.receive_text() == "a" * size
        return
    # Spec §4.1/§4.2: 413 PayloadTooLargeException; boto3 does not check the size itself.
    with pytest.raises(client.exceptions.PayloadTooLargeException) as raised:
        await call(client, "post_to_connection", target.connection_id, Data=b"a" * size)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert raised.value.response["Error"]["Code"] == "PayloadTooLargeException"
    # Nothing of it was delivered: the next message is the next post.
    await call(client, "post_to_connection", target.connection_id, Data=b"after")
    assert await target.receive_text() == "after"


@pytest.mark.parametrize(
    "endpoint",
    [
        lambda api: api.management_url,
        lambda api: f"http://127.0.0.1:{api.emulator.port}",
        lambda api: api.management_url + "/",
    ],
    ids=["with-stage", "without-stage", "with-stage-and-slash"],
)
async def test_endpoint_url_with_or_without_the_stage(
    start_api: StartApi, via: str, endpoint: Callable[[Harness], str]
) -> None:
    api = await start(start_api)
    target = await api.connect()
    client = management_client(endpoint(api), via)
    await call(client, "post_to_connection", target.connection_id, Data=b"reached")
    assert await target.receive_text() == "reached"
    info = await call(client, "get_connection", target.connection_id)
    assert info["Identity"]["SourceIp"] == "127.0.0.1"


async def test_the_http_client_really_goes_over_the_network(start_api: StartApi) -> None:
    # A guard on the fixture itself: only the socket server writes Content-Length.
    api = await start(start_api)
    target = await api.connect()
    over_http = management_client(api.management_url, "http")
    in_process = management_client(api.management_url, "interceptor")
    response = await call(over_http, "post_to_connection", target.connection_id, Data=b"1")
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "0"
    response = await call(in_process, "post_to_connection", target.connection_id, Data=b"2")
    assert "content-length" not in response["ResponseMetadata"]["HTTPHeaders"]
    assert [await target.receive_text(), await target.receive_text()] == ["1", "2"]


# -- GetConnection -----------------------------------------------------------------------


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


async def test_get_connection_reports_connect_time_and_identity(
    start_api: StartApi, via: str
) -> None:
    api = await start(start_api)
    target = await api.connect(headers={"User-Agent": USER_AGENT})
    client = management_client(api.management_url, via)
    info = await call(client, "get_connection", target.connection_id)
    connect_context = api.record.events("$connect")[0]["requestContext"]
    assert isinstance(info["ConnectedAt"], datetime)
    assert isinstance(info["LastActiveAt"], datetime)
    assert info["ConnectedAt"].tzinfo is not None
    # The same instant as the events' connectedAt, to the millisecond.
    assert epoch_ms(info["ConnectedAt"]) == connect_context["connectedAt"]
    assert info["LastActiveAt"] >= info["ConnectedAt"]
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": USER_AGENT}


async def test_get_connection_without_a_user_agent_omits_it(start_api: StartApi, via: str) -> None:
    api = await start(start_api)
    async with connect(api.url, user_agent_header=None, open_timeout=5) as raw:
        host, port = raw.local_address[:2]
        connection_id = api.emulator.connection_id_for(host, port)
        client = management_client(api.management_url, via)
        info = await call(client, "get_connection", connection_id)
    # Spec §4.2: a null userAgent is dropped from the parsed Identity.
    assert info["Identity"] == {"SourceIp": "127.0.0.1"}


class SteppedClock:
    """Wall-clock milliseconds the test sets; real monotonic time for timers."""

    def __init__(self, epoch_ms: int) -> None:
        self.now_ms = epoch_ms

    def epoch_ms(self) -> int:
        return self.now_ms

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
async def clocked_api() -> AsyncIterator[tuple[Harness, SteppedClock]]:
    clock = SteppedClock(1643136604673)  # 2022-01-25T18:50:04.673Z
    config = parse_config({"routes": ROUTES, "stage": STAGE}, base_dir=HANDLERS, source="<test>")
    async with Harness(Emulator(config, host="127.0.0.1", port=0, clock=clock)) as api:
        yield api, clock


@pytest.mark.parametrize("traffic", ["client-message", "post"])
async def test_last_active_at_moves_with_traffic(
    clocked_api: tuple[Harness, SteppedClock], via: str, traffic: str
) -> None:
    api, clock = clocked_api
    target = await api.connect()
    client = management_client(api.management_url, via)
    before = await call(client, "get_connection", target.connection_id)
    assert epoch_ms(before["ConnectedAt"]) == epoch_ms(before["LastActiveAt"]) == 1643136604673
    clock.now_ms += 2969
    if traffic == "client-message":
        await target.send_text("ping")
        assert await target.receive_text() == "ping"
    else:
        # Spec §4.1: idleness is "direction agnostic"; a post counts as activity.
        await call(client, "post_to_connection", target.connection_id, Data=b"keep-alive")
        assert await target.receive_text() == "keep-alive"
    after = await call(client, "get_connection", target.connection_id)
    assert epoch_ms(after["ConnectedAt"]) == 1643136604673
    assert after["LastActiveAt"] == datetime(2022, 1, 25, 18, 50, 7, 642000, tzinfo=UTC)


# -- DeleteConnection ----------------------------------------------------------------------


async def test_delete_closes_with_1000_and_runs_disconnect_once(
    start_api: StartApi, via: str
) -> None:
    api = await start(start_api)
    target, other = await api.connect(), await api.connect()
    client = management_client(api.management_url, via)
    response = await call(client, "delete_connection", target.connection_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    # Spec §4.5: once deleted, the id is gone at once, before the close completes.
    await expect_gone(client, "post_to_connection", target.connection_id, Data=b"late")
    code, _reason = await target.wait_closed()
    assert code == 1000  # spec §3.3: the close frame carries 1000
    (disconnect,) = await api.record.wait_for_invocations("$disconnect", 1)
    context = disconnect.event["requestContext"]
    assert context["connectionId"] == target.connection_id
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
        1000,
        "Connection Closed Normally",
    )
    for operation, params in OPERATIONS:
        await expect_gone(client, operation, target.connection_id, **params)
    assert len(api.record.events("$disconnect")) == 1
    # The other connection is untouched.
    await call(client, "post_to_connection", other.connection_id, Data=b"still here")
    assert await other.receive_text() == "still here"
    assert api.emulator.connection_ids() == [other.connection_id]


# -- Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "params"), OPERATIONS, ids=OPERATION_IDS)
async def test_unknown_well_formed_id_is_gone(
    start_api: StartApi, via: str, operation: str, params: dict[str, Any]
) -> None:
    # Spec §4.1: a well-formed id that never existed -> 410 GoneException.
    api = await start(start_api)
    await expect_gone(management_client(api.management_url, via), operation, UNKNOWN_ID, **params)


@pytest.mark.parametrize(("operation", "params"), OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "connection_id",
    ["short=", "BFaT_fALIAMCKugX", "BFaT+fALIAMCKug="],
    ids=["too-short", "no-padding", "not-url-safe"],
)
async def test_malformed_id_is_a_bad_request(
    start_api: StartApi, via: str, connection_id: str, operation: str, params: dict[str, Any]
) -> None:
    # Spec §4.1: not in the botocore model, so a generic ClientError, not GoneException.
    api = await start(start_api)
    client = management_client(api.management_url, via)
    with pytest.raises(ClientError) as raised:
        await call(client, operation, connection_id, **params)
    assert not isinstance(raised.value, client.exceptions.GoneException)
    assert raised.value.response["Error"]["Code"] == "BadRequestException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_a_connection_the_client_closed_is_gone(start_api: StartApi, via: str) -> None:
    api = await start(start_api)
    target = await api.connect()
    client = management_client(api.management_url, via)
    await target.close(1000, "bye")
    await api.record.wait_for_invocations("$disconnect", 1)
    for operation, params in OPERATIONS:
        await expect_gone(client, operation, target.connection_id, **params)


# -- Raw HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes
    local_port: int | None  # the client socket's port, None once the server closed it


def exchange(port: int, requests: list[tuple[str, str, bytes | None]]) -> list[Reply]:
    """Send ``requests``, signed, in order on one HTTP/1.1 connection (blocking)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    replies = []
    try:
        for method, path, body in requests:
            headers = signed(method, f"http://127.0.0.1:{port}{path}", body or b"")
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            replies.append(
                Reply(
                    response.status,
                    {name.lower(): value for name, value in response.getheaders()},
                    data,
                    conn.sock.getsockname()[1] if conn.sock is not None else None,
                )
            )
    finally:
        conn.close()
    return replies


@dataclass(frozen=True)
class RawCase:
    method: str
    path: str  # {id}: the live id; {qid}: the same, percent-encoded
    status: int
    error_type: str | None = None
    body: bytes | None = None


RAW_CASES = [
    RawCase("POST", "/dev/@connections/{id}", 200, body=b"raw at"),
    RawCase("POST", "/dev/%40connections/{qid}", 200, body=b"raw percent-encoded"),
    RawCase("POST", "/@connections/{id}", 200, body=b"raw without stage"),
    RawCase("GET", "/dev/@connections/{id}", 200),
    RawCase("GET", "/%40connections/{qid}", 200),
    RawCase("DELETE", "/dev/@connections/{qid}", 204),
    RawCase("POST", f"/dev/@connections/{UNKNOWN_ID}", 410, "GoneException", b"x"),
    RawCase("GET", "/dev/@connections/not-an-id", 400, "BadRequestException"),
    # Spec §4.1: wrong stage -> 403 "No method found matching route ...".
    RawCase("POST", "/prod/@connections/{id}", 403, "ForbiddenException", b"x"),
    RawCase("PUT", "/dev/@connections/{id}", 403, "ForbiddenException", b"x"),
]


@pytest.mark.parametrize(
    "case",
    RAW_CASES,
    ids=[
        "post-at",
        "post-percent-40",
        "post-without-stage",
        "get",
        "get-without-stage-percent-40",
        "delete",
        "unknown-id-410",
        "malformed-id-400",
        "wrong-stage-403",
        "put-403",
    ],
)
async def test_raw_http_requests(start_api: StartApi, case: RawCase) -> None:
    api = await start(start_api)
    target = await api.connect(headers={"User-Agent": USER_AGENT})
    path = case.path.format(id=target.connection_id, qid=quote(target.connection_id, safe=""))
    (reply,) = await asyncio.to_thread(
        exchange, api.emulator.port, [(case.method, path, case.body)]
    )
    assert reply.status == case.status
    assert reply.headers.get("x-amzn-requestid")
    if case.error_type is not None:
        # Spec §4.2: errors name their type in x-amzn-ErrorType, JSON body with "message".
        assert reply.headers.get("x-amzn-errortype") == case.error_type
        assert reply.headers.get("content-type") == "application/json"
        assert "message" in json.loads(reply.body)
        assert api.record.sent_to(target.connection_id) == []
    elif case.method == "POST":
        assert reply.body == b""
        assert await target.receive_text() == case.body.decode()
    elif case.method == "GET":
        body = json.loads(reply.body)
        connected_at = api.record.events("$connect")[0]["requestContext"]["connectedAt"]
        assert body["connectedAt"] == iso_ms(connected_at)
        assert body["identity"] == {"sourceIp": "127.0.0.1", "userAgent": USER_AGENT}
        assert body["lastActiveAt"] >= body["connectedAt"]
        assert set(body) == {"connectedAt", "identity", "lastActiveAt"}
    else:
        assert reply.body == b""
        code, _ = await target.wait_closed()
        assert code == 1000


def iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@pytest.mark.parametrize("path", ["/", "/dev", "/anything"], ids=["root", "stage", "other"])
async def test_plain_get_without_upgrade_is_426(start_api: StartApi, path: str) -> None:
    # Spec §1: a plain HTTP request without the upgrade gets 426 Upgrade Required.
    api = await start(start_api)
    (reply,) = await asyncio.to_thread(exchange, api.emulator.port, [("GET", path, None)])
    assert reply.status == 426


async def test_one_keep_alive_connection_answers_every_request(start_api: StartApi) -> None:
    api = await start(start_api)
    target = await api.connect()
    own = f"/dev/@connections/{target.connection_id}"
    replies = await asyncio.to_thread(
        exchange,
        api.emulator.port,
        [
            ("POST", own, b"first"),
            ("GET", own, None),
            ("POST", f"/dev/@connections/{UNKNOWN_ID}", b"x"),
            ("POST", "/prod/@connections/" + target.connection_id, b"x"),
            ("POST", own, b"second"),
            ("GET", "/", None),
            ("DELETE", own, None),
        ],
    )
    assert [r.status for r in replies] == [200, 200, 410, 403, 200, 426, 204]
    ports = {r.local_port for r in replies}
    assert len(ports) == 1
    assert None not in ports
    assert [await target.receive_text(), await target.receive_text()] == ["first", "second"]
    assert (await target.wait_closed())[0] == 1000


# -- From handlers, in-process (spec §4.3, §4.4) ----------------------------------------


@pytest.mark.parametrize(
    ("handler", "posts"),
    [
        ("probe.post_via_boto3", ["post 0", "post 1", "post 2"]),
        ("probe.post_via_context", ["post 0", "post 1", "post 2"]),
        ("mgmt_probe.post_via_api_id", ["api-id post 0", "api-id post 1"]),
    ],
    ids=["boto3-domain-name-url", "context-callback", "boto3-api-id-region-url"],
)
async def test_handler_posts_arrive_before_its_route_response(
    start_api: StartApi, handler: str, posts: list[str]
) -> None:
    api = await start(start_api, {"$default": {"handler": handler, "routeResponse": True}})
    target = await api.connect()
    await target.send_text("go")
    # Spec §4.4: posts are sent while the function runs, the response after it returns.
    received = [await target.receive_text() for _ in range(len(posts) + 1)]
    assert received == [*posts, "response"]
    (invocation,) = await api.record.wait_for_invocations("$default", 1)
    assert invocation.outcome == "ok"
    assert api.record.sent_to(target.connection_id, source="post") == posts


async def test_handler_posts_to_another_connection(start_api: StartApi) -> None:
    api = await start(
        start_api, {"$default": {"handler": "mgmt_probe.post_to_other", "routeResponse": True}}
    )
    sender, receiver = await api.connect(), await api.connect()
    await sender.send_json({"to": receiver.connection_id, "data": "hello from sender"})
    assert await receiver.receive_text() == "hello from sender"
    assert await sender.receive_text() == "sent"
    await sender.send_json({"to": UNKNOWN_ID, "data": "nobody"})
    assert await sender.receive_text() == "gone"
    assert api.record.sent_to(receiver.connection_id) == ["hello from sender"]


@pytest.mark.parametrize(
    "handler",
    ["probe.post_during_connect", "mgmt_probe.ops_during_connect"],
    ids=["post-boto3", "all-ops-boto3-and-context"],
)
async def test_management_calls_during_connect_are_gone(start_api: StartApi, handler: str) -> None:
    # Spec §3.1: the connection does not exist for @connections until $connect
    # returned 2xx, so the handlers accept only if they got 410.
    api = await start(
        start_api,
        {"$connect": handler, "$default": {"handler": "probe.echo", "routeResponse": True}},
    )
    target = await api.connect()
    (invocation,) = await api.record.wait_for_invocations("$connect", 1)
    assert invocation.result["statusCode"] == 200, invocation.result
    await target.send_text("open now")
    assert await target.receive_text() == "open now"


@dataclass(frozen=True)
class ContextPost:
    to: str | None  # None: the handler's own connection
    size: int
    outcome: str


CONTEXT_POSTS = [
    ContextPost(UNKNOWN_ID, 1, "GoneError 410 GoneException"),
    ContextPost(None, 131073, "PayloadTooLargeError 413 PayloadTooLargeException"),
    ContextPost(None, 131072, "ok"),
    ContextPost("not-an-id", 1, "BadRequestError 400 BadRequestException"),
]


@pytest.mark.parametrize(
    "case", CONTEXT_POSTS, ids=["unknown-id", "over-128k", "exactly-128k", "malformed-id"]
)
async def test_context_post_raises_the_emulator_errors(
    start_api: StartApi, case: ContextPost
) -> None:
    api = await start(
        start_api, {"$default": {"handler": "mgmt_probe.context_post", "routeResponse": True}}
    )
    target = await api.connect()
    await target.send_json({"to": case.to, "size": case.size})
    if case.outcome == "ok":
        assert await target.receive_text() == "x" * case.size
    assert await target.receive_text() == case.outcome


async def test_context_get_connection(start_api: StartApi) -> None:
    api = await start(
        start_api,
        {
            "$connect": "probe.ok",
            "$default": {"handler": "mgmt_probe.context_get", "routeResponse": True},
        },
    )
    target = await api.connect(headers={"User-Agent": USER_AGENT})
    await target.send_text("who am i")
    info = await target.receive_json()
    connect_context = api.record.events("$connect")[0]["requestContext"]
    message_context = api.record.events("$default")[0]["requestContext"]
    # The same shape boto3's get_connection returns, datetimes included.
    assert info == {
        "ConnectedAt": as_datetime_text(connect_context["connectedAt"]),
        "Identity": {"SourceIp": "127.0.0.1", "UserAgent": USER_AGENT},
        # The last activity was the message that invoked the handler.
        "LastActiveAt": as_datetime_text(message_context["requestTimeEpoch"]),
    }


def as_datetime_text(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat()


async def test_context_delete_connection(start_api: StartApi) -> None:
    api = await start(
        start_api,
        {
            "$disconnect": "probe.ok",
            "$default": {"handler": "mgmt_probe.context_delete", "routeResponse": True},
        },
    )
    target = await api.connect()
    await target.send_text("delete me")
    assert (await target.wait_closed())[0] == 1000
    (disconnect,) = await api.record.wait_for_invocations("$disconnect", 1)
    context = disconnect.event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
        1000,
        "Connection Closed Normally",
    )
    (invocation,) = await api.record.wait_for_invocations("$default", 1)
    assert invocation.result["body"] == "GoneError 410 GoneException"
    # The route response had nowhere to go.
    assert api.record.sent_to(target.connection_id) == []


async def test_post_from_disconnect_to_the_closing_connection_is_gone(
    start_api: StartApi,
) -> None:
    # Spec §3.3: PostToConnection to the closing id -> 410 (INFER).
    api = await start(
        start_api,
        {
            "$disconnect": "mgmt_probe.post_during_disconnect",
            "$default": {"handler": "probe.echo", "routeResponse": True},
        },
    )
    target = await api.connect()
    await target.close(1001, "")
    (disconnect,) = await api.record.wait_for_invocations("$disconnect", 1)
    assert disconnect.result == {"statusCode": 200, "body": "GoneException"}
