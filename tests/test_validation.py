"""Request validation (spec §A.7): models on messages, required parameters on $connect."""

from __future__ import annotations

import json
import sys
from types import MappingProxyType
from typing import Any

import pytest

from emulator.errors import ConfigError
from emulator.gateway import validation
from emulator.gateway.validation import (
    ModelValidators,
    bad_request_body,
    missing_parameters,
    missing_parameters_body,
)
from emulator.model.api import ModelConfig, RouteRequest
from emulator.model.config import parse_config
from emulator.model.selection import compile_expression
from tests.conftest import StartApi

# SP:apigw-websocket-api-sns: the order model (draft 4).
ORDER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"Name": {"type": "string"}, "SirName": {"type": "string"}},
    "required": ["Name", "SirName", "Number"],
}
MODELS = {
    "orderModel": ModelConfig("orderModel", ORDER_SCHEMA),
    "anything": ModelConfig("anything", {"type": "object"}),
}


def request(models: dict[str, str], expression: str = "$request.body.action") -> RouteRequest:
    return RouteRequest(compile_expression(expression), MappingProxyType(models))


CASES = [
    ("valid", {"sendOrder": "orderModel"},
     '{"action":"sendOrder","Name":"a","SirName":"b","Number":1}', None),
    ("missing-fields", {"sendOrder": "orderModel"}, '{"action":"sendOrder","Name":"Jon"}',
     "model 'orderModel': 'Number' is a required property; 'SirName' is a required property"),
    ("wrong-type", {"sendOrder": "orderModel"},
     '{"action":"sendOrder","Name":1,"SirName":"b","Number":1}', "1 is not of type 'string'"),
    ("not-json", {"sendOrder": "orderModel"}, "hello", "the body is not JSON"),
    ("no-model-no-default", {"sendOrder": "orderModel"}, '{"action":"other"}',
     "no model for 'other' and no $default model"),
    ("default-model", {"sendOrder": "orderModel", "$default": "anything"}, '{"action":"other"}',
     None),
    ("default-rejects", {"$default": "anything"}, "[1, 2]", "is not of type 'object'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("models", "body", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_model_validation(models: dict[str, str], body: str, problem: str | None) -> None:
    found = ModelValidators(MODELS).check(request(models), body)

    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_a_route_without_an_expression_is_not_validated() -> None:
    assert ModelValidators(MODELS).check(RouteRequest(), "not json") is None


def test_a_draft_7_schema_is_honoured() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "const": 1}
    validators = ModelValidators({"one": ModelConfig("one", schema)})

    assert validators.check(request({"$default": "one"}, "\\$default"), "1") is None
    assert validators.check(request({"$default": "one"}, "\\$default"), "2") is not None


def test_an_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        ModelValidators({"bad": ModelConfig("bad", {"type": 12})})

    assert caught.value.key == "models.bad.schema"
    assert "is not a valid JSON schema" in caught.value.problem


def test_the_bad_request_body_frame_is_byte_for_byte_aws() -> None:
    # DG:apigateway-websocket-api-routes-integrations, spacing included.
    assert bad_request_body("cid=", "mid=") == (
        '{"message" : "Bad request body", "connectionId": "cid=", "messageId": "mid="}'
    )


REQUIRED = RouteRequest(
    request_parameters=MappingProxyType(
        {
            "route.request.querystring.token": True,
            "route.request.header.X-Tenant": True,
            "route.request.querystring.optional": False,
        }
    )
)


@pytest.mark.parametrize(
    ("headers", "query", "missing"),
    [
        ([("x-tenant", "t")], [("token", "1")], []),
        ([], [("token", "1")], ["X-Tenant"]),
        ([("X-Tenant", "t")], None, ["token"]),
        ([], None, ["token", "X-Tenant"]),
    ],
    ids=["all-present", "header-missing", "query-missing", "both-missing"],
)
def test_missing_parameters(
    headers: list[tuple[str, str]], query: list[tuple[str, str]] | None, missing: list[str]
) -> None:
    assert missing_parameters(REQUIRED, headers, query) == missing


def test_missing_parameters_body() -> None:
    assert json.loads(missing_parameters_body(["a", "b"])) == {
        "message": "Missing required request parameters: [a, b]"
    }


def test_module_is_pure() -> None:
    assert "asyncio" not in validation.__dict__
    # jsonschema is imported for an API with models, not at start-up.
    validation.ModelValidators({"m": ModelConfig("m", {"type": "object"})})
    assert {"jsonschema", "emulator.gateway.validation"} <= set(sys.modules)


# -- routes.yaml -----------------------------------------------------------------------------------


def document(**route: Any) -> dict[str, Any]:
    return {
        "models": {"orderModel": {"schema": ORDER_SCHEMA}},
        "routes": {"sendOrder": {"handler": "a.b", **route}},
    }


CONFIG_ERRORS = [
    ("unknown-model", {"modelSelectionExpression": "$request.body.action",
                       "requestModels": {"sendOrder": "nope"}},
     "routes.sendOrder.requestModels.sendOrder", "names no model of 'models': 'nope'"),
    ("models-without-expression", {"requestModels": {"sendOrder": "orderModel"}},
     "routes.sendOrder.requestModels", "needs a 'modelSelectionExpression'"),
    ("bad-expression", {"modelSelectionExpression": "${request.header.x}"},
     "routes.sendOrder.modelSelectionExpression", "unsupported variable"),
    ("bad-parameter", {"requestParameters": {"route.request.path.x": True}},
     "routes.sendOrder.requestParameters", "route.request.header.NAME"),
    ("parameter-value", {"requestParameters": {"route.request.header.x": "yes"}},
     "routes.sendOrder.requestParameters.route.request.header.x", "must be true, false"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("route", "key", "words"), [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS]
)
def test_config_errors(route: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document(**route))

    assert caught.value.key == key
    assert words in caught.value.problem


@pytest.mark.parametrize(
    ("models", "key"),
    [({"order-model": {"schema": {}}}, "models"), ({"m": {"schema": "{"}}, "models.m.schema"),
     ({"m": {"schema": [1]}}, "models.m.schema"), ({"m": {"schema": {}, "x": 1}}, "models.m.x")],
    ids=["name", "json-text", "not-a-mapping", "unknown-key"],
)  # fmt: skip
def test_model_config_errors(models: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"models": models, "routes": {"$default": "a.b"}})

    assert caught.value.key == key


def test_a_schema_may_be_json_text() -> None:
    config = parse_config(
        {"models": {"m": {"schema": json.dumps(ORDER_SCHEMA)}}, "routes": {"$default": "a.b"}}
    )

    assert config.models["m"].schema == ORDER_SCHEMA


# -- end to end ------------------------------------------------------------------------------------


async def test_a_model_rejects_a_bad_message_with_the_exact_frame(start_api: StartApi) -> None:
    api = await start_api(
        {
            "sendOrder": {
                "handler": "probe.echo",
                "routeResponse": True,
                "modelSelectionExpression": "$request.body.action",
                "requestModels": {"sendOrder": "orderModel"},
            }
        },
        models={"orderModel": {"schema": ORDER_SCHEMA}},
    )
    client = await api.connect()

    await client.send_json({"action": "sendOrder", "Name": "Jon"})
    frame = await client.receive_text()
    good = {"action": "sendOrder", "Name": "Jon", "SirName": "Snow", "Number": 1}
    await client.send_json(good)
    echoed = await client.receive_json()

    cid = client.connection_id
    prefix = f'{{"message" : "Bad request body", "connectionId": "{cid}", "messageId": "'
    assert frame.startswith(prefix)
    assert frame.endswith('"}')
    assert echoed == good  # the valid message reached the handler, the bad one did not
    assert len(api.record.events("sendOrder")) == 1


async def test_a_model_guards_an_integration_route(start_api: StartApi) -> None:
    api = await start_api(
        {
            "$default": {
                "integration": {"type": "MOCK", "responses": [{"key": "$default"}]},
                "routeResponse": True,
                "modelSelectionExpression": "\\$default",
                "requestModels": {"$default": "orderModel"},
            }
        },
        models={"orderModel": {"schema": ORDER_SCHEMA}},
    )
    client = await api.connect()

    await client.send_text("not json")

    assert '"message" : "Bad request body"' in await client.receive_text()
    assert api.record.invocations == []


async def test_required_connect_parameters(start_api: StartApi) -> None:
    api = await start_api(
        {
            "$connect": {
                "handler": "probe.ok",
                "requestParameters": {"route.request.querystring.token": {"required": True}},
            }
        }
    )

    assert await api.connect_rejected() == 400
    assert await api.connect(query={"token": "t"})
    assert len(api.record.events("$connect")) == 1
