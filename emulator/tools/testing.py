"""Test support: an emulator per test, clients that never hang, and a record.

The pytest plugin is built on this module; it can be used without pytest too::

    async with Harness.from_config({"routes": {"$default": "app.handler"}}) as emu:
        client = await emu.connect()
        await client.send_json({"action": "ping"})
        assert emu.record.sent_to(client.connection_id) == ["pong"]

It uses websockets' *client*, which is why it imports websockets beside the
transport (the server side).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from emulator.app import Emulator
from emulator.model.api import ApiConfig
from emulator.model.config import load_config, parse_config
from emulator.runtime.invocation import Invocation

__all__ = [
    "Client",
    "Harness",
    "InvocationRecord",
    "LambdaRecord",
    "LocalAws",
    "Record",
    "SentRecord",
]

DEFAULT_TIMEOUT = 5.0
R = TypeVar("R")


@dataclass(frozen=True)
class InvocationRecord:
    """One handler invocation: the event it got and what came of it."""

    route_key: str
    event: dict[str, Any]
    invocation: Invocation

    @property
    def outcome(self) -> str:
        return self.invocation.outcome.value

    @property
    def result(self) -> Any:
        return self.invocation.value


@dataclass(frozen=True)
class SentRecord:
    """One message sent to a client; ``source`` is ``post`` (the @connections
    API, from boto3 or the context callback), ``route-response`` or ``error``."""

    connection_id: str
    data: str | bytes
    source: str


@dataclass(frozen=True)
class LambdaRecord:
    """A function invoked through the Lambda API: by another function, or over HTTP."""

    function: str
    invocation_type: str  # RequestResponse or Event
    caller: str  # the calling function's name
    event: Any
    invocation: Invocation

    @property
    def outcome(self) -> str:
        return self.invocation.outcome.value

    @property
    def result(self) -> Any:
        return self.invocation.value


class Record:
    """Everything that happened, in order, for assertions."""

    def __init__(self) -> None:
        self.invocations: list[InvocationRecord] = []
        self.sent: list[SentRecord] = []
        self.lambda_invocations: list[LambdaRecord] = []
        self._changed = asyncio.Event()

    def observe(self, kind: str, details: Mapping[str, Any]) -> None:
        if kind == "invoke":
            self.invocations.append(
                InvocationRecord(details["routeKey"], details["event"], details["invocation"])
            )
        elif kind == "send":
            self.sent.append(
                SentRecord(details["connectionId"], details["data"], details["source"])
            )
        elif kind == "lambda":
            self.lambda_invocations.append(
                LambdaRecord(
                    details["function"],
                    details["invocationType"],
                    details["caller"],
                    details["event"],
                    details["invocation"],
                )
            )
        self._changed.set()

    def events(self, route_key: str | None = None) -> list[dict[str, Any]]:
        """The events delivered, to one route or all."""
        return [i.event for i in self.invocations if route_key is None or i.route_key == route_key]

    def sent_to(self, connection_id: str, source: str | None = None) -> list[str | bytes]:
        """What was sent to one connection, in order."""
        return [
            s.data
            for s in self.sent
            if s.connection_id == connection_id and (source is None or s.source == source)
        ]

    def clear(self) -> None:
        self.invocations.clear()
        self.sent.clear()
        self.lambda_invocations.clear()

    async def wait_for_invocations(
        self, route_key: str, count: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[InvocationRecord]:
        """Wait until ``route_key`` was invoked ``count`` times (its result known)."""
        return await self._wait_for(
            self.invocations,
            lambda record: record.route_key == route_key,
            count,
            timeout,
            lambda seen: (
                f"{route_key!r} was not invoked {count} time(s) within {timeout} s;"
                f" invocations so far: {[i.route_key for i in seen]}"
            ),
        )

    async def wait_for_lambda(
        self, function: str, count: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[LambdaRecord]:
        """Wait until ``function`` was invoked through the Lambda API ``count`` times
        and those invocations are over (an ``Event`` one included)."""
        return await self._wait_for(
            self.lambda_invocations,
            lambda record: record.function == function,
            count,
            timeout,
            lambda seen: (
                f"function {function!r} was not invoked {count} time(s) within"
                f" {timeout} s; Lambda API invocations so far: {[i.function for i in seen]}"
            ),
        )

    async def _wait_for(
        self,
        records: list[R],
        wanted: Callable[[R], bool],
        count: int,
        timeout: float,
        failure: Callable[[list[R]], str],
    ) -> list[R]:
        """The records ``wanted`` picks, once there are ``count`` of them."""

        async def reached() -> list[R]:
            while True:
                found = [record for record in records if wanted(record)]
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            raise AssertionError(failure(records)) from None


class Client:
    """A connected WebSocket client whose receives time out with a clear message."""

    def __init__(self, connection: ClientConnection, connection_id: str) -> None:
        self.connection = connection
        self.connection_id = connection_id

    async def send_text(self, text: str) -> None:
        await self.connection.send(text)

    async def send_json(self, value: Any) -> None:
        await self.connection.send(json.dumps(value))

    async def receive_text(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        try:
            message = await asyncio.wait_for(self.connection.recv(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"connection {self.connection_id} received nothing within {timeout} s"
            ) from None
        except ConnectionClosed as exc:
            raise AssertionError(
                f"connection {self.connection_id} closed while waiting for a message: "
                f"code {exc.rcvd.code if exc.rcvd else None}"
            ) from exc
        if isinstance(message, bytes):
            raise AssertionError(f"expected a text message, got binary {message!r}")
        return message

    async def receive_json(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        text = await self.receive_text(timeout)
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError(f"expected a JSON message, got {text!r}") from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.connection.close(code, reason)

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> tuple[int | None, str]:
        """Wait for the server to close; the code and reason it sent."""
        try:
            await asyncio.wait_for(self.connection.wait_closed(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"connection {self.connection_id} still open after {timeout} s"
            ) from None
        received = self.connection.protocol.close_rcvd
        return (received.code, received.reason) if received else (None, "")


class LocalAws:
    """The mocked AWS services of an emulator (``mock_aws=True``), for a test's own calls.

    ``client("dynamodb")`` is a boto3 client of the same services the handlers
    call (its calls never leave the process); ``items("connections")`` a
    table's items as plain values, ``messages("orders")`` a queue's bodies.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def _aws(self) -> Any:
        aws = self._emulator.aws
        if aws is None:
            raise AssertionError("the emulator is stopped, or does not mock AWS (mock_aws=True)")
        return aws

    def client(self, service: str, region: str | None = None) -> Any:
        return self._aws().client(service, region)

    def items(self, table: str, region: str | None = None) -> list[dict[str, Any]]:
        """Every item of ``table``, as boto3's resource API gives them (numbers as
        int or float)."""
        from emulator.runtime.aws_view import table_items

        return table_items(self._aws(), table, region)

    def messages(self, queue: str, region: str | None = None) -> list[str]:
        """The bodies of the messages in ``queue``, received or not, oldest first."""
        aws = self._aws()
        return [m["body"] for m in aws.queue_messages(region or aws.region, queue)]


