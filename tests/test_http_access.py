"""Who may call the HTTP APIs: SigV4 as on AWS, and only the emulator's own Host and Origin.

A web page in the developer's browser could post to other people's
connections with a cross-origin ``fetch`` and, through DNS rebinding, read and
delete them. On AWS, @connections needs a SigV4 signature for ``execute-api``
in the API's region (lambda-runtime spec §7); the emulator answers unsigned,
mis-scoped and mis-signed requests as AWS does, and refuses requests whose
Host or Origin is not its own. Real sockets, real boto3, real curl.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from emulator.app import Emulator
from emulator.errors import ConfigError
from emulator.gateway.access.signed import Caller, authenticate
from emulator.model.config import parse_config
from emulator.runtime import boto as emulator_boto
from emulator.tools.cli import main
from emulator.tools.inspector import FEED_PATH, Inspector
from emulator.tools.testing import Client, Harness
from emulator.wire.messages import HttpRequest, HttpResponse
from tests.conftest import HANDLERS, StartApi
from tests.serving import serving
from tests.signing import KEY, SECRET, signed
from tests.test_management_e2e import _session, management_client
from tests.test_wire import HANDSHAKE, RawClient

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
}
CREDENTIALS = {KEY: SECRET}
TIMEOUT = 5.0


def answer(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request as sent (blocking): status, headers (lowercase), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        conn.request(method, path, body=body or None, headers=sent)
        response = conn.getresponse()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        conn.close()


async def call(
    api: Harness,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(answer, api.emulator.port, method, path, body, headers)


def own(client: Client, stage: str = "local") -> str:
    return f"/{stage}/@connections/{quote(client.connection_id, safe='')}"


def url(api: Harness, path: str) -> str:
    return f"http://127.0.0.1:{api.emulator.port}{path}"


async def nothing_reached(api: Harness, client: Client, posted: tuple[str, ...] = ()) -> None:
    """The connection got no post but ``posted``, and was not closed: it still echoes."""
    assert api.record.sent_to(client.connection_id, "post") == list(posted)
    await client.send_text("still mine")
    assert await client.receive_text() == "still mine"


# -- unsigned: AWS's Missing Authentication Token ------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_an_unsigned_request_is_403_missing_authentication_token(
    start_api: StartApi, method: str
) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    status, headers, body = await call(api, method, own(client), b"posted?")
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert body == b'{"message":"Missing Authentication Token"}'
    await nothing_reached(api, client)


async def test_a_drive_by_post_from_another_sites_page_reaches_nothing(
    start_api: StartApi,
) -> None:
    # What fetch(url, {mode: "no-cors", method: "POST", body}) sends from evil.example.
    api = await start_api(ROUTES)
    client = await api.connect()
    status, _, _ = await call(
        api,
        "POST",
        own(client),
        b"drive-by",
        {"Origin": "http://evil.example", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert status == 403
    await nothing_reached(api, client)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_rebound_name_can_neither_read_nor_close_a_connection(
    start_api: StartApi, method: str
) -> None:
    # DNS rebinding: evil.example now points at 127.0.0.1; its page's requests
    # carry its own name as Host, and are signed with any key it likes.
    api = await start_api(ROUTES)
    client = await api.connect()
    port = api.emulator.port
    headers = signed(method, f"http://evil.example:{port}{own(client)}")
    status, _, body = await call(api, method, own(client), b"", headers)
    assert status == 421
    assert b"evil.example" in body
    await nothing_reached(api, client)


# -- signed: boto3, curl, any key or the configured ones -----------------------------------------


async def test_boto3_over_http_works_with_any_key_by_default(start_api: StartApi) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    boto = management_client(api.management_url, "http")  # keys "x"/"x", over the socket
    await asyncio.to_thread(boto.post_to_connection, ConnectionId=client.connection_id, Data=b"hi")
    assert await client.receive_text() == "hi"
    info = await asyncio.to_thread(boto.get_connection, ConnectionId=client.connection_id)
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    await asyncio.to_thread(boto.delete_connection, ConnectionId=client.connection_id)
    assert (await client.wait_closed())[0] == 1000


def _client(endpoint: str, key: str, secret: str, region: str) -> Any:
    """A boto3 client calling over the socket, as another process would."""
    client = _session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=5),
    )
    client.meta.events.unregister("before-send.apigatewaymanagementapi", emulator_boto._before_send)
    for operation in ("PostToConnection", "DeleteConnection"):
        client.meta.events.unregister(
            f"before-call.apigatewaymanagementapi.{operation}", emulator_boto._before_call
        )
    return client


async def refused(client: Any, connection_id: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"x")
    response: dict[str, Any] = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return response["Error"]


async def test_with_credentials_only_their_signatures_are_accepted(start_api: StartApi) -> None:
    api = await start_api(ROUTES, iamCredentials=CREDENTIALS)
    client = await api.connect()
    right = _client(api.management_url, KEY, SECRET, "us-east-1")
    await asyncio.to_thread(right.post_to_connection, ConnectionId=client.connection_id, Data=b"ok")
    assert await client.receive_text() == "ok"
    error = await refused(
        _client(api.management_url, KEY, "guessed", "us-east-1"), client.connection_id
    )
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    # AWS shows what it expected: the canonical request names the path it signed.
    assert "/local/%40connections/" in error["Message"]
    error = await refused(
        _client(api.management_url, "AKIDOTHER", SECRET, "us-east-1"), client.connection_id
    )
    assert error == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }
    await nothing_reached(api, client, posted=("ok",))


async def test_a_signature_for_another_region_is_refused_as_aws_words_it(
    start_api: StartApi,
) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    error = await refused(
        _client(api.management_url, KEY, SECRET, "eu-west-1"), client.connection_id
    )
    # AWS's wording, trailing space included (spec §7).
    assert error == {
        "Code": "InvalidSignatureException",
        "Message": "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    }
    await nothing_reached(api, client)


async def test_a_signature_for_another_service_is_refused_as_aws_words_it(
    start_api: StartApi,
) -> None:
    api = await start_api(ROUTES)
    client = await api.connect()
    headers = signed("POST", url(api, own(client)), b"x", service="apigateway")
    status, response_headers, body = await call(api, "POST", own(client), b"x", headers)
    assert (status, response_headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert json.loads(body) == {
        "message": "Credential should be scoped to correct service: 'execute-api'. "
    }
    await nothing_reached(api, client)


async def test_a_body_changed_after_signing_is_refused(start_api: StartApi) -> None:
    api = await start_api(ROUTES, iamCredentials=CREDENTIALS)
    client = await api.connect()
    headers = signed("POST", url(api, own(client)), b"what was signed")
    status, response_headers, _ = await call(api, "POST", own(client), b"what was sent", headers)
    assert (status, response_headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    await nothing_reached(api, client)


async def test_a_presigned_url_is_accepted(start_api: StartApi) -> None:
    api = await start_api(ROUTES, iamCredentials=CREDENTIALS)
    client = await api.connect()
    boto = _client(api.management_url, KEY, SECRET, "us-east-1")
    presigned = boto.generate_presigned_url(
        "get_connection", Params={"ConnectionId": client.connection_id}, ExpiresIn=60
    )
    path = presigned.split(str(api.emulator.port), 1)[1]
    status, _, body = await call(api, "GET", path)
    assert status == 200
    assert json.loads(body)["identity"]["sourceIp"] == "127.0.0.1"


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
@pytest.mark.parametrize(("secret", "delivered"), [(SECRET, True), ("guessed", False)])
async def test_curl_aws_sigv4_posts(start_api: StartApi, secret: str, delivered: bool) -> None:
    api = await start_api(ROUTES, iamCredentials=CREDENTIALS)
    client = await api.connect()
    target = f"{api.management_url}/@connections/{quote(client.connection_id, safe='')}"
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--aws-sigv4",
            "aws:amz:us-east-1:execute-api",
            "--user",
            f"{KEY}:{secret}",
            "-X",
            "POST",
            "--data",
            "hello from curl",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=True,
    )
    assert result.stdout == ("200" if delivered else "403")
    if delivered:
        assert await client.receive_text() == "hello from curl"
    else:
        await nothing_reached(api, client)


async def test_a_handler_posts_in_process_whatever_the_credentials(start_api: StartApi) -> None:
    # Handlers' boto3 calls never leave the process (runtime/boto.py answers
    # them before they are signed): Lambda's dummy keys are not in the list.
    api = await start_api(
        {"$default": "probe.post_via_boto3", "$connect": "probe.ok"},
        iamCredentials=CREDENTIALS,
    )
    client = await api.connect()
    await client.send_text("go")
    assert await client.receive_text() == "post 0"


# -- the signature's time, at the level of one request ----------------------------------------


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (timedelta(minutes=20), "Signature expired: "),
        (timedelta(minutes=-20), "Signature not yet current: "),
    ],
    ids=["expired", "not-yet-current"],
)
def test_a_signature_out_of_time_is_refused(shift: timedelta, message: str) -> None:
    target = "/local/@connections/AAAAAAAAAAAAAAA%3D"
    headers = signed("GET", f"http://127.0.0.1:3001{target}")
    request = HttpRequest("GET", target, tuple(headers.items()), b"", ("127.0.0.1", 1))
    answered = authenticate(
        request,
        service="execute-api",
        region="us-east-1",
        credentials=CREDENTIALS,
        now=datetime.now(UTC) + shift,
        request_id="r",
    )
    assert isinstance(answered, HttpResponse)
    assert answered.status == 403
    assert json.loads(answered.body)["message"].startswith(message)
    in_time = authenticate(
        request,
        service="execute-api",
        region="us-east-1",
        credentials=CREDENTIALS,
        now=datetime.now(UTC),
        request_id="r",
    )
    assert in_time == Caller(KEY, True)


def test_the_check_takes_the_service_as_a_parameter() -> None:
    # The Lambda Invoke API is guarded the same way, for service `lambda`.
    target = "/2015-03-31/functions/f/invocations"
    headers = signed("POST", f"http://127.0.0.1:3001{target}", b"{}", service="lambda")
    request = HttpRequest("POST", target, tuple(headers.items()), b"{}", ("127.0.0.1", 1))
    now = datetime.now(UTC)
    checked = {
        service: authenticate(
            request,
            service=service,
            region="us-east-1",
            credentials=CREDENTIALS,
            now=now,
            request_id="r",
        )
        for service in ("lambda", "execute-api")
    }
    assert checked["lambda"] == Caller(KEY, True)
    refused_answer = checked["execute-api"]
    assert isinstance(refused_answer, HttpResponse)
    assert json.loads(refused_answer.body) == {
        "message": "Credential should be scoped to correct service: 'execute-api'. "
    }


# -- unsigned for teaching: loopback only --------------------------------------------------------


async def test_allow_unsigned_accepts_unsigned_requests_on_loopback() -> None:
    config = parse_config({"routes": ROUTES}, base_dir=HANDLERS)
    async with Harness(Emulator(config, host="127.0.0.1", port=0, allow_unsigned=True)) as api:
        client = await api.connect()
        status, _, _ = await call(api, "POST", own(client), b"unsigned")
        assert status == 200
        assert await client.receive_text() == "unsigned"
        # A signature, if there is one, is still checked.
        headers = signed("POST", url(api, own(client)), b"x", region="eu-west-1")
        status, _, _ = await call(api, "POST", own(client), b"x", headers)
        assert status == 403


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com"])
def test_allow_unsigned_refuses_to_start_off_loopback(host: str) -> None:
    config = parse_config({"routes": ROUTES}, base_dir=HANDLERS)
    with pytest.raises(ConfigError, match="only on a loopback address"):
        Emulator(config, host=host, port=0, allow_unsigned=True)


def test_the_cli_refuses_allow_unsigned_off_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes: {$default: probe.ok}\n")
    args = ["serve", "--config", str(routes), "--host", "0.0.0.0", "--allow-unsigned"]
    assert main([*args, "--port", "0", "--no-reload"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("apigw-ws: error: --allow-unsigned works only on a loopback --host")


# -- --credentials, through the real command -----------------------------------------------------


async def test_serve_with_credentials_verifies_their_signatures(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text(
        "def whoami(event, context):\n"
        "    return {'statusCode': 200, 'body': event['requestContext']['connectionId']}\n"
    )
    routes, keys = tmp_path / "routes.yaml", tmp_path / "keys.txt"
    routes.write_text("routes: {$default: {handler: handlers.whoami, routeResponse: true}}\n")
    keys.write_text("# keys for the team\nAKIDFROMFILE:file-secret\n")
    args = ["--config", str(routes), "--port", "0", "--no-reload", "--no-inspector"]
    credentials = ["--credentials", f"{KEY}:{SECRET}", "--credentials", f"@{keys}"]
    async with serving([*args, *credentials], cwd=tmp_path, timeout=30) as server:
        endpoint = server.url.replace("ws://", "http://", 1)
        async with connect(server.url) as ws:
            await ws.send("which id am I?")
            own_id = await asyncio.wait_for(ws.recv(), TIMEOUT)
            for key, secret in ((KEY, SECRET), ("AKIDFROMFILE", "file-secret")):
                boto = _client(endpoint, key, secret, "us-east-1")
                await asyncio.to_thread(boto.post_to_connection, ConnectionId=own_id, Data=key)
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == key
            wrong = _client(endpoint, KEY, "guessed", "us-east-1")
            with pytest.raises(ClientError) as raised:
                await asyncio.to_thread(wrong.post_to_connection, ConnectionId=own_id, Data=b"x")
            assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
        await server.stop()


@pytest.mark.parametrize(
    "value", ["AKIDONLY", ":secret", "AKID:", "@/nonexistent/keys.txt"], ids=str
)
def test_malformed_credentials_are_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--credentials", value])
    assert exited.value.code == 2
    assert "--credentials" in capsys.readouterr().err


# -- Host and Origin: one check for every HTTP request -------------------------------------------


@pytest.fixture
async def site(start_api: StartApi) -> Harness:
    api = await start_api(ROUTES)
    Inspector(api.emulator).install()
    return api


@pytest.mark.parametrize("path", ["/_inspector", "/", "/_static/inspector.js", "/local"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": "evil.example.:{port}"}, 421),
        ({"Host": "192.168.1.20:{port}"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:1"}, 403),
        ({"Origin": "http://127.0.0.1:{port}"}, None),
        ({"Origin": "http://localhost:{port}"}, None),
        ({"Host": "localhost:{port}"}, None),
    ],
    ids=[
        "rebound-name",
        "rebound-name-with-dot",
        "other-address",
        "other-site",
        "opaque-origin",
        "other-port",
        "own-origin",
        "own-origin-localhost",
        "localhost",
    ],
)
async def test_every_http_request_is_checked_for_host_and_origin(
    site: Harness, path: str, headers: dict[str, str], status: int | None
) -> None:
    port = site.emulator.port
    sent = {name: value.format(port=port) for name, value in headers.items()}
    got, _, _ = await call(site, "GET", path, b"", sent)
    if status is None:
        assert got not in (403, 421)
    else:
        assert got == status


async def test_a_configured_domain_and_the_apis_own_name_are_accepted(
    start_api: StartApi,
) -> None:
    config = parse_config({"routes": ROUTES}, base_dir=HANDLERS)
    emulator = Emulator(config, host="127.0.0.1", port=0, domains=["chat.local"])
    async with Harness(emulator) as api:
        for host in ("chat.local", emulator.domain_name, "other.local"):
            status, _, _ = await call(api, "GET", "/local", b"", {"Host": host})
            assert status == (421 if host == "other.local" else 426)


async def test_the_feed_refuses_other_sites_and_the_api_does_not(site: Harness) -> None:
    port = site.emulator.port
    with pytest.raises(InvalidStatus) as feed:
        await connect(f"ws://127.0.0.1:{port}{FEED_PATH}", origin="http://evil.example")  # type: ignore[arg-type]
    assert feed.value.response.status_code == 403
    rebound = await RawClient.open(site)
    rebound.send(
        HANDSHAKE.replace(b"GET /local ", f"GET {FEED_PATH} ".encode()).replace(
            b"Host: 127.0.0.1", b"Host: evil.example"
        )
    )
    assert (await rebound.http_answer()).status == 421
    rebound.close()
    own_page = await connect(f"ws://127.0.0.1:{port}{FEED_PATH}", origin=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
    await own_page.close()
    # AWS accepts an API connection from any origin: so does the emulator.
    async with connect(site.url, origin="http://evil.example") as api_client:  # type: ignore[arg-type]
        await api_client.send("from anywhere")
        assert await asyncio.wait_for(api_client.recv(), TIMEOUT) == "from anywhere"
