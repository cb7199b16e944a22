"""API keys on $connect (spec §A.8): the key's source, its checks, and the event's identity."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.errors import ConfigError
from emulator.gateway.access.apikeys import (
    check_api_key,
    presented_key,
    uses_authorizer,
    with_api_key,
)
from emulator.gateway.events import ConnectionInfo, message_event
from emulator.model.api import ApiKeyConfig
from emulator.model.config import parse_config
from tests.conftest import StartApi

KEY = "k" * 24
KEYS = (
    ApiKeyConfig("key1", KEY),
    ApiKeyConfig("key2", "disabled-key-value-000", enabled=False),
    ApiKeyConfig("key3", "prod-only-key-value-000", stages=("prod",)),
)
HEADER = "$request.header.x-api-key"
AUTHORIZER = "$context.authorizer.usageIdentifierKey"


@pytest.mark.parametrize(
    ("presented", "stage", "allowed_id", "reason"),
    [
        (KEY, "dev", "key1", ""),
        (None, "dev", None, "no API key"),
        ("nope", "dev", None, "unknown API key"),
        ("disabled-key-value-000", "dev", None, "API key key2 is disabled"),
        ("prod-only-key-value-000", "dev", None, "API key key3 is not for stage dev"),
        ("prod-only-key-value-000", "prod", "key3", ""),
    ],
    ids=["valid", "missing", "unknown", "disabled", "other-stage", "its-stage"],
)
def test_check_api_key(
    presented: str | None, stage: str, allowed_id: str | None, reason: str
) -> None:
    decision = check_api_key(KEYS, stage, presented)

    assert decision.allowed is (allowed_id is not None)
    assert (decision.key.id if decision.key else None) == allowed_id
    assert decision.reason == reason
    assert decision.status == (None if allowed_id else 403)


@pytest.mark.parametrize(
    ("expression", "headers", "authorizer", "key"),
    [
        (HEADER, [("X-Api-Key", "abc")], None, "abc"),
        (HEADER, [("x-api-key", "")], None, None),
        (HEADER, [], {"usageIdentifierKey": "abc"}, None),
        (AUTHORIZER, [("x-api-key", "abc")], None, None),
        (AUTHORIZER, [], {"usageIdentifierKey": "abc"}, "abc"),
    ],
    ids=["header", "empty-header", "header-ignores-authorizer", "no-authorizer", "authorizer"],
)
def test_presented_key(
    expression: str, headers: list[tuple[str, str]], authorizer: Any, key: str | None
) -> None:
    assert presented_key(expression, headers, authorizer) == key
    assert uses_authorizer(expression) is (expression == AUTHORIZER)


def test_the_key_rides_on_the_identity_of_every_event() -> None:
    info = ConnectionInfo("cid", 1, "1.2.3.4", None, "d", "api", "dev")

    event = message_event(
        with_api_key(info, KEYS[0]),
        route_key="$default",
        body="",
        message_id="m",
        request_id="r",
        request_time_ms=1,
    )

    assert event["requestContext"]["identity"] == {
        "apiKey": KEY,
        "apiKeyId": "key1",
        "sourceIp": "1.2.3.4",
    }


# -- routes.yaml -----------------------------------------------------------------------------------


def test_keys_in_the_config() -> None:
    config = parse_config(
        {
            "routes": {"$connect": {"handler": "a.b", "apiKeyRequired": True}},
            "apiKeys": [KEY, {"value": "second", "id": "k2", "stages": ["dev"], "enabled": False}],
            "apiKeySelectionExpression": AUTHORIZER,
        }
    )

    first, second = config.api_keys
    assert (first.value, len(first.id)) == (KEY, 10)
    assert second == ApiKeyConfig("k2", "second", None, False, ("dev",))
    assert config.api_key_selection_expression == AUTHORIZER
    assert config.routes["$connect"].request.api_key_required


@pytest.mark.parametrize(
    ("top", "key"),
    [
        ({"apiKeys": "k"}, "apiKeys"),
        ({"apiKeys": [{"value": ""}]}, "apiKeys[0].value"),
        ({"apiKeys": [{"value": "v", "stages": "dev"}]}, "apiKeys[0].stages"),
        ({"apiKeys": [{"value": "v", "enabled": "yes"}]}, "apiKeys[0].enabled"),
        ({"apiKeys": [{"value": "v", "owner": "x"}]}, "apiKeys[0].owner"),
        ({"apiKeySelectionExpression": "$request.header.key"}, "apiKeySelectionExpression"),
        (
            {"routes": {"sendmessage": {"handler": "a.b", "apiKeyRequired": True}}},
            "routes.sendmessage.apiKeyRequired",
        ),
    ],
    ids=["not-a-list", "empty", "stages", "enabled", "unknown-key", "expression", "not-connect"],
)
def test_config_errors(top: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"routes": {"$default": "a.b"}, **top})

    assert caught.value.key == key


# -- end to end ------------------------------------------------------------------------------------


async def test_an_api_key_gates_connect(start_api: StartApi) -> None:
    api = await start_api(
        {"$connect": {"handler": "probe.ok", "apiKeyRequired": True}, "$default": "probe.echo"},
        apiKeys=[{"id": "abc123", "value": KEY}],
    )

    assert await api.connect_rejected() == 403
    assert await api.connect_rejected(headers={"x-api-key": "wrong"}) == 403
    assert api.record.events("$connect") == []  # refused before $connect ran
    client = await api.connect(headers={"x-api-key": KEY})

    (event,) = api.record.events("$connect")
    assert event["requestContext"]["identity"]["apiKey"] == KEY
    assert event["requestContext"]["identity"]["apiKeyId"] == "abc123"
    assert client.connection_id in api.emulator.connection_ids()


async def test_a_key_from_the_authorizer(start_api: StartApi) -> None:
    api = await start_api(
        {"$connect": {"handler": "probe.ok", "apiKeyRequired": True}, "$default": "probe.echo"},
        apiKeys=[KEY],
        apiKeySelectionExpression=AUTHORIZER,
        authorizer={"handler": "apikey_probe.key_from_query"},
    )

    assert await api.connect_rejected(query={"key": "wrong"}) == 403
    assert await api.connect(query={"key": KEY})


async def test_no_key_needed_without_api_key_required(start_api: StartApi) -> None:
    api = await start_api({"$connect": "probe.ok"}, apiKeys=[KEY])

    assert await api.connect()
