"""Every message received before a close is routed and invoked.

Clients send and close at once: the normal end of a script, a page being
closed. The message then often arrives in the same read as the close frame, or
before the 101 when the client pipelines its handshake. AWS routes every
message that arrived before the close; so does the emulator, and
``$disconnect`` still runs exactly once. A route response to a client that has
gone has nowhere to go, and is dropped without an error.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from emulator.tools.testing import Harness
from tests.conftest import StartApi
from tests.test_cli import TIMEOUT as CLI_TIMEOUT
from tests.test_cli import _serve
from tests.test_wire import CLOSE, HANDSHAKE, TEXT, RawClient, close_payload, frame

ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    # Two-way: each route response goes to a client that has already closed.
    "$default": {"handler": "probe.echo", "routeResponse": True},
}
CLIENTS = 1000
AT_ONCE = 100  # connections in flight together: bounded, on 127.0.0.1
TIMEOUT = 60.0


@pytest.fixture
async def api(start_api: StartApi) -> Harness:
    return await start_api(ROUTES)


def bodies(api: Harness, route_key: str) -> Counter[str]:
    return Counter(str(event.get("body")) for event in api.record.events(route_key))


def no_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_thousand_clients_that_send_and_close_at_once_are_all_invoked(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    slots = asyncio.Semaphore(AT_ONCE)

    async def send_and_close(n: int) -> None:
        async with slots, connect(api.url, compression=None, open_timeout=TIMEOUT) as ws:
            await ws.send(f"message {n}")
            # Leaving the block closes at once, without waiting for an answer.

    await asyncio.wait_for(asyncio.gather(*(send_and_close(n) for n in range(CLIENTS))), TIMEOUT)
    await api.record.wait_for_invocations("$default", CLIENTS, timeout=TIMEOUT)
    await api.record.wait_for_invocations("$disconnect", CLIENTS, timeout=TIMEOUT)
    assert bodies(api, "$default") == Counter(f"message {n}" for n in range(CLIENTS))
    # $disconnect exactly once per connection, and each message on its own connection.
    disconnected = Counter(
        e["requestContext"]["connectionId"] for e in api.record.events("$disconnect")
    )
    assert len(disconnected) == CLIENTS
    assert set(disconnected.values()) == {1}
    routed = {e["requestContext"]["connectionId"] for e in api.record.events("$default")}
    assert routed == set(disconnected)
    assert no_errors(caplog) == []


async def test_a_message_in_the_same_segment_as_the_close_is_routed(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    raw = await RawClient.open(api)
    await raw.upgrade()
    raw.send(frame(TEXT, b"last words") + frame(CLOSE, close_payload(1000, b"bye")))
    assert await raw.read_close() == (1000, "bye")
    raw.close()
    (message,) = await api.record.wait_for_invocations("$default")
    (disconnect,) = await api.record.wait_for_invocations("$disconnect")
    assert message.event["body"] == "last words"
    context = disconnect.event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1000, "bye")
    assert context["connectionId"] == message.event["requestContext"]["connectionId"]
    assert no_errors(caplog) == []


@pytest.mark.parametrize("end", ["close-frame", "close-frame-then-fin"])
async def test_upgrade_message_and_close_in_one_write_are_all_answered(
    api: Harness, caplog: pytest.LogCaptureFixture, end: str
) -> None:
    raw = await RawClient.open(api)
    raw.send(
        HANDSHAKE
        + frame(TEXT, b"first")
        + frame(TEXT, b"second")
        + frame(CLOSE, close_payload(1000, b"done"))
    )
    if end == "close-frame-then-fin":
        raw.send_eof()
    answer = await raw.http_answer()
    assert answer.status == 101
    assert await raw.read_close() == (1000, "done")
    raw.close()
    messages = await api.record.wait_for_invocations("$default", 2)
    (disconnect,) = await api.record.wait_for_invocations("$disconnect")
    assert [m.event["body"] for m in messages] == ["first", "second"]
    assert disconnect.event["requestContext"]["disconnectStatusCode"] == 1000
    assert [i.route_key for i in api.record.invocations].count("$connect") == 1
    assert no_errors(caplog) == []


async def test_frames_then_fin_while_connect_runs_are_routed_without_a_close_frame(
    api: Harness,
) -> None:
    # The client ends its side of TCP right after its frames, without a close
    # frame: the frames are routed; the close is abnormal (spec §3.3: 1006).
    raw = await RawClient.open(api)
    raw.send(HANDSHAKE + frame(TEXT, b"only"))
    raw.send_eof()
    assert (await raw.http_answer()).status == 101
    assert await raw.at_eof()
    raw.close()
    (message,) = await api.record.wait_for_invocations("$default")
    (disconnect,) = await api.record.wait_for_invocations("$disconnect")
    assert message.event["body"] == "only"
    assert disconnect.event["requestContext"]["disconnectStatusCode"] == 1006


async def test_a_message_after_the_server_closed_is_not_routed(api: Harness) -> None:
    # DeleteConnection closes with 1000; what the client sends after that close
    # crossed its own is not read (RFC 6455 §1.4: the closing side discards it).
    raw = await RawClient.open(api)
    await raw.upgrade()
    connection_id = api.emulator.connection_id_for(*raw.local)
    api.emulator.delete_connection(connection_id)
    closing = await raw.read_frame()
    assert closing.opcode == CLOSE
    raw.send(frame(TEXT, b"too late") + frame(CLOSE, closing.payload))
    assert await raw.at_eof()
    raw.close()
    await api.record.wait_for_invocations("$disconnect")
    assert api.record.events("$default") == []


# -- as users run it: `apigw-ws serve` with its defaults ------------------------------------

# Written as AWS's samples are: the environment read, the root logger set and a
# boto3 resource made at import, before the first event.
LAST_WORDS = """
import logging
import os

