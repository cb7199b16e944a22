"""HTTP_PROXY and HTTP integrations end to end: a real backend on 127.0.0.1:0 (spec §A.3, §A.4).

The backend records what API Gateway sends and answers as each test says;
clients are real websockets clients of a real emulator.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from tests.conftest import StartApi
from tests.fixtures.integrations.backend import Backend, Reply, Request, describe

CONNECTION_ID = {"integration.request.header.connectionId": "context.connectionId"}


def proxy(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "HTTP_PROXY", "uri": url, "method": "POST", **extra}


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- HTTP_PROXY on a message route ---------------------------------------------------------------


async def test_two_way_proxy_passes_the_frame_and_returns_the_body(start_api: StartApi) -> None:
    async with Backend() as backend:
        api = await start_api(
            {
                "orders": {
                    "integration": proxy(backend.url + "/orders", requestParameters=CONNECTION_ID),
                    "routeResponse": True,
                }
            }
        )
        client = await api.connect()
        frame = '{"action": "orders", "item": "tea"}'

        await client.send_text(frame)
        reply = await client.receive_text()
        request = await backend.next_request()

    assert reply == frame  # AWS: the backend's body, unchanged (§A.3.2)
    assert (request.method, request.path, request.body) == ("POST", "/orders", frame.encode())
    api_id = api.emulator.api_id
    assert request.header("connectionId") == client.connection_id
    assert request.header("User-Agent") == f"AmazonAPIGateway_{api_id}"
    assert request.header("X-Amzn-Apigateway-Api-Id") == api_id
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Forwarded-For") == "127.0.0.1"
    assert (request.header("X-Amzn-Trace-Id") or "").startswith("Root=1-")
    # Neither the client's handshake headers nor httpx's own defaults.
    assert not request.names() & {"sec-websocket-key", "accept-encoding", "origin"}


async def test_connection_id_is_not_sent_unless_mapped(start_api: StartApi) -> None:
    async with Backend() as backend:
        api = await start_api({"$default": {"integration": proxy(backend.url)}})
        client = await api.connect()
        await client.send_text("plain text")
        request = await backend.next_request()

    assert request.body == b"plain text"
    assert "connectionid" not in request.names()


async def test_one_way_proxy_sends_nothing_back(start_api: StartApi) -> None:
    async with Backend() as backend:
        api = await start_api({"$default": {"integration": proxy(backend.url)}})
        client = await api.connect()
        await client.send_json({"action": "x"})
        await api.record.wait_for_invocations("$default")

    assert await backend.next_request()
    assert api.record.sent_to(client.connection_id) == []


@pytest.mark.parametrize("status", [200, 404, 500], ids=["ok", "not-found", "server-error"])
async def test_two_way_proxy_ignores_the_backend_status(start_api: StartApi, status: int) -> None:
    async with Backend(lambda request: Reply(status, b'{"status": "told"}')) as backend:
        api = await start_api(
            {"$default": {"integration": proxy(backend.url), "routeResponse": True}}
        )
        client = await api.connect()
        await client.send_text("{}")

        assert await client.receive_text() == '{"status": "told"}'


async def test_mapping_sources_reach_the_backend(start_api: StartApi) -> None:
    mapping = {
        "integration.request.header.x-room": "route.request.body.data.room",
        "integration.request.header.x-stage": "context.stage",
        "integration.request.header.x-route": "context.routeKey",
        "integration.request.header.x-env": "stageVariables.env",
        "integration.request.querystring.fixed": "'a value'",
        "integration.request.path.id": "route.request.body.id",
        "integration.request.header.x-missing": "route.request.body.nope",
    }
    async with Backend() as backend:
        api = await start_api(
            {
                "send": {
                    "integration": proxy(backend.url + "/items/{id}", requestParameters=mapping)
                }
            },
            stage="dev",
            stageVariables={"env": "test"},
        )
        client = await api.connect()
        await client.send_json({"action": "send", "id": "a b", "data": {"room": "r1"}})
        request = await backend.next_request()

    assert request.path == "/items/a%20b"
    assert request.query == [("fixed", "a value")]
    assert request.header("x-room") == "r1"
    assert request.header("x-stage") == "dev"
    assert request.header("x-route") == "send"
    assert request.header("x-env") == "test"
    assert request.header("x-missing") is None  # a source without a value is left out


async def test_a_static_mapping_overrides_a_gateway_header(start_api: StartApi) -> None:
    mapping = {"integration.request.header.Content-Type": "'text/plain'"}
    async with Backend() as backend:
        api = await start_api(
            {"$default": {"integration": proxy(backend.url, requestParameters=mapping)}}
        )
        client = await api.connect()
        await client.send_text("hi")
        request = await backend.next_request()

    assert [v for n, v in request.headers if n.lower() == "content-type"] == ["text/plain"]


# -- failures (spec §A.3.3) ------------------------------------------------------------------------


async def test_refused_connection_gives_internal_server_error(start_api: StartApi) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    api = await start_api({"$default": {"integration": proxy(url)}})
    client = await api.connect()
    await client.send_text("hi")

    frame = json.loads(await client.receive_text())

    assert frame["message"] == "Internal server error"
    assert frame["connectionId"] == client.connection_id


async def test_slow_backend_gives_endpoint_request_timed_out(start_api: StartApi) -> None:
    release = asyncio.Event()

    async def slow(request: Request) -> Reply:
        await release.wait()
        return Reply(200, b"late")

    async with Backend(slow) as backend:
        api = await start_api(
            {"$default": {"integration": proxy(backend.url, timeout=0.05), "routeResponse": True}}
        )
        client = await api.connect()
        await client.send_text("hi")
        text = await client.receive_text()
        release.set()

    assert text.startswith('{"message": "Endpoint request timed out", "connectionId":"')
    assert api.record.invocations[-1].outcome == "timeout"


# -- $connect and $disconnect ----------------------------------------------------------------------


async def test_connect_proxy_forwards_the_handshake_without_a_body(start_api: StartApi) -> None:
    async with Backend(describe) as backend:
        api = await start_api(
            {
                "$connect": {
                    "integration": {
                        "type": "HTTP_PROXY",
                        "uri": backend.url + "/ws/connect",
                        "method": "GET",
                        "requestParameters": CONNECTION_ID,
                    }
                },
                "$default": "probe.echo",
            }
        )
        client = await api.connect(query={"token": "abc"}, headers={"Origin": "http://app"})
        request = await backend.next_request()

    assert (request.method, request.path, request.body) == ("GET", "/ws/connect", b"")
    assert request.query == [("token", "abc")]  # AWS: the client's query string (§A.3.1)
    assert request.header("connectionId") == client.connection_id
    assert request.header("Origin") == "http://app"
    assert request.header("Sec-WebSocket-Version") == "13"
    assert request.header("X-Amzn-Apigateway-Api-Id") == api.emulator.api_id
    assert request.header("X-Forwarded-Proto") == "http"
    assert not request.names() & {"upgrade", "connection"}


@pytest.mark.parametrize("status", [400, 403, 500], ids=["400", "403", "500"])
async def test_connect_is_refused_with_the_backend_status(start_api: StartApi, status: int) -> None:
    async with Backend(lambda request: Reply(status)) as backend:
        api = await start_api({"$connect": {"integration": proxy(backend.url)}})

        assert await api.connect_rejected() == status


async def test_connect_copies_the_backend_subprotocol(start_api: StartApi) -> None:
    async with Backend(
        lambda r: Reply(200, headers=[("Sec-WebSocket-Protocol", "chat")])
    ) as backend:
        api = await start_api({"$connect": {"integration": proxy(backend.url)}})
        client = await api.connect(subprotocols=["chat"])

    assert client.connection.subprotocol == "chat"


@pytest.mark.parametrize(
    ("backend_kind", "status"), [("refused", 500), ("slow", 504)], ids=["refused", "timeout"]
)
async def test_connect_failures(start_api: StartApi, backend_kind: str, status: int) -> None:
    release = asyncio.Event()

    async def slow(request: Request) -> Reply:
        await release.wait()
        return Reply(200)

    async with Backend(slow) as backend:
        if backend_kind == "slow":
            integration = proxy(backend.url, timeout=0.05)
        else:  # refused at once: no short timeout that a loaded machine could beat
            integration = proxy(f"http://127.0.0.1:{closed_port()}")
        api = await start_api({"$connect": {"integration": integration}})
        assert await api.connect_rejected() == status
        release.set()


async def test_disconnect_proxy_is_called_without_a_body(start_api: StartApi) -> None:
    async with Backend() as backend:
        api = await start_api(
            {
                "$disconnect": {
                    "integration": proxy(
                        backend.url + "/ws/disconnect", requestParameters=CONNECTION_ID
                    )
                },
                "$default": "probe.echo",
            }
        )
        client = await api.connect()
        await client.close()
        request = await backend.next_request()

    assert (request.path, request.body) == ("/ws/disconnect", b"")
    assert request.header("connectionId") == client.connection_id
    assert request.header("User-Agent") == f"AmazonAPIGateway_{api.emulator.api_id}"
    assert request.header("Content-Type") is None


# -- HTTP (non-proxy) ------------------------------------------------------------------------------


async def test_http_renders_the_template_and_the_response(start_api: StartApi) -> None:
    """The ECS sample: template {"connectionId": ..., "body": $input.body} (§A.4.8 ex. 5)."""
    integration = {
        "type": "HTTP",
        "uri": "{url}",
        "templateSelectionExpression": "\\$default",
        "requestTemplates": {
            "$default": '{"connectionId": "$context.connectionId", "body": $input.body}'
        },
        "responses": [
            {
                "key": "/2\\d\\d/",
                "responseTemplates": {"$default": "{\"echoed\": $input.json('$.body.data')}"},
            }
        ],
    }
    async with Backend() as backend:
        integration["uri"] = backend.url
        api = await start_api({"$default": {"integration": integration, "routeResponse": True}})
        client = await api.connect()
        await client.send_json({"data": "this is the way!"})
        reply = await client.receive_json()
        request = await backend.next_request()

    assert json.loads(request.body) == {
        "connectionId": client.connection_id,
        "body": {"data": "this is the way!"},
    }
    assert reply == {"echoed": "this is the way!"}


async def test_http_without_a_matching_integration_response_fails(start_api: StartApi) -> None:
    integration = {"type": "HTTP", "uri": "", "responses": [{"key": "/2\\d\\d/"}]}
    async with Backend(lambda request: Reply(404, b"nope")) as backend:
        integration["uri"] = backend.url
        api = await start_api({"$default": {"integration": integration, "routeResponse": True}})
        client = await api.connect()
        await client.send_text("{}")
        frame = json.loads(await client.receive_text())

    assert frame["message"] == "Internal server error"


async def test_http_never_passthrough_rejects_unmatched_requests(start_api: StartApi) -> None:
    integration = {
        "type": "HTTP",
        "uri": "http://127.0.0.1:9/",
        "templateSelectionExpression": "$request.body.kind",
        "requestTemplates": {"known": "{}"},
        "passthroughBehavior": "NEVER",
    }
    api = await start_api({"$default": {"integration": integration}})
    client = await api.connect()
    await client.send_json({"kind": "other"})

    text = await client.receive_text()

    assert text.startswith('{"message": "Unsupported Media Type", "connectionId":"')
