"""MOCK integrations end to end (spec §A.6), with AWS-validated configurations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import StartApi


def mock(**extra: Any) -> dict[str, Any]:
    return {"type": "MOCK", **extra}


# LS-PRO-WS-TEST test_apigatewaymanagementapi: "tell the client its connectionId".
ECHO_CONNECTION_ID = mock(
    templateSelectionExpression="200",
    requestTemplates={"200": '{"statusCode": 200}'},
    responses=[
        {
            "key": "/200/",
            "templateSelectionExpression": "200",
            "responseTemplates": {
                "200": '{"statusCode": 200, "connectionId": "$context.connectionId"}'
            },
        }
    ],
)


async def test_mock_answers_with_the_response_template(start_api: StartApi) -> None:
    api = await start_api({"$default": {"integration": ECHO_CONNECTION_ID, "routeResponse": True}})
    client = await api.connect()

    await client.send_json({"action": "message"})

    assert await client.receive_json() == {"statusCode": 200, "connectionId": client.connection_id}


async def test_mock_status_selects_the_integration_response(start_api: StartApi) -> None:
    integration = mock(
        templateSelectionExpression="$request.body.kind",
        requestTemplates={"bad": '{"statusCode": 400}', "$default": '{"statusCode": 200}'},
        responses=[
            {"key": "/4\\d\\d/", "responseTemplates": {"$default": '{"error": "$input.body"}'}},
            {"key": "$default", "responseTemplates": {"$default": '{"ok": true}'}},
        ],
    )
    api = await start_api({"$default": {"integration": integration, "routeResponse": True}})
    client = await api.connect()

    await client.send_json({"kind": "bad"})
    assert await client.receive_json() == {"error": ""}  # the mock body is empty
    await client.send_json({"kind": "good"})
    assert await client.receive_json() == {"ok": True}


async def test_mock_without_templates_answers_an_empty_frame(start_api: StartApi) -> None:
    integration = mock(responses=[{"key": "$default"}])
    api = await start_api({"$default": {"integration": integration, "routeResponse": True}})
    client = await api.connect()

    await client.send_text("anything")

    assert await client.receive_text() == ""


async def test_mock_with_an_unreadable_status_fails(start_api: StartApi) -> None:
    integration = mock(requestTemplates={"$default": "not json"}, responses=[{"key": "$default"}])
    api = await start_api({"$default": {"integration": integration, "routeResponse": True}})
    client = await api.connect()

    await client.send_text("{}")

    assert json.loads(await client.receive_text())["message"] == "Internal server error"


async def test_one_way_mock_sends_nothing(start_api: StartApi) -> None:
    api = await start_api({"$default": {"integration": ECHO_CONNECTION_ID}})
    client = await api.connect()

    await client.send_text("{}")
    await api.record.wait_for_invocations("$default")

    assert api.record.sent_to(client.connection_id) == []


@pytest.mark.parametrize(
    ("template", "accepted"),
    [('{"statusCode": 200}', True), ("{statusCode: 204}", True), ('{"statusCode": 403}', False)],
    ids=["200", "relaxed-json", "403"],
)
async def test_connect_mock_status_decides(
    start_api: StartApi, template: str, accepted: bool
) -> None:
    """The SQS test's $connect: TSE `default`, {"statusCode": 200} (§A.6)."""
    integration = mock(
        templateSelectionExpression="default",
        requestTemplates={"default": template},
        responses=[{"key": "$default", "responseTemplates": {"$default": '{"statusCode": 200}'}}],
    )
    api = await start_api({"$connect": {"integration": integration}, "$default": "probe.echo"})

    if accepted:
        client = await api.connect()
        assert client.connection_id in api.emulator.connection_ids()
    else:
        assert await api.connect_rejected() == 403


async def test_disconnect_mock_runs(start_api: StartApi) -> None:
    api = await start_api({"$disconnect": {"integration": mock()}, "$default": "probe.echo"})
    client = await api.connect()
    await client.close()

    (run,) = await api.record.wait_for_invocations("$disconnect")

    assert run.outcome == "ok"
    assert run.event["requestContext"]["eventType"] == "DISCONNECT"
    assert run.event["integration"] == {"type": "MOCK", "statusCode": 200}
