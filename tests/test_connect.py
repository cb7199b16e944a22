"""``$connect`` through a live server: the upgrade's answer (spec §1, §3.1, §5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import boto3
import pytest
from websockets.frames import Frame, Opcode

from emulator.tools.testing import Harness
from tests.conftest import StartApi, handler_module

route_probe = handler_module("route_probe")

ECHO = {"handler": "probe.echo", "routeResponse": True}


async def raw_http_get(api: Harness) -> tuple[int, bytes]:
    """A plain GET of the stage (AWS answers 426, spec §1): status and raw head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    try:
        writer.write(b"GET /local HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
    return int(head.split()[1]), head


HANDSHAKE = (
    "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


async def open_raw(
    api: Harness, target: str, headers: tuple[str, ...] = (), after: bytes = b""
) -> tuple[int, dict[str, str], asyncio.StreamReader, asyncio.StreamWriter]:
    """Send a handshake by hand (and ``after`` right behind it); the answer's head.

    The websockets client would refuse some answers before we could look at them.
    The caller closes the returned writer.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    request = HANDSHAKE.format(target=target) + "".join(f"{h}\r\n" for h in headers) + "\r\n"
    writer.write(request.encode() + after)
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    except BaseException:
        writer.close()
        raise
    status_line, *lines = head.decode("latin-1").split("\r\n")
    answer = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), answer, reader, writer


async def raw_upgrade(
    api: Harness, target: str, headers: tuple[str, ...] = ()
) -> tuple[int, dict[str, str]]:
    """The status and headers of the answer to a hand-made handshake, verbatim."""
    status, answer, _, writer = await open_raw(api, target, headers)
    writer.close()
    return status, answer


@pytest.fixture
async def gates() -> AsyncIterator[None]:
    """Blocking route_probe handlers block until the test ends."""
    route_probe.close_gates()
    try:
        yield
    finally:
        route_probe.open_gates()


async def assert_serves(api: Harness) -> None:
    """A new connection is accepted and its messages are answered."""
    client = await api.connect()
    await client.send_text("ping")
    assert await client.receive_text() == "ping"
    await client.close()


# --- the handler's statusCode -------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 299])
async def test_2xx_accepts(start_api: StartApi, status: int) -> None:
    # AWS: 200 and 201 → Connected (wscat experiment, spec §3.1); any 2xx is success.
    api = await start_api(
        {"$connect": "probe.status_from_query", "$default": ECHO, "$disconnect": "probe.ok"}
    )
    client = await api.connect(query={"status": str(status)})
    assert client.connection_id in api.emulator.connection_ids()
    await client.send_text("hello")
    assert await client.receive_text() == "hello"
    [event] = api.record.events("$connect")
    assert event["requestContext"]["connectionId"] == client.connection_id


@pytest.mark.parametrize("status", [301, 400, 401, 403, 418, 500, 501])
async def test_other_statuses_refuse_with_that_status(start_api: StartApi, status: int) -> None:
    # AWS: the handshake is refused "with that same HTTP status" (spec §3.1).
    api = await start_api(
        {"$connect": "probe.status_from_query", "$disconnect": "probe.ok", "$default": ECHO}
    )
    assert await api.connect_rejected(query={"status": str(status)}) == status
    [event] = api.record.events("$connect")
    # Never open: unknown to the @connections API, and no $disconnect (spec §3.1).
    assert event["requestContext"]["connectionId"] not in api.emulator.connection_ids()
    await assert_serves(api)
    await api.stop()  # every close handled, every $disconnect run
    assert len(api.record.events("$disconnect")) == 1  # the serving check's only


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        # AWS: a function error is a 502 (wscat experiment `?exc=foo`).
        pytest.param("probe.boom", 502, id="raises"),
        pytest.param("probe.async_boom", 502, id="async-raises"),
        pytest.param("probe.exits", 502, id="sys-exit"),
        pytest.param("probe.async_exits", 502, id="async-KeyboardInterrupt"),
        # AWS: a malformed proxy response is a 502 [INFER, REST v1].
        pytest.param("probe.malformed", 502, id="extra-keys"),
        pytest.param("probe.not_a_dict", 502, id="not-a-dict"),
        pytest.param("route_probe.status_not_int", 502, id="statusCode-not-int"),
        pytest.param("route_probe.body_not_a_string", 502, id="body-not-a-string"),
    ],
)
async def test_failures_refuse(start_api: StartApi, handler: str, status: int) -> None:
    api = await start_api({"$connect": handler, "$disconnect": "probe.ok", "$default": ECHO})
    assert await api.connect_rejected() == status
    [connect] = api.record.invocations
    assert connect.event["requestContext"]["connectionId"] not in api.emulator.connection_ids()
    await api.stop()
    assert api.record.events("$disconnect") == []


async def test_failure_does_not_stop_the_server(start_api: StartApi) -> None:
    api = await start_api({"$connect": "probe.exits", "$default": ECHO})
    assert await api.connect_rejected() == 502
    assert await api.connect_rejected() == 502


@pytest.mark.parametrize("handler", ["probe.nothing", "probe.ok"])
async def test_none_or_bare_200_accepts(start_api: StartApi, handler: str) -> None:
    # None: UNKNOWN on AWS; treated as success like a one-way route's None (spec §3.2.5).
    api = await start_api({"$connect": handler, "$default": ECHO})
    await assert_serves(api)


@pytest.mark.usefixtures("gates")
@pytest.mark.parametrize("handler", ["route_probe.waits", "route_probe.async_waits"])
async def test_timeout_refuses_with_504(start_api: StartApi, handler: str) -> None:
    # UNKNOWN on AWS; the spec recommends 504 (§3.1).
    api = await start_api(
        {
            "$connect": {"handler": handler, "timeout": 0.2},
            "$disconnect": "probe.ok",
            "$default": ECHO,
        }
    )
    assert await api.connect_rejected() == 504
    [connect] = api.record.invocations
    assert connect.outcome == "timeout"
    assert connect.event["requestContext"]["connectionId"] not in api.emulator.connection_ids()
    route_probe.open_gates()
    await api.stop()
    assert api.record.events("$disconnect") == []


@pytest.mark.usefixtures("gates")
@pytest.mark.parametrize("handler", ["route_probe.waits", "route_probe.async_waits"])
async def test_client_gone_while_connect_runs(start_api: StartApi, handler: str) -> None:
    # INFER (spec §3.1): the connection never opened, so there is nothing to disconnect.
    api = await start_api({"$connect": handler, "$disconnect": "probe.ok", "$default": ECHO})
    _, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    writer.write((HANDSHAKE.format(target="/local") + "\r\n").encode())
    assert await asyncio.to_thread(route_probe.entered.wait, 5), "$connect never started"
    assert api.emulator.connection_ids() == []
    writer.transport.abort()
    # A barrier: the server (on this loop) sees the drop no later than this request,
    # so $connect returns to a connection already known to be gone.
    assert (await raw_http_get(api))[0] == 426
    route_probe.open_gates()
    await assert_serves(api)
    await api.stop()
    assert len(api.record.events("$disconnect")) == 1  # the serving check's only
    assert api.emulator.connection_ids() == []


PIPELINED = Frame(Opcode.TEXT, b"early").serialize(mask=True)


@pytest.mark.usefixtures("gates")
async def test_frames_sent_while_connect_runs_wait_for_it(start_api: StartApi) -> None:
    # AWS: until $connect completes "the upgrade request is pending" (spec §3.1); a frame
    # a client sends too early (RFC 6455 §4.1 says it must not) is routed once open.
    api = await start_api({"$connect": "route_probe.waits", "$default": ECHO})
    reader, writer = await asyncio.open_connection("127.0.0.1", api.emulator.port)
    try:
        writer.write((HANDSHAKE.format(target="/local") + "\r\n").encode())
        assert await asyncio.to_thread(route_probe.entered.wait, 5), "$connect never started"
        writer.write(PIPELINED)
        await writer.drain()
        route_probe.open_gates()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert await asyncio.wait_for(reader.readexactly(7), 5) == b"\x81\x05early"
    finally:
        writer.close()
    assert [i.route_key for i in api.record.invocations] == ["$connect", "$default"]


async def test_frames_pipelined_with_the_handshake_wait_for_connect(start_api: StartApi) -> None:
    # The same, with the frame in the handshake's own packet; the transport means to
    # route these ("Frames the client sent right behind its request are routed now").
    api = await start_api({"$connect": "probe.ok", "$default": ECHO})
    status, _, reader, writer = await open_raw(api, "/local", after=PIPELINED)
    try:
        assert status == 101
        assert await asyncio.wait_for(reader.readexactly(7), 1) == b"\x81\x05early"
    finally:
        writer.close()
    assert [i.route_key for i in api.record.invocations] == ["$connect", "$default"]


async def test_frames_sent_behind_a_refused_handshake_are_dropped(start_api: StartApi) -> None:
    api = await start_api(
        {"$connect": "probe.status_from_query", "$default": ECHO, "$disconnect": "probe.ok"}
    )
    status, _, reader, writer = await open_raw(api, "/local?status=403", after=PIPELINED)
    try:
        assert status == 403
        await asyncio.wait_for(reader.read(), 5)  # the server closes the connection
    finally:
        writer.close()
    await api.stop()
    assert [i.route_key for i in api.record.invocations] == ["$connect"]


async def test_without_connect_route_accepts(start_api: StartApi) -> None:
    # AWS: $connect is optional (DG:apigateway-websocket-api-route-keys-connect-disconnect).
    api = await start_api({"$default": ECHO})
    client = await api.connect()
    assert api.emulator.connection_ids() == [client.connection_id]
    await client.send_text("hi")
    assert await client.receive_text() == "hi"


# --- subprotocols (DG:websocket-connect-route-subprotocol) ----------------------------------


async def test_subprotocol_from_the_result(start_api: StartApi) -> None:
    api = await start_api({"$connect": "probe.subprotocol", "$default": ECHO})
    client = await api.connect(subprotocols=["chat", "myprotocol"])
    assert client.connection.subprotocol == "myprotocol"
    [event] = api.record.events("$connect")
    assert event["headers"]["Sec-WebSocket-Protocol"] == "chat, myprotocol"


@pytest.mark.parametrize(
    "offered",
    [
        pytest.param(("Sec-WebSocket-Protocol: myprotocol",), id="other-offered"),
        pytest.param((), id="none-offered"),
    ],
)
async def test_subprotocol_is_copied_verbatim(start_api: StartApi, offered: tuple[str]) -> None:
    # INFER (spec §3.1): API Gateway does not check the value against the offer; a
    # browser then fails the connection, the faithful outcome.
    api = await start_api({"$connect": "probe.status_from_query", "$default": ECHO})
    status, headers = await raw_upgrade(api, "/local?protocol=unoffered", offered)
    assert status == 101
    assert headers["sec-websocket-protocol"] == "unoffered"


async def test_subprotocol_missing_refuses(start_api: StartApi) -> None:
    # The documented example answers 400 when myprotocol was not offered.
    api = await start_api({"$connect": "probe.subprotocol", "$default": ECHO})
    assert await api.connect_rejected() == 400
    assert await api.connect_rejected(subprotocols=["other"]) == 400


async def test_no_subprotocol_header_without_one_in_the_result(start_api: StartApi) -> None:
    api = await start_api({"$connect": "probe.ok", "$default": ECHO})
    client = await api.connect()
    assert client.connection.subprotocol is None
    assert client.connection.response is not None
    assert "Sec-WebSocket-Protocol" not in client.connection.response.headers


# --- the URL (spec §1, §3.1, §5) -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/dev", id="stage"),
        # The docs' wscat example ends with a slash (spec §1).
        pytest.param("/dev/", id="stage-slash"),
        # The emulator also serves the bare root (no stage in the URL).
        pytest.param("/", id="root"),
    ],
)
async def test_accepted_paths(start_api: StartApi, path: str) -> None:
    api = await start_api({"$connect": "probe.ok", "$default": ECHO}, stage="dev")
    client = await api.connect(path=path)
    await client.send_text("hi")
    assert await client.receive_text() == "hi"
    [event] = api.record.events("$connect")
    assert event["requestContext"]["stage"] == "dev"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/prod", id="other-stage"),
        pytest.param("/Dev", id="stage-case"),
        pytest.param("/dev/extra", id="below-stage"),
        pytest.param("/devx", id="stage-prefix"),
    ],
)
async def test_wrong_stage_is_forbidden(start_api: StartApi, path: str) -> None:
    # UNKNOWN on AWS; the spec infers REST's 403 (§3.1 step 1). $connect never runs.
    api = await start_api({"$connect": "probe.ok", "$default": ECHO}, stage="dev")
    assert await api.connect_rejected(path=path) == 403
    assert api.record.invocations == []


async def test_url_over_4096_characters_is_refused(start_api: StartApi) -> None:
    # AWS quota: 4096 characters for a WebSocket API URL (spec §5; 414 is INFER).
    api = await start_api({"$connect": "probe.ok", "$default": ECHO}, stage="dev")
    assert await api.connect_rejected(query={"q": "x" * 5000}) == 414
    assert api.record.invocations == []
    # A long URL under the quota is fine.
    client = await api.connect(query={"q": "x" * 3000})
    [event] = api.record.events("$connect")
    assert event["queryStringParameters"] == {"q": "x" * 3000}
    assert client.connection_id in api.emulator.connection_ids()


# --- what a refusal leaves behind ----------------------------------------------------------


async def test_refused_connection_is_gone_for_the_management_api(start_api: StartApi) -> None:
    api = await start_api(
        {"$connect": "probe.status_from_query", "$default": ECHO, "$disconnect": "probe.ok"}
    )
    assert await api.connect_rejected(query={"status": "401"}) == 401
    [event] = api.record.events("$connect")
    connection_id = event["requestContext"]["connectionId"]
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=api.management_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with pytest.raises(client.exceptions.GoneException):
        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"x")
    await api.stop()
    assert api.record.events("$disconnect") == []
