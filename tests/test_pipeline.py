"""One pipeline for every route: a Lambda route and a backend route take the same steps.

Select, validate, integrate, respond: whatever the integration, observers see
the same kinds in the same order, the log writes the same fields, and a failed
integration sends the same error frame (spec §3.2.5, §A.1).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from tests.conftest import StartApi

MOCK_ECHO = {
    "type": "MOCK",
    "requestTemplates": {"$default": '{"statusCode": 200}'},
    "responses": [{"key": "$default", "responseTemplates": {"$default": '{"from": "mock"}'}}],
}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="emulator.events")
    return caplog


async def test_lambda_and_backend_routes_are_observed_alike(
    start_api: StartApi, events: pytest.LogCaptureFixture
) -> None:
    api = await start_api(
        {
            "lambda": {"handler": "probe.route_key", "routeResponse": True},
            "mock": {"integration": MOCK_ECHO, "routeResponse": True},
        }
    )
    client = await api.connect()
    seen: list[tuple[str, Any]] = []
    api.emulator.observers.append(lambda kind, details: seen.append((kind, details)))

    await client.send_json({"action": "lambda"})
    assert await client.receive_text() == "lambda"
    await client.send_json({"action": "mock"})
    assert await client.receive_json() == {"from": "mock"}

    assert [kind for kind, _ in seen] == ["frame", "invoke", "send"] * 2
    assert [details["routeKey"] for kind, details in seen if kind == "invoke"] == ["lambda", "mock"]
    assert [details["source"] for kind, details in seen if kind == "send"] == [
        "route-response",
        "route-response",
    ]
    frames = [r.apigw for r in events.records if getattr(r, "apigw", {}).get("kind") == "frame"]
    assert [(f["routeKey"], f["reason"], f["outcome"]) for f in frames] == [
        ("lambda", "matched", "ok"),
        ("mock", "matched", "ok"),
    ]
    assert frames[0].keys() == frames[1].keys()
    assert [f["handler"] for f in frames] == ["probe.route_key", "MOCK"]


@pytest.mark.parametrize("kind", ["lambda", "backend"])
async def test_a_failed_integration_sends_the_same_frame(start_api: StartApi, kind: str) -> None:
    route: dict[str, Any] = (
        {"handler": "probe.boom"}
        if kind == "lambda"
        else {"integration": {"type": "HTTP_PROXY", "uri": f"http://127.0.0.1:{closed_port()}/"}}
    )
    api = await start_api({"$default": route})
    client = await api.connect()

    await client.send_text("hello")

    frame = await client.receive_json()
    assert frame["message"] == "Internal server error"
    assert frame["connectionId"] == client.connection_id
    [invocation] = await api.record.wait_for_invocations("$default")
    assert invocation.outcome == "error"
    assert frame["requestId"] == invocation.event["requestContext"]["requestId"]
