"""wss:// and https:// on one port: ``serve --certfile --keyfile`` (emulator/wire/server.py).

The certificate is made in the test by a throwaway CA (trustme). The server
runs as users run it, ``python -m emulator serve``, in a child process, so
that boto3 in this process reaches its @connections API over the network,
through TLS, not in-process.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import trustme
from websockets.asyncio.client import connect

from emulator.app import Emulator
from emulator.errors import ConfigError
from emulator.model.config import parse_config
from emulator.tools.cli import main
from tests.fixtures.integrations.backend import Backend

TIMEOUT = 15.0

HANDLERS = """
import json

protos = {}


def on_connect(event, context):
    request = event["requestContext"]
    protos[request["connectionId"]] = event["headers"]["X-Forwarded-Proto"]
    return {"statusCode": 200}


def whoami(event, context):
    connection_id = event["requestContext"]["connectionId"]
    body = {"connectionId": connection_id, "proto": protos[connection_id]}
    return {"statusCode": 200, "body": json.dumps(body)}
"""


@dataclass
class Tls:
    ca: trustme.CA
    certfile: Path
    keyfile: Path
    ca_file: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    for pem in cert.cert_chain_pems:
        pem.write_to_path(str(certfile), append=True)
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(ca, certfile, keyfile, ca_file)


@dataclass
class Served:
    url: str
    port: int
    process: asyncio.subprocess.Process


@pytest.fixture
async def served(tmp_path: Path, tls: Tls) -> AsyncIterator[Served]:
    module = "tls_handlers_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{module}.py").write_text(HANDLERS, encoding="utf-8")
    config = tmp_path / "routes.yaml"
    config.write_text(
        f"stage: tls\nroutes:\n  $connect: {module}.on_connect\n"
        f"  $default: {{handler: {module}.whoami, routeResponse: true}}\n",
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "emulator", "serve", str(config), "--port", "0", "--no-reload"],
        *["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        match = re.fullmatch(r"wss://127\.0\.0\.1:(\d+)/tls\n", line)
        assert match, line
        yield Served(line.strip(), int(match[1]), process)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0, err.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), TIMEOUT)


async def test_websocket_api_over_wss(served: Served, tls: Tls) -> None:
    async with connect(served.url, ssl=tls.client_context(), open_timeout=TIMEOUT) as client:
        await client.send("who am I?")
        answer = json.loads(await asyncio.wait_for(client.recv(), TIMEOUT))
    # $connect saw the scheme the client used, as API Gateway reports it.
    assert answer["proto"] == "https"


async def test_connections_api_over_https_with_boto3(served: Served, tls: Tls) -> None:
    async with connect(served.url, ssl=tls.client_context(), open_timeout=TIMEOUT) as client:
        await client.send("who am I?")
        connection_id = json.loads(await asyncio.wait_for(client.recv(), TIMEOUT))["connectionId"]
        management = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=f"https://127.0.0.1:{served.port}/tls",
            verify=str(tls.ca_file),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

        def post_and_get() -> str:
            management.post_to_connection(ConnectionId=connection_id, Data=b"over https")
            return str(
                management.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"]
            )

        assert await asyncio.to_thread(post_and_get) == "127.0.0.1"
        assert await asyncio.wait_for(client.recv(), TIMEOUT) == "over https"


async def test_the_chat_page_over_https(served: Served, tls: Tls) -> None:
    def get(path: str) -> tuple[int, str, str]:
        url = f"https://127.0.0.1:{served.port}{path}"
        with urllib.request.urlopen(url, context=tls.client_context(), timeout=TIMEOUT) as page:
            return page.status, page.headers["Content-Type"], page.read().decode()

    status, content_type, body = await asyncio.to_thread(get, "/")
    assert status == 200
    assert content_type.startswith("text/html")
    assert "chat.js" in body
    status, _, _ = await asyncio.to_thread(get, "/_inspector")
    assert status == 200


async def test_a_client_that_does_not_trust_the_certificate_is_refused(served: Served) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(served.url, ssl=ssl.create_default_context(), open_timeout=TIMEOUT)


# In-process: the URLs, and certificates that cannot be used

CONFIG = {"routes": {"$default": {"integration": {"type": "MOCK"}}}}


async def test_the_urls_switch_scheme(tls: Tls) -> None:
    emulator = Emulator(
        parse_config(CONFIG), port=0, certfile=str(tls.certfile), keyfile=str(tls.keyfile)
    )
    async with emulator:
        assert emulator.secure
        assert emulator.url == f"wss://127.0.0.1:{emulator.port}/local"
        assert emulator.management_url == f"https://127.0.0.1:{emulator.port}/local"
    plain = Emulator(parse_config(CONFIG), port=0)
    assert not plain.secure
    assert plain.url.startswith("ws://")


async def test_key_and_certificate_in_one_file(tls: Tls, tmp_path: Path) -> None:
    both = tmp_path / "both.pem"
    both.write_bytes(tls.keyfile.read_bytes() + tls.certfile.read_bytes())
    async with Emulator(parse_config(CONFIG), port=0, certfile=str(both)) as emulator:
        client = await connect(emulator.url, ssl=tls.client_context(), open_timeout=TIMEOUT)
        await client.close()


def test_unusable_certificates_are_config_errors(tls: Tls, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(missing))}: file not found$"):
        Emulator(parse_config(CONFIG), port=0, certfile=str(tls.certfile), keyfile=str(missing))
    other_key = tmp_path / "other-key.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other_key))
    with pytest.raises(ConfigError, match="cannot use it as a certificate with its private key"):
        Emulator(parse_config(CONFIG), port=0, certfile=str(tls.certfile), keyfile=str(other_key))


def test_serve_reports_a_bad_certificate_and_a_lone_keyfile(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    missing = tmp_path / "nope.pem"
    assert main(["serve", str(config), "--port", "0", "--certfile", str(missing)]) == 2
    assert capsys.readouterr().err == f"apigw-ws: error: {missing}: file not found\n"
    with pytest.raises(SystemExit) as exited:
        main(["serve", str(config), "--keyfile", str(tls.keyfile)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: --keyfile needs --certfile: the certificate it is the key of\n"
    )


async def test_an_http_backend_is_told_the_client_came_over_https(tls: Tls) -> None:
    async with Backend() as backend:
        routes = {"$default": {"integration": {"type": "HTTP_PROXY", "uri": backend.url}}}
        emulator = Emulator(
            parse_config({"routes": routes}),
            port=0,
            certfile=str(tls.certfile),
            keyfile=str(tls.keyfile),
        )
        async with emulator:
            client = await connect(emulator.url, ssl=tls.client_context(), open_timeout=TIMEOUT)
            await client.send("hi")
            request = await backend.next_request()
            await client.close()
    assert request.header("X-Forwarded-Proto") == "https"
    assert request.header("X-Forwarded-Port") == str(emulator.port)
