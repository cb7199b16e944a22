from __future__ import annotations

import importlib
import socket
import sys
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from emulator.tools.testing import Harness

pytest_plugins = ["pytester"]

HANDLERS = Path(__file__).parent / "handlers"
ROOT = Path(__file__).parent.parent

StartApi = Callable[..., Awaitable[Harness]]


def handler_module(name: str) -> ModuleType:
    """A module of ``tests/handlers`` as the emulator imports it: by its bare name, like Lambda.

    ``tests.handlers.route_probe`` would be a second copy, with its own gates and plans.
    """
    folder = str(HANDLERS.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


@pytest.fixture
async def start_api() -> AsyncIterator[StartApi]:
    """Start an emulator on 127.0.0.1:0 for routes naming ``probe.*`` handlers.

    ``await start_api({"$default": "probe.echo"}, stage="dev")``: the keyword
    arguments are further top-level routes.yaml keys.
    """
    started: list[Harness] = []

    async def start(routes: dict[str, Any], **top: Any) -> Harness:
        harness = Harness.from_config({"routes": routes, **top}, base_dir=HANDLERS)
        await harness.__aenter__()
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.stop()


class LocalDynamoDB:
    """DynamoDB on 127.0.0.1 (moto's server), reachable by the handlers' boto3."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create_table(self, name: str, hash_key: str) -> None:
        import boto3

        boto3.client("dynamodb", endpoint_url=self.url).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def put_item(self, name: str, item: dict[str, Any]) -> None:
        import boto3

        boto3.resource("dynamodb", endpoint_url=self.url).Table(name).put_item(Item=item)

    def items(self, name: str) -> list[dict[str, Any]]:
        import boto3

        table = boto3.resource("dynamodb", endpoint_url=self.url).Table(name)
        items: list[dict[str, Any]] = table.scan()["Items"]
        return items


@pytest.fixture
def local_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalDynamoDB]:
    """A DynamoDB endpoint for handlers that keep their state in a table.

    Handlers create their boto3 resources at import, from the process
    environment: the endpoint, a region and (dummy) credentials are set there.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        yield LocalDynamoDB(url)
    finally:
        # moto keeps its tables in the process, not the server: the next test
        # starts with none.
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset):
            pass
        server.stop()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Refuse, and record, any connection this process opens beyond loopback."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"test: no network ({address!r})")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    assert attempts == [], f"connections left the machine: {attempts}"


class SilentService:
    """An HTTP service on 127.0.0.1 that accepts connections and never answers:
    a dependency that hangs. :meth:`close` resets whoever still waits on it."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def silent_service() -> Iterator[SilentService]:
    service = SilentService()
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def fault_gate() -> Iterator[None]:
    """fault_probe's blocking handlers (its held ``$connect`` too) block until
    the test opens ``fault_probe.gate`` or ends.

    Request it after ``start_api``: it is then opened before the emulator
    stops, which waits for handlers still running.
    """
    fault_probe = handler_module("fault_probe")
    fault_probe.gate.clear()
    fault_probe.entered.clear()
    try:
        yield
    finally:
        fault_probe.gate.set()


@pytest.fixture
def own_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tmp_path``; the modules imported from it and its sys.path entries go away after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    root = tmp_path.resolve()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            sys.modules.pop(name, None)  # an init still failing may take it out too
