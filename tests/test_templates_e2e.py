"""Imported templates, served: each route reaches its own function, with its environment.

The fixture handlers report what they see (their function's name, their
module's file, their environment): in the body of their result, which the
record keeps (``$connect``, ``$disconnect``), as a two-way route's reply, or
posted back through the @connections API with boto3.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools.testing import Harness

FIXTURES = Path(__file__).parent / "fixtures" / "templates"


@asynccontextmanager
async def serve(relative: str, **options: Any) -> AsyncIterator[Harness]:
    imported = load_template(FIXTURES / relative, **options)
    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as harness:
        yield harness


async def reported(harness: Harness, route_key: str) -> dict[str, Any]:
    """What the function behind ``route_key`` saw, from the body of its last result."""
    (*_, invocation) = await harness.record.wait_for_invocations(route_key)
    assert invocation.outcome == "ok", invocation.invocation.error
    body: dict[str, Any] = json.loads(invocation.result["body"])
    return body


def in_folder(folder: str) -> Callable[[str], bool]:
    base = (FIXTURES / folder).resolve()
    return lambda file: Path(file).resolve().parent.is_relative_to(base)


CHAT = {"TABLE_NAME": "simplechat_connections", "LOG_LEVEL": "INFO"}


async def test_sam_chat_each_route_reaches_its_own_app_py() -> None:
    async with serve("sam_chat/template.yaml") as harness:
        client = await harness.connect()

        connect = await reported(harness, "$connect")
        assert connect["function"] == "OnConnectFunction"
        assert in_folder("sam_chat/onconnect")(connect["file"])
        assert connect["environment"] == {**CHAT, "CHAT_ROLE": "connect"}

        await client.send_json({"action": "sendmessage", "data": "hello"})
        send = await client.receive_json()
        assert send["function"] == "SendMessageFunction"
        assert send["routeKey"] == "sendmessage"
        assert send["data"] == "hello"  # parsed by a module beside app.py
        assert in_folder("sam_chat/sendmessage")(send["file"])
        # CALLBACK_URL needs the deployed API's id: reported at import, not set.
        assert send["environment"] == {**CHAT, "CHAT_ROLE": "send", "CALLBACK_URL": None}
        assert 0 < send["remainingMs"] <= 5000  # the function's Timeout: 5

        await client.close()
        disconnect = await reported(harness, "$disconnect")
        assert disconnect["function"] == "OnDisconnectFunction"
        assert in_folder("sam_chat/ondisconnect")(disconnect["file"])
        assert disconnect["environment"] == {**CHAT, "CHAT_ROLE": "disconnect"}
    assert "CHAT_ROLE" not in os.environ  # the process environment is left alone


SINGLE = {
    "SERVICE": "ws-single",
    "STAGE": "dev",
    "TABLE_NAME": "ws-single-dev-connections",
    "LOG_LEVEL": "info",
    "REGION_NAME": "eu-west-1",
    "ASSETS_BUCKET": "ws-single-dev-assets",
    "QUEUE_ARN": "arn:aws:sqs:eu-west-1:000000000000:Queue",  # as --mock-aws creates it
    "API_KEY": None,  # from SSM
}


async def test_serverless_single_function_serves_every_route() -> None:
    async with serve("serverless_single/serverless.yml", environ={}) as harness:
        client = await harness.connect()

        connect = await reported(harness, "$connect")
        assert (connect["function"], connect["routeKey"]) == ("router", "$connect")
        assert connect["environment"] == {**SINGLE, "FUNCTION_ROLE": "router"}

        await client.send_json({"type": "echo", "text": "ping"})
        echo = await client.receive_json()  # two-way: the reply is the result's body
        assert (echo["function"], echo["routeKey"]) == ("router", "echo")
        assert json.loads(echo["body"]) == {"type": "echo", "text": "ping"}
        assert 0 < echo["remainingMs"] <= 10000  # provider.timeout: 10

        await client.send_json({"type": "whoami"})
        whoami = await client.receive_json()  # declared twice: the last function wins
        assert (whoami["function"], whoami["routeKey"]) == ("whoami", "whoami")
        assert whoami["environment"] == {**SINGLE, "FUNCTION_ROLE": "whoami"}
        assert 0 < whoami["remainingMs"] <= 3000

        await client.send_text("not json")
        fallback = await client.receive_json()  # posted through @connections by boto3
        assert (fallback["function"], fallback["routeKey"]) == ("router", "$default")
        assert fallback["environment"] == {**SINGLE, "FUNCTION_ROLE": "router"}
        assert harness.record.sent_to(client.connection_id, "post") == [json.dumps(fallback)]

        await client.close()
        disconnect = await reported(harness, "$disconnect")
        assert (disconnect["function"], disconnect["routeKey"]) == ("router", "$disconnect")


async def test_serverless_stage_option_names_the_stage() -> None:
    options = {"parameters": {"stage": "prod"}, "environ": {"WS_SINGLE_LOG_LEVEL": "debug"}}
    async with serve("serverless_single/serverless.yml", **options) as harness:
        assert harness.url.endswith("/prod")
        client = await harness.connect()
        await client.send_json({"type": "echo"})
        echo = await client.receive_json()
        assert echo["environment"]["STAGE"] == "prod"
        assert echo["environment"]["LOG_LEVEL"] == "debug"
        assert echo["environment"]["TABLE_NAME"] == "ws-single-prod-connections"


async def test_authorizer_and_two_way_default_from_a_template() -> None:
    async with serve("cfn_authorizer/template.yaml") as harness:
        # AWS: a missing identity source is 401 before the authorizer runs (spec §6.3).
        assert await harness.connect_rejected(query={"token": "let-me-in"}) == 401
        assert await harness.connect_rejected(headers={"Auth": "x"}, query={"token": "no"}) == 403

        client = await harness.connect(headers={"Auth": "x"}, query={"token": "let-me-in"})
        await client.send_text("anything")
        assert await client.receive_text() == "hello from $default"
        await client.send_json({"action": "sendmessage"})  # one-way: nothing comes back
        (send,) = await harness.record.wait_for_invocations("sendmessage")
        assert send.result == {"statusCode": 200, "body": "hello from sendmessage"}
        assert harness.record.sent_to(client.connection_id) == ["hello from $default"]