class Harness:
    """An emulator on 127.0.0.1, port 0, with a :class:`Record` attached.

    With ``mock_aws``, :attr:`aws` reaches the mocked AWS services.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.record = Record()
        emulator.observers.append(self.record.observe)
        self.aws = LocalAws(emulator)
        self._clients: list[Client] = []

    @classmethod
    def from_config(
        cls,
        config: ApiConfig | Mapping[str, Any] | str | Path,
        *,
        base_dir: Path | None = None,
        mock_aws: bool | None = None,
        state_dir: str | Path | None = None,
    ) -> Harness:
        """From an :class:`ApiConfig`, a routes.yaml path, or routes given as a dict.

        ``mock_aws`` (default: the config's ``mockAws``) runs the AWS services
        in-process, its resources created; ``state_dir`` keeps their data.
        """
        if isinstance(config, str | Path):
            api = load_config(config)
        elif isinstance(config, ApiConfig):
            api = config
        else:
            api = parse_config(dict(config), base_dir=base_dir or Path.cwd(), source="<inline>")
        emulator = Emulator(api, host="127.0.0.1", port=0, mock_aws=mock_aws, state_dir=state_dir)
        return cls(emulator)

    async def __aenter__(self) -> Harness:
        await self.emulator.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        await self.emulator.stop()
        for client in self._clients:
            await client.connection.close()

    @property
    def url(self) -> str:
        return self.emulator.url

    def advance_time(self, seconds: float) -> None:
        """Fire idle and maximum-duration timeouts as if ``seconds`` had passed."""
        self.emulator.advance_time(seconds)

    @property
    def management_url(self) -> str:
        return self.emulator.management_url

    def _url(
        self, path: str | None, query: Mapping[str, str] | Sequence[tuple[str, str]] | None
    ) -> str:
        url = self.url if path is None else f"ws://127.0.0.1:{self.emulator.port}{path}"
        if query:
            url += "?" + urlencode(query)
        return url

    async def _open(
        self,
        path: str | None,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        subprotocols: Sequence[str] | None,
        timeout: float,
        **options: Any,
    ) -> ClientConnection:
        """Open a client connection; raises ``InvalidStatus`` when it is refused."""
        return await asyncio.wait_for(
            connect(
                self._url(path, query),
                additional_headers=headers,
                subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
                open_timeout=None,
                **options,
            ),
            timeout,
        )

    async def connect(
        self,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        subprotocols: Sequence[str] | None = None,
        path: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Client:
        """Connect, run ``$connect``, and return the open client."""
        try:
            connection = await self._open(
                path, query, headers, subprotocols, timeout, compression=None, max_size=None
            )
        except InvalidStatus as exc:
            raise AssertionError(
                f"connect was rejected with HTTP {exc.response.status_code}"
            ) from exc
        local = connection.local_address
        connection_id = self.emulator.connection_id_for(local[0], local[1])
        client = Client(connection, connection_id)
        self._clients.append(client)
        return client

    async def connect_rejected(
        self,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        subprotocols: Sequence[str] | None = None,
        path: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> int:
        """Connect, expecting a refusal; return the HTTP status it got."""
        try:
            # websockets' defaults: unlike connect()'s, this upgrade offers permessage-deflate.
            connection = await self._open(path, query, headers, subprotocols, timeout)
        except InvalidStatus as exc:
            return exc.response.status_code
        await connection.close()
        raise AssertionError("connect was accepted, expected a refusal")
