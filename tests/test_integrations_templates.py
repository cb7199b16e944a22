"""Templates and integrations (spec §A.10): import, the API's own id, export and back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.errors import ConfigError
from emulator.model.config import parse_config
from emulator.model.integration import IntegrationType, PassthroughBehavior
from emulator.model.templates import load_template
from emulator.tools.export.sam import export_sam

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "integrations" / "cfn_integrations" / "template.yaml"
SAM_CHAT = HERE / "fixtures" / "templates" / "sam_chat" / "template.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def test_every_integration_type_is_imported() -> None:
    imported = load_template(FIXTURE)
    config = imported.config

    assert imported.skipped == ()
    assert config.functions == {}  # no Lambda route: every route is an integration
    connect, send, default = (config.routes[k] for k in ("$connect", "sendOrder", "$default"))
    assert (connect.integration.type, connect.integration.timeout) == (
        IntegrationType.HTTP_PROXY,
        5,
    )
    assert connect.integration.request_parameters["integration.request.header.x-token"] == (
        "route.request.querystring.token"
    )
    assert connect.request.api_key_required
    assert dict(connect.request.request_parameters) == {"route.request.querystring.token": True}
    # ${Queue.QueueName} is the queue's QueueName; ${!context...} is VTL's ${context...}.
    assert send.integration.uri == "arn:aws:apigateway:us-east-1:sqs:path/000000000000/orders"
    assert send.integration.request_templates["$default"].endswith("=${context.connectionId}")
    assert send.integration.passthrough_behavior is PassthroughBehavior.NEVER
    assert send.route_response
    assert [r.key for r in send.integration.responses] == ["$default"]
    assert dict(send.request.request_models) == {"sendOrder": "orderModel"}
    assert default.integration.type is IntegrationType.MOCK
    assert default.integration.responses[0].key == "/200/"
    assert config.models["orderModel"].schema["required"] == ["Name"]
    (key,) = config.api_keys
    assert (key.id, key.value, key.stages) == ("ApiKey", "local-key-0123456789abcdef", ("prod",))
    assert dict(config.stage_variables) == {"env": "production"}
    assert imported.warnings == (
        "Resources.GeneratedKey: the key's Value is generated once deployed;"
        " give it a Value to connect locally",
    )


def write(tmp_path: Path, resources: dict[str, Any]) -> Path:
    document = {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": "$request.body.action",
                },
            },
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "dev"},
            },
            **resources,
        }
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def route_to(integration: dict[str, Any], route: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Route": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": "$default",
                "Target": {"Fn::Sub": "integrations/${Integ}"},
                **(route or {}),
            },
        },
        "Integ": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": {"Ref": "Api"}, **integration},
        },
    }


def test_payload_format_2_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, route_to({"IntegrationType": "MOCK", "PayloadFormatVersion": "2.0"}))

    with pytest.raises(ConfigError) as caught:
        load_template(path)

    assert caught.value.key == "Resources.Integ.Properties.PayloadFormatVersion"


def test_an_http_uri_known_only_once_deployed_is_skipped(tmp_path: Path) -> None:
    integration = {
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": {"Fn::Sub": "http://${Balancer.DNSName}/"},
    }
    balancer = {"Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"}}
    path = write(tmp_path, {**route_to(integration), **balancer})

    with pytest.raises(ConfigError, match="no route to serve"):
        load_template(path)


def test_an_unnamed_resource_stands_in_by_its_logical_id(tmp_path: Path) -> None:
    integration = {
        "IntegrationType": "AWS",
        "IntegrationUri": "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
        "RequestTemplates": {"$default": {"Fn::Sub": '{"StreamName": "${Stream}"}'}},
    }
    path = write(tmp_path, {**route_to(integration), "Stream": {"Type": "AWS::Kinesis::Stream"}})

    imported = load_template(path)

    template = imported.config.routes["$default"].integration.request_templates["$default"]
    assert template == '{"StreamName": "Stream"}'
    assert (
        "Resources.Integ.Properties.RequestTemplates.$default: Ref Stream is only known"
        in (imported.warnings[0])
    )


# -- the API's own id ------------------------------------------------------------------------------


def test_the_callback_url_resolves_to_the_emulators_api_id() -> None:
    before = load_template(SAM_CHAT, environ={})
    after = load_template(SAM_CHAT, environ={}, api_id="abc123defg")

    environment = after.config.routes["sendmessage"].function.environment
    assert (
        environment["CALLBACK_URL"] == "https://abc123defg.execute-api.us-east-1.amazonaws.com/Prod"
    )
    assert not [w for w in after.warnings if "CALLBACK_URL" in w]
    assert [w for w in before.warnings if "CALLBACK_URL" in w]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Api"}, "abc123defg"),
        ({"Fn::GetAtt": ["Api", "ApiId"]}, "abc123defg"),
        ({"Fn::GetAtt": ["Api", "ApiEndpoint"]}, "wss://abc123defg.execute-api.us-east-1.amazonaws.com"),
        ({"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"},
         "https://abc123defg.execute-api.us-east-1.amazonaws.com/dev"),
    ],
    ids=["ref", "get-att-api-id", "get-att-endpoint", "sub-with-stage"],
)  # fmt: skip
def test_references_to_the_api_resolve(tmp_path: Path, value: Any, expected: str) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return None\n")
    function = {
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Runtime": "python3.13",
                "Handler": "app.handler",
                "Environment": {"Variables": {"URL": value}},
            },
        }
    }
    integration = {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": {
            "Fn::Sub": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31"
            "/functions/${Fn.Arn}/invocations"
        },
    }
    path = write(tmp_path, {**route_to(integration), **function})

    imported = load_template(path, api_id="abc123defg")

    assert imported.config.routes["$default"].function.environment["URL"] == expected


def test_serverless_websockets_api_resolves(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def main(event, context):\n    return None\n")
    url = {"Fn::Join": ["", ["https://", {"Ref": "WebsocketsApi"}, ".execute-api"]]}
    document = {
        "service": "chat",
        "provider": {"name": "aws", "runtime": "python3.12", "environment": {"URL": url}},
        "functions": {"main": {"handler": "handler.main", "events": [{"websocket": "$default"}]}},
    }
    path = tmp_path / "serverless.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")

    imported = load_template(path, api_id="id42")

    assert imported.config.environment["URL"] == "https://id42.execute-api"


# -- export, and back ------------------------------------------------------------------------------


ROUND_TRIP = {
    "routeSelectionExpression": "$request.body.action",
    "stage": "dev",
    "stageVariables": {"env": "test"},
    "apiKeys": [{"id": "k1", "value": "local-key-0123456789abcdef", "name": "ci"}],
    "apiKeySelectionExpression": "$context.authorizer.usageIdentifierKey",
    "models": {"orderModel": {"schema": {"type": "object", "required": ["Name"]}}},
    "routes": {
        "$connect": {
            "integration": {"type": "MOCK",
                            "requestTemplates": {"$default": '{"statusCode": 200}'}},
            "apiKeyRequired": True,
            "requestParameters": {"route.request.querystring.token": {"required": False}},
        },
        "sendOrder": {
            "integration": {
                "type": "AWS",
                "uri": "arn:aws:apigateway:us-east-1:sqs:path/000000000000/orders",
                "requestParameters": {
                    "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
                },
                "templateSelectionExpression": "\\$default",
                "requestTemplates": {"$default": "Action=SendMessage&MessageBody=$input.body"},
                "passthroughBehavior": "NEVER",
                "timeout": 10,
                "responses": [
                    {"key": "$default", "responseTemplates": {"$default": "$input.body"}},
                    {"key": "/4\\d\\d/", "contentHandlingStrategy": "CONVERT_TO_TEXT"},
                ],
            },
            "routeResponse": True,
            "modelSelectionExpression": "$request.body.action",
            "requestModels": {"sendOrder": "orderModel"},
        },
        "$default": {
            "integration": {
                "type": "HTTP_PROXY", "uri": "http://127.0.0.1:8000/{id}", "method": "PUT",
                "requestParameters": {"integration.request.path.id": "context.connectionId"},
            },
            "routeResponse": True,
        },
    },
}  # fmt: skip


def test_export_writes_integrations_that_load_back(tmp_path: Path) -> None:
    config = parse_config(ROUND_TRIP, base_dir=tmp_path)
    path = tmp_path / "template.yaml"
    path.write_text(export_sam(config), encoding="utf-8")

    back = load_template(path).config

    assert back.routes == config.routes
    assert back.models == config.models
    assert back.stage_variables == config.stage_variables
    assert back.api_key_selection_expression == config.api_key_selection_expression
    assert [(k.value, k.name, k.enabled) for k in back.api_keys] == [
        ("local-key-0123456789abcdef", "ci", True)
    ]
    if not CFN_LINT.exists():
        pytest.fail(f"cfn-lint is not installed in {CFN_LINT.parent}: pip install -e '.[test]'")
    lint = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert lint.stdout == "", lint.stdout