import boto3

REGION = os.environ["AWS_REGION"]
logger = logging.getLogger()
logger.setLevel(logging.INFO)
dynamodb = boto3.resource("dynamodb", region_name=REGION)


def echo(event, context):
    print("got", event["body"])
    return {"statusCode": 200, "body": event["body"]}
"""
SERVED = 200


async def test_serve_routes_and_logs_every_message_sent_just_before_a_close(
    tmp_path: Path,
) -> None:
    """``apigw-ws serve`` with its defaults (uvloop, its log batched to a file in
    the served folder, reload on): clients that send and close at once each get
    their message invoked, a frame line and one close line, all in the log by
    the time serve has exited on SIGTERM."""
    (tmp_path / "last_words.py").write_text(LAST_WORDS, encoding="utf-8")
    (tmp_path / "routes.yaml").write_text(
        "stage: clitest\nroutes:\n  $default:\n    handler: last_words.echo\n"
        "    routeResponse: true\n",
        encoding="utf-8",
    )
    log = tmp_path / "serve.log"
    async with _serve(["--port", "0"], cwd=tmp_path, log=log) as server:
        slots = asyncio.Semaphore(50)

        async def send_and_close(n: int) -> None:
            async with slots, connect(server.url, compression=None, open_timeout=CLI_TIMEOUT) as ws:
                await ws.send(f"message {n}")

        await asyncio.wait_for(asyncio.gather(*(send_and_close(n) for n in range(SERVED))), TIMEOUT)
        server.process.send_signal(signal.SIGTERM)
        await server.finish()
        assert server.process.returncode == 0, server.errors()
    lines = log.read_text(encoding="utf-8").splitlines()
    printed = Counter(line.rsplit(" | got ", 1)[1] for line in lines if " | got " in line)
    assert printed == Counter(f"message {n}" for n in range(SERVED))
    frames = [line for line in lines if " frame → $default (not JSON) last_words.echo " in line]
    closes = Counter(line.split()[1] for line in lines if " close 1000 " in line)
    assert len(frames) == SERVED, lines[-20:]
    assert all(line.endswith(" ok") for line in frames), frames
    assert len(closes) == SERVED
    assert set(closes.values()) == {1}
    assert {line.split()[1] for line in frames} == set(closes)
