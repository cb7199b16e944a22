"""The example authorizer (handlers/auth.py) in front of the chat application."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator.tools.testing import Harness
from tests.conftest import ROOT

CONFIG = {
    "authorizer": {
        "handler": "handlers.auth.authorize",
        "identitySource": ["route.request.querystring.token"],
    },
    "environment": {"CHAT_TOKEN": "s3cret"},
    "routes": {
        "$connect": "handlers.chat.on_connect",
        "$disconnect": "handlers.chat.on_disconnect",
        "sendmessage": "handlers.chat.send_message",
    },
}


@pytest.fixture
async def api() -> AsyncIterator[Harness]:
    async with Harness.from_config(CONFIG, base_dir=ROOT) as harness:
        yield harness


async def test_the_right_token_connects_and_the_name_rides_along(api: Harness) -> None:
    client = await api.connect(query={"token": "s3cret", "name": "alice"})
    await client.send_json({"action": "sendmessage", "data": "hi"})
    assert await client.receive_text() == "alice: hi"
    (call,) = await api.record.wait_for_invocations("sendmessage")
    authorizer = call.event["requestContext"]["authorizer"]
    assert authorizer["name"] == "alice"
    assert authorizer["admin"] == "false"  # AWS stringifies context values
    assert authorizer["principalId"] == "alice"


async def test_a_wrong_token_is_401(api: Harness) -> None:
    assert await api.connect_rejected(query={"token": "guess"}) == 401


async def test_no_token_is_401_without_calling_the_authorizer(api: Harness) -> None:
    assert await api.connect_rejected() == 401
    assert api.record.invocations == []
