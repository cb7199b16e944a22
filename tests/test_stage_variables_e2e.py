"""Stage variables reach Lambda: the authorizer's event and every Lambda proxy event.

Through the real server, from routes.yaml's ``stageVariables`` and from a
template's ``AWS::ApiGatewayV2::Stage`` ``StageVariables``. lambda_env's
authorizer (src/authorize.py) lets a connection in only when
``stageVariables.color`` is ``blue``, as an authorizer that picks its settings
by stage does; its ``$connect``, ``$default`` and ``$disconnect`` functions
report the event's ``stageVariables``. Without stage variables, AWS omits the
key from Lambda proxy events and gives the authorizer ``{}``
(lambda-runtime-spec §6.2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools.testing import Harness

LAMBDA_ENV = Path(__file__).parent / "fixtures" / "apps" / "lambda_env"
VARIABLES = {"color": "blue", "table": "connections-dev"}
TOKEN = {"token": "let-me-in"}


def from_routes_yaml(stage_variables: dict[str, str] | None) -> Harness:
    """lambda_env's functions, declared in routes.yaml."""
    src = {"codeUri": "src", "environment": {"APP_NAME": "lambda-env"}}
    config: dict[str, Any] = {
        "stage": "dev",
        "authorizer": {
            "handler": "authorize.lambda_handler",
            "codeUri": "src",
            "environment": {"EXPECTED_TOKEN": "let-me-in"},
            "identitySource": ["route.request.querystring.token"],
        },
        "functions": {"report": {"handler": "report.lambda_handler", **src}},
        "routes": {
            "$connect": {"function": "report"},
            "$disconnect": {"function": "report"},
            "$default": {"function": "report", "routeResponse": True},
        },
    }
    if stage_variables is not None:
        config["stageVariables"] = stage_variables
    return Harness.from_config(config, base_dir=LAMBDA_ENV)


def from_template() -> Harness:
    imported = load_template(LAMBDA_ENV / "template.yaml")
    return Harness(Emulator(imported.config, host="127.0.0.1", port=0))


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda: from_routes_yaml(VARIABLES), id="routes-yaml"),
        pytest.param(from_template, id="template"),
    ],
)
async def test_stage_variables_reach_the_authorizer_and_every_lambda_event(start: Any) -> None:
    async with start() as api:
        # The authorizer allows only with stageVariables.color == "blue".
        client = await api.connect(query=TOKEN)
        await client.send_json({"names": []})
        reported = await client.receive_json()
        await client.close()
        await api.record.wait_for_invocations("$disconnect")
    assert reported["stageVariables"] == VARIABLES
    events = {record.route_key: record.event for record in api.record.invocations}
    assert set(events) == {"$authorizer", "$connect", "$default", "$disconnect"}
    for route_key, event in events.items():
        assert event["stageVariables"] == VARIABLES, route_key
    # What the authorizer passed on, from the stage variable it read.
    assert events["$default"]["requestContext"]["authorizer"]["color"] == "blue"


async def test_without_stage_variables_the_authorizer_gets_none_and_refuses() -> None:
    async with from_routes_yaml(None) as api:
        assert await api.connect_rejected(query=TOKEN) == 401
        [record] = await api.record.wait_for_invocations("$authorizer")
    assert record.event["stageVariables"] == {}
    assert [r.route_key for r in api.record.invocations] == ["$authorizer"]


async def test_without_stage_variables_lambda_events_have_no_key() -> None:
    config = {
        "routes": {
            "$connect": {"handler": "report.lambda_handler", "codeUri": "src"},
            "$default": {
                "handler": "report.lambda_handler",
                "codeUri": "src",
                "routeResponse": True,
            },
        },
        "environment": {"APP_NAME": "lambda-env"},
    }
    async with Harness.from_config(config, base_dir=LAMBDA_ENV) as api:
        client = await api.connect()
        await client.send_json({"names": []})
        assert (await client.receive_json())["stageVariables"] is None
    assert all("stageVariables" not in record.event for record in api.record.invocations)
