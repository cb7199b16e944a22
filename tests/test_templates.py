"""Importing WebSocket APIs from SAM/CloudFormation templates and serverless.yml.

The realistic fixtures in ``tests/fixtures/templates/`` are imported whole and
every route is checked to reach the right function, with the right handler,
code folder, timeout and environment. Then, table-driven: one precise error or
warning per thing that cannot be imported, CloudFormation's intrinsic functions
and the Serverless Framework's variables.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import emulator.model.templates
from emulator.errors import ConfigError
from emulator.model.api import ApiConfig, RouteConfig
from emulator.model.templates import AuthorizerSpec, ImportedApi, load_template
from emulator.model.templates.intrinsics import (
    NO_VALUE,
    Reference,
    Resolver,
    Unresolvable,
    has_references,
    printable,
    references,
)
from emulator.model.templates.variables import Variables

FIXTURES = Path(__file__).parent / "fixtures" / "templates"


@dataclass(frozen=True)
class Served:
    """What a served route should be: its function and how it runs."""

    function: str
    handler: str
    code_uri: str | None
    two_way: bool
    timeout: float
    environment: Mapping[str, str]


def served(imported: ImportedApi) -> dict[str, Served]:
    def one(key: str, route: RouteConfig) -> Served:
        function = route.function
        assert function is not None
        code = function.code_uri.as_posix() if function.code_uri is not None else None
        return Served(
            imported.functions[key],
            function.handler,
            code,
            route.route_response,
            function.timeout,  # the function's Timeout, not how long API Gateway waits
            dict(function.environment),
        )

    routes = imported.config.routes.items()
    return {key: one(key, route) for key, route in routes if route.function is not None}


CHAT = {"TABLE_NAME": "simplechat_connections", "LOG_LEVEL": "INFO"}
SINGLE = {
    "SERVICE": "ws-single",
    "STAGE": "dev",
    "TABLE_NAME": "ws-single-dev-connections",
    "LOG_LEVEL": "info",
    "REGION_NAME": "eu-west-1",
    "ASSETS_BUCKET": "ws-single-dev-assets",
    # Fn::GetAtt of a queue of the service's resources: as --mock-aws creates it.
    "QUEUE_ARN": "arn:aws:sqs:eu-west-1:000000000000:Queue",
}
SINGLE_PROD = {
    **SINGLE,
    "STAGE": "prod",
    "TABLE_NAME": "ws-single-prod-connections",
    "LOG_LEVEL": "debug",
    "ASSETS_BUCKET": "ws-single-prod-assets",
}
ECHO_DEV = {
    "LOG_LEVEL": "DEBUG",
    "MODE": "development",
    "DEV_ONLY": "yes",
    "REGIONAL": "us-east-1/000000000000",
    "PARTITION": "aws",
}
JSON_ENV = {"GREETING": "hello", "TABLE": "local-connections", "RETRIES": "3", "VERBOSE": "true"}
WS_TABLE = {"TABLE_NAME": "websocketapi-connections"}


def single(role: str, env: Mapping[str, str] = SINGLE) -> dict[str, str]:
    return {**env, "FUNCTION_ROLE": role}


FIXTURE_ROUTES = [
    pytest.param(
        "sam_chat/template.yaml",
        {},
        {
            "$connect": Served(
                "OnConnectFunction", "app.handler", "onconnect", False, 10.0,
                {**CHAT, "CHAT_ROLE": "connect"},
            ),
            "$disconnect": Served(
                "OnDisconnectFunction", "app.handler", "ondisconnect", False, 10.0,
                {**CHAT, "CHAT_ROLE": "disconnect"},
            ),
            "sendmessage": Served(
                "SendMessageFunction", "app.handler", "sendmessage", False, 5.0,
                {**CHAT, "CHAT_ROLE": "send"},
            ),
        },
        id="sam-chat-one-function-per-route",
    ),
    pytest.param(
        "serverless_single/serverless.yml",
        {},
        {
            "$connect": Served("router", "src.router.handle", None, False, 10.0, single("router")),
            "$disconnect": Served(
                "router", "src.router.handle", None, False, 10.0, single("router")
            ),
            "$default": Served("router", "src.router.handle", None, False, 10.0, single("router")),
            "echo": Served("router", "src.router.handle", None, True, 10.0, single("router")),
            "whoami": Served("whoami", "src.router.whoami", None, True, 3.0, single("whoami")),
        },
        id="serverless-single-function",
    ),
    pytest.param(
        "serverless_single/serverless.yml",
        {"parameters": {"stage": "prod"}, "environ": {"WS_SINGLE_LOG_LEVEL": "debug"}},
        {
            "$connect": Served(
                "router", "src.router.handle", None, False, 10.0, single("router", SINGLE_PROD)
            ),
            "$disconnect": Served(
                "router", "src.router.handle", None, False, 10.0, single("router", SINGLE_PROD)
            ),
            "$default": Served(
                "router", "src.router.handle", None, False, 10.0, single("router", SINGLE_PROD)
            ),
            "echo": Served(
                "router", "src.router.handle", None, True, 10.0, single("router", SINGLE_PROD)
            ),
            "whoami": Served(
                "whoami", "src.router.whoami", None, True, 3.0, single("whoami", SINGLE_PROD)
            ),
        },
        id="serverless-stage-option-and-env",
    ),
    pytest.param(
        "cfn_authorizer/template.yaml",
        {},
        {
            # min(TimeoutInMillis 5000, Lambda's default Timeout 3 s)
            "$connect": Served(
                "OnConnectFunction", "ws_handlers.connect", "src", False, 3.0,
                {"APP_NAME": "chat-ws"},
            ),
            "sendmessage": Served(
                "SendMessageFunction", "ws_handlers.send", "src", False, 3.0,
                {"APP_NAME": "chat-ws", "GREETING": "hello"},
            ),
            "$default": Served(
                "SendMessageFunction", "ws_handlers.send", "src", True, 3.0,
                {"APP_NAME": "chat-ws", "GREETING": "hello"},
            ),
        },
        id="authorizer-and-shared-integration",
    ),
    pytest.param(
        "two_way/template.yaml",
        {},
        {
            "echo": Served("EchoFunction", "echo.handler", "functions", True, 15.0, ECHO_DEV),
            "shout": Served("ShoutFunction", "shout.handler", "functions", True, 3.0,
                            {"SUFFIX": "!"}),
            "notify": Served("NotifyFunction", "notify.handler", "functions", False, 3.0, {}),
        },
        id="two-way-routes-dev",
    ),
    pytest.param(
        "two_way/template.yaml",
        {"parameters": {"Environment": "prod"}, "api": "EchoApi"},
        {
            "echo": Served(
                "EchoFunction", "echo.handler", "functions", True, 15.0,
                {**ECHO_DEV, "LOG_LEVEL": "WARNING", "MODE": "production", "PROD_ONLY": "yes",
                 "DEV_ONLY": None},
            ),
            "shout": Served("ShoutFunction", "shout.handler", "functions", True, 3.0,
                            {"SUFFIX": "!"}),
            "notify": Served("NotifyFunction", "notify.handler", "functions", False, 3.0, {}),
            "debug": Served("NotifyFunction", "notify.handler", "functions", False, 3.0, {}),
        },
        id="two-way-routes-prod-conditions",
    ),
    pytest.param(
        "sam_websocketapi/template.yaml",
        {},
        {
            "$connect": Served("ConnectFunction", "index.connect", "src", False, 20.0, WS_TABLE),
            "$disconnect": Served(
                "DisconnectFunction", "index.disconnect", "src", False, 20.0, WS_TABLE
            ),
            "sendMessage": Served(
                "SendMessageFunction", "index.send_message", "src", True, 20.0,
                {**WS_TABLE, "REPLY_PREFIX": "you said: "},
            ),
        },
        id="sam-websocketapi",
    ),
    pytest.param(
        "mixed_runtimes/template.yaml",
        {},
        {
            "$connect": Served("PythonFunction", "app.handler", "python", False, 3.0, {}),
            "$default": Served("PythonFunction", "app.handler", "python", True, 3.0, {}),
        },
        id="nodejs-among-python",
    ),
    pytest.param(
        "json_cfn/template.json",
        {},
        {
            "$connect": Served(
                "HandlerFunction", "wsjson.json_api.handle", "lambda", False, 8.0, JSON_ENV
            ),
            # Through an AWS::Lambda::Alias of the function.
            "hello": Served(
                "HandlerFunction", "wsjson.json_api.handle", "lambda", True, 8.0, JSON_ENV
            ),
        },
        id="cloudformation-json",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("path", "options", "expected"), FIXTURE_ROUTES)
def test_every_route_reaches_its_function(
    path: str, options: dict[str, Any], expected: dict[str, Served]
) -> None:
    imported = load_template(FIXTURES / path, **options)

    expected = {
        key: Served(
            s.function, s.handler, s.code_uri, s.two_way, s.timeout,
            {k: v for k, v in s.environment.items() if v is not None},
        )
        for key, s in expected.items()
    }  # fmt: skip
    assert served(imported) == expected
    assert list(served(imported)) == list(expected)
    assert imported.config.base_dir == (FIXTURES / path).parent
    assert imported.config.source == str(FIXTURES / path)
    assert isinstance(imported.config, ApiConfig)


@dataclass(frozen=True)
class Api:
    api: str
    name: str | None
    stage: str
    expression: str
    environment: Mapping[str, str]


FIXTURE_APIS = [
    ("sam_chat/template.yaml", Api("SimpleChatWebSocket", "SimpleChatWebSocket", "Prod",
                                   "$request.body.action", {"LOG_LEVEL": "INFO"})),
    ("serverless_single/serverless.yml", Api("WebsocketsApi", "ws-single-api", "dev",
                                             "$request.body.type", SINGLE)),
    ("cfn_authorizer/template.yaml", Api("WsApi", "ChatWs", "Prod", "$request.body.action",
                                         {"APP_NAME": "chat-ws"})),
    ("two_way/template.yaml", Api("EchoApi", "local-echo", "dev", "$request.body.op", {})),
    ("sam_websocketapi/template.yaml", Api("MyWebSocketApi", "my-websocket-api", "prod",
                                           "$request.body.action", WS_TABLE)),
    ("mixed_runtimes/template.yaml", Api("Api", "mixed", "dev", "$request.body.action", {})),
    ("json_cfn/template.json", Api("JsonApi", "json-api", "v1", "$request.body.action", {})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "expected"), FIXTURE_APIS, ids=[path.split("/")[0] for path, _ in FIXTURE_APIS]
)
def test_the_api_and_its_stage(path: str, expected: Api) -> None:
    imported = load_template(FIXTURES / path, environ={})
    config = imported.config

    assert (
        Api(
            imported.api,
            imported.name,
            config.stage,
            config.route_selection_expression.source,
            dict(config.environment),
        )
        == expected
    )


FIXTURE_REPORTS = [
    pytest.param(
        "sam_chat/template.yaml",
        [],
        [
            "Resources.SendMessageFunction.Properties.Environment.Variables.CALLBACK_URL:"
            " 'https://${SimpleChatWebSocket}.execute-api.us-east-1.amazonaws.com/Prod'"
            " is only known once deployed; it is not set"
        ],
        id="sam-chat",
    ),
    pytest.param(
        "serverless_single/serverless.yml",
        [],
        [
            "provider.environment.API_KEY: cannot be resolved locally"
            " (${ssm:/ws-single/api-key}: ssm: variables come from outside the file);"
            " it is not set",
            "functions.whoami.events[0].websocket: route 'whoami' is also declared by"
            " function 'router'; the last declaration wins",
        ],
        id="serverless-single",
    ),
    pytest.param(
        "mixed_runtimes/template.yaml",
        [
            "sendmessage: function NodeFunction has Runtime 'nodejs22.x':"
            " only Python functions run in the emulator",
            "inline: function InlineFunction has InlineCode, which is not run locally",
            "image: function ImageFunction is a container image (PackageType: Image)",
            "fromS3: function S3Function's CodeUri 's3://my-bucket/ws/code.zip'"
            " is not a local folder",
            "mock: route MockRoute has no Target (no integration)",
        ],
        [],
        id="mixed-runtimes",
    ),
    pytest.param("cfn_authorizer/template.yaml", [], [], id="cfn-authorizer"),
    pytest.param("two_way/template.yaml", [], [], id="two-way"),
    pytest.param("sam_websocketapi/template.yaml", [], [], id="sam-websocketapi"),
    pytest.param("json_cfn/template.json", [], [], id="json"),
]


@pytest.mark.parametrize(("path", "skipped", "warnings"), FIXTURE_REPORTS)
def test_what_is_not_imported_is_reported(
    path: str, skipped: list[str], warnings: list[str]
) -> None:
    imported = load_template(FIXTURES / path, environ={})
    assert list(imported.skipped) == skipped
    assert list(imported.warnings) == warnings


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "cfn_authorizer/template.yaml",
            AuthorizerSpec(
                name="auth",
                function="AuthFunction",
                handler="ws_handlers.authorize",
                code_uri=Path("src"),
                identity_source=("route.request.header.Auth", "route.request.querystring.token"),
                environment={"APP_NAME": "chat-ws", "EXPECTED_TOKEN": "let-me-in"},
                timeout=3.0,
            ),
        ),
        (
            "sam_websocketapi/template.yaml",
            AuthorizerSpec(
                name="MyWebSocketApiAuthorizer",
                function="AuthorizerFunction",
                handler="index.authorize",
                code_uri=Path("src"),
                identity_source=("route.request.header.Authorization",),
                environment=WS_TABLE,
                timeout=5.0,
            ),
        ),
        ("sam_chat/template.yaml", None),
    ],
    ids=["raw-authorizer", "sam-auth", "none"],
)
def test_authorizers_are_imported(path: str, expected: AuthorizerSpec | None) -> None:
    imported = load_template(FIXTURES / path)
    assert imported.authorizer == expected
    config = imported.config
    if expected is None:
        assert (config.authorizer, config.authorization_type) == (None, "NONE")
        return
    assert config.authorization_type == "CUSTOM"
    assert config.authorizer is not None
    function = config.authorizer.function
    assert (function.handler, function.code_uri, function.timeout) == (
        expected.handler,
        expected.code_uri,
        expected.timeout,
    )
    assert function.environment == expected.environment
    assert config.authorizer.identity_source == expected.identity_source


# Errors: a ConfigError naming the template's resource and property


def api_template() -> dict[str, Any]:
    """The smallest CloudFormation template the importer serves."""
    uri = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
    return {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": "api",
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": "$request.body.action",
                },
            },
            "Route": {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": {"Ref": "Api"},
                    "RouteKey": "$default",
                    "Target": {"Fn::Sub": "integrations/${Integration}"},
                },
            },
            "Integration": {
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": {"Ref": "Api"},
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": {"Fn::Sub": uri},
                },
            },
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "dev"},
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Runtime": "python3.12", "Handler": "app.handler"},
            },
        }
    }


def changed(*changes: tuple[str, object]) -> dict[str, Any]:
    """``api_template()`` with values set (or, for None, removed) at dotted paths."""
    document = api_template()
    for path, value in changes:
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return document


def sam_api(routes: object, **properties: object) -> dict[str, Any]:
    document = api_template()
    resources = document["Resources"]
    for name in ("Api", "Route", "Integration", "Stage"):
        del resources[name]
    resources["Ws"] = {
        "Type": "AWS::Serverless::WebSocketApi",
        "Properties": {"RouteSelectionExpression": "$request.body.action", "Routes": routes,
                       **properties},
    }  # fmt: skip
    return document


IMPORTVALUE = {"Fn::ImportValue": "shared-uri"}
ROUTE = "Resources.Route.Properties"
INTEGRATION = "Resources.Integration.Properties"
FUNCTION = "Resources.Fn.Properties"
OTHER_API = {
    "Type": "AWS::ApiGatewayV2::Api",
    "Properties": {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "x"},
}
CYCLE = {"A": {"Condition": "B"}, "B": {"Condition": "A"}}

INVALID_TEMPLATES: list[tuple[str, object, dict[str, Any], str, str]] = [
    # (id, document, load_template options, key, words)
    ("uri-import-value", changed((f"{INTEGRATION}.IntegrationUri", IMPORTVALUE)), {},
     f"{INTEGRATION}.IntegrationUri",
     "cannot be resolved locally: Fn::ImportValue 'shared-uri' is another stack's export"),
    ("uri-missing", changed((f"{INTEGRATION}.IntegrationUri", None)), {},
     f"{INTEGRATION}.IntegrationUri", "is required"),
    ("route-key-missing", changed((f"{ROUTE}.RouteKey", None)), {}, f"{ROUTE}.RouteKey",
     "is required"),
    ("route-key-parameter-without-default",
     changed((f"{ROUTE}.RouteKey", {"Ref": "Key"}), ("Parameters.Key", {"Type": "String"})), {},
     f"{ROUTE}.RouteKey", "parameter 'Key' has no Default and no value was given"),
    ("route-key-unknown-ref", changed((f"{ROUTE}.RouteKey", {"Ref": "Nope"})), {},
     f"{ROUTE}.RouteKey", "Ref 'Nope': no parameter or resource of that name"),
    ("route-key-deployed-only", changed((f"{ROUTE}.RouteKey", {"Ref": "Api"})), {},
     f"{ROUTE}.RouteKey", "cannot be resolved locally: '${Api}' is only known once deployed"),
    ("route-key-get-azs", changed((f"{ROUTE}.RouteKey", {"Fn::Select": [0, {"Fn::GetAZs": ""}]})),
     {}, f"{ROUTE}.RouteKey", "Fn::GetAZs depends on the account's availability zones"),
    ("route-key-not-a-string", changed((f"{ROUTE}.RouteKey", ["a"])), {}, f"{ROUTE}.RouteKey",
     "must be a string, got ['a']"),
    ("two-apis", changed(("Resources.Other", OTHER_API)), {}, "",
     "the template defines 2 WebSocket APIs (Api, Other); choose one with --api LOGICAL_ID"),
    ("unknown-api", api_template(), {"api": "Nope"}, "",
     "no WebSocket API 'Nope' in the template (its WebSocket APIs: Api)"),
    ("http-api-only", changed(("Resources.Api.Properties.ProtocolType", "HTTP")), {}, "",
     "no WebSocket API in the template: expected an AWS::ApiGatewayV2::Api with"
     " ProtocolType: WEBSOCKET or an AWS::Serverless::WebSocketApi"),
    ("timeout-millis-too-long", changed((f"{INTEGRATION}.TimeoutInMillis", 30000)), {},
     f"{INTEGRATION}.TimeoutInMillis",
     "must be a number of milliseconds from 50 to 29000, got 30000"),
    ("timeout-millis-text", changed((f"{INTEGRATION}.TimeoutInMillis", "soon")), {},
     f"{INTEGRATION}.TimeoutInMillis", "got 'soon'"),
    ("function-timeout", changed((f"{FUNCTION}.Timeout", "long")), {}, f"{FUNCTION}.Timeout",
     "must be a number of seconds, got 'long'"),
    ("handler-missing", changed((f"{FUNCTION}.Handler", None)), {}, f"{FUNCTION}.Handler",
     "is required for a Python function"),
    ("handler-invalid", changed((f"{FUNCTION}.Handler", "app")), {}, f"{FUNCTION}.Handler",
     "must be a Lambda handler 'module.function'"),
    ("code-folder-missing", changed((f"{FUNCTION}.CodeUri", "nowhere/")), {},
     f"{FUNCTION}.CodeUri", "nowhere' does not exist or is not a folder"),
    ("route-condition-unresolvable",
     changed(("Resources.Route.Condition", "C"),
             ("Conditions.C", {"Fn::Equals": [{"Ref": "P"}, "x"]}), ("Parameters.P", {})),
     {}, "Resources.Route.Condition", "parameter 'P' has no Default"),
    ("conditions-in-a-cycle", changed(("Resources.Route.Condition", "A"), ("Conditions", CYCLE)),
     {}, "Resources.Route.Condition", "the conditions refer to each other: A -> B -> A"),
    ("stage-name-invalid", changed(("Resources.Stage.Properties.StageName", "$default")), {},
     "Resources.Stage.Properties.StageName", "must be 1 to 128 of A-Z a-z 0-9 _ -"),
    ("selection-expression-invalid",
     changed(("Resources.Api.Properties.RouteSelectionExpression", "${request.body")), {},
     "Resources.Api.Properties.RouteSelectionExpression", "unterminated '${'"),
    ("authorization-type-unknown", changed((f"{ROUTE}.AuthorizationType", "JWT")), {},
     f"{ROUTE}.AuthorizationType", "must be NONE, AWS_IAM or CUSTOM, got 'JWT'"),
    ("authorizer-id-missing",
     changed((f"{ROUTE}.AuthorizationType", "CUSTOM"), (f"{ROUTE}.RouteKey", "$connect")), {},
     f"{ROUTE}.AuthorizerId", "names no AWS::ApiGatewayV2::Authorizer of this template"),
    ("authorizer-not-request",
     changed((f"{ROUTE}.AuthorizationType", "CUSTOM"), (f"{ROUTE}.RouteKey", "$connect"),
             (f"{ROUTE}.AuthorizerId", {"Ref": "Auth"}),
             ("Resources.Auth", {"Type": "AWS::ApiGatewayV2::Authorizer",
                                 "Properties": {"AuthorizerType": "JWT"}})),
     {}, "Resources.Auth.Properties.AuthorizerType",
     "must be REQUEST for a WebSocket API, got 'JWT'"),
    ("only-skipped-routes", changed((f"{FUNCTION}.Runtime", "nodejs22.x")), {}, "",
     "the WebSocket API 'Api' has no route to serve (skipped: $default: function Fn has"
     " Runtime 'nodejs22.x': only Python functions run in the emulator)"),
    ("resources-not-a-mapping", {"Resources": ["Api"]}, {}, "Resources",
     "must be a mapping of logical ids to resources"),
    ("sam-routes-missing", sam_api(None), {}, "Resources.Ws.Properties.Routes",
     "must be a mapping of route keys to routes"),
    ("sam-route-not-a-mapping", sam_api({"$default": "Fn"}), {},
     "Resources.Ws.Properties.Routes.$default", "must be a mapping with a FunctionArn"),
    ("sam-function-arn-missing", sam_api({"$default": {}}), {},
     "Resources.Ws.Properties.Routes.$default.FunctionArn", "is required"),
    ("sam-integration-timeout", sam_api({"$default": {"FunctionArn": {"Fn::GetAtt": "Fn.Arn"},
                                                      "IntegrationTimeout": 10}}), {},
     "Resources.Ws.Properties.Routes.$default.IntegrationTimeout", "from 50 to 29000, got 10"),
    ("sam-auth-type", sam_api({"$default": {"FunctionArn": {"Fn::GetAtt": "Fn.Arn"}}},
                              Auth={"AuthType": "JWT"}), {},
     "Resources.Ws.Properties.Auth.AuthType", "must be NONE, AWS_IAM or CUSTOM, got 'JWT'"),
    ("sam-auth-arn-missing", sam_api({"$default": {"FunctionArn": {"Fn::GetAtt": "Fn.Arn"}}},
                                     Auth={"AuthType": "CUSTOM"}), {},
     "Resources.Ws.Properties.Auth.AuthArn", "is required"),
    ("sam-expression-missing", sam_api({"$default": {"FunctionArn": "x"}},
                                       RouteSelectionExpression=None), {},
     "Resources.Ws.Properties.RouteSelectionExpression", "is required"),
    ("not-a-template", {"openapi": "3.0.0"}, {}, "",
     "is neither a CloudFormation or SAM template (no 'Resources') nor a serverless.yml"),
    ("not-a-mapping", ["Resources"], {}, "", "must be a mapping, got list"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "options", "key", "words"),
    [case[1:] for case in INVALID_TEMPLATES],
    ids=[case[0] for case in INVALID_TEMPLATES],
)
def test_invalid_template(
    tmp_path: Path, document: object, options: dict[str, Any], key: str, words: str
) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path, **options)

    error = caught.value
    assert error.key == key
    assert words in error.problem
    assert error.source == str(path)
    assert error.problem == error.problem.rstrip(".")


SERVERLESS = {
    "service": "svc",
    "provider": {"name": "aws", "runtime": "python3.12"},
    "functions": {"f": {"handler": "app.handler", "events": [{"websocket": "$default"}]}},
}


def serverless(**changes: object) -> dict[str, Any]:
    document = json.loads(json.dumps(SERVERLESS))
    function = document["functions"]["f"]
    for name, value in changes.items():
        if name == "websocket":
            function["events"] = [{"websocket": value}]
        elif name == "functions":
            document["functions"] = value
        else:
            function[name] = value
    return document


EVENT = "functions.f.events[0].websocket"

INVALID_SERVERLESS: list[tuple[str, object, dict[str, Any], str, str]] = [
    ("route-missing", serverless(websocket={"routeResponseSelectionExpression": "$default"}), {},
     EVENT, "needs a route key (websocket: $connect, or route: $connect)"),
    ("route-unresolvable", serverless(websocket="${env:ROUTE}"), {}, f"{EVENT}.route",
     "cannot be resolved locally: ${env:ROUTE}: env:ROUTE has no value"),
    ("route-from-ssm", serverless(websocket="${ssm:/route}"), {}, f"{EVENT}.route",
     "ssm: variables come from outside the file"),
    ("authorizer-not-on-connect", serverless(websocket={"route": "x", "authorizer": "auth"}), {},
     f"{EVENT}.authorizer", "is only allowed on the $connect route"),
    ("authorizer-unknown-function",
     serverless(websocket={"route": "$connect", "authorizer": {"name": "auth"}}), {},
     f"{EVENT}.authorizer.name", "names no function of this service: 'auth'"),
    ("authorizer-identity-source",
     serverless(websocket={"route": "$connect", "authorizer": {"name": "f", "identitySource": 3}}),
     {}, f"{EVENT}.authorizer.identitySource", "must be a list of strings, got 3"),
    ("handler-missing", serverless(handler=None), {}, "functions.f.handler", "is required"),
    ("handler-not-python", serverless(handler="app"), {}, "functions.f.handler",
     "must be a Lambda handler 'module.function'"),
    ("timeout-invalid", serverless(timeout="soon"), {}, "functions.f.timeout",
     "must be a number of seconds, got 'soon'"),
    ("function-not-a-mapping", serverless(functions={"f": "app.handler"}), {}, "functions.f",
     "must be a mapping with a handler"),
    ("functions-not-a-mapping", serverless(functions=["f"]), {}, "functions",
     "must be a mapping of function names to functions"),
    ("no-routes", serverless(functions={}), {}, "",
     "the WebSocket API 'WebsocketsApi' has no route to serve"),
    ("unknown-api", serverless(), {"api": "MyApi"}, "",
     "no WebSocket API 'MyApi': a serverless.yml has one, 'WebsocketsApi'"),
    ("stage-invalid", {**serverless(), "provider": {"runtime": "python3.12", "stage": "a.b"}}, {},
     "provider.stage", "must be 1 to 128 of A-Z a-z 0-9 _ -, got 'a.b'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "options", "key", "words"),
    [case[1:] for case in INVALID_SERVERLESS],
    ids=[case[0] for case in INVALID_SERVERLESS],
)
def test_invalid_serverless_yml(
    tmp_path: Path, document: object, options: dict[str, Any], key: str, words: str
) -> None:
    path = tmp_path / "serverless.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path, **options)

    assert caught.value.key == key
    assert words in caught.value.problem


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("template.json", b'{"Resources": {', "invalid JSON at line 1, column 16"),
        ("template.json", b'{"Resources": {}, "Resources": {}}', "duplicate key 'Resources'"),
        ("template.json", b"\xff\xfe{", "is not UTF-8 text"),
        ("template.yaml", b"Resources:\n  A: !Foo x\n", "unknown tag '!Foo' (CloudFormation's"),
        ("template.yaml", b"Resources:\n  A: 1\n  A: 2\n", "duplicate key 'A'"),
        ("template.yaml", b"Resources: [\n", "invalid YAML at line 2"),
        ("missing.yaml", None, "file not found"),
    ],
    ids=["json-syntax", "json-duplicate", "json-not-utf8", "yaml-unknown-tag",
         "yaml-duplicate", "yaml-syntax", "missing-file"],
)  # fmt: skip
def test_unreadable_templates(tmp_path: Path, name: str, content: bytes | None, words: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_template(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)


# Warnings: imported, with a caveat the caller prints


WARNINGS: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, document, the warning, a fact about what was imported)
    ("no-stage", changed(("Resources.Stage", None)),
     "Resources.Api: no AWS::ApiGatewayV2::Stage; serving at stage 'local'", "stage=local"),
    ("two-stages",
     changed(("Resources.Stage2", {"Type": "AWS::ApiGatewayV2::Stage",
                                   "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "b"}})),
     "Resources.Api: 2 stages (Stage, Stage2); serving Stage only", "stage=dev"),
    ("no-selection-expression",
     changed(("Resources.Api.Properties.RouteSelectionExpression", None)),
     "Resources.Api: no RouteSelectionExpression (AWS requires one); using"
     " '$request.body.action'", "expression=$request.body.action"),
    ("iam-on-a-message-route", changed((f"{ROUTE}.AuthorizationType", "AWS_IAM")),
     "Resources.Route: AWS only authorizes $connect; AuthorizationType AWS_IAM is ignored",
     "authorization=NONE"),
    ("api-key-required", changed((f"{ROUTE}.ApiKeyRequired", True)),
     "Resources.Route: ApiKeyRequired is not emulated; requests without a key are served",
     "two_way=False"),
    ("two-way-connect",
     changed((f"{ROUTE}.RouteKey", "$connect"), (f"{ROUTE}.RouteResponseSelectionExpression",
                                                 "$default")),
     "Resources.Route: $connect ignores its route response", "two_way=False"),
    ("env-import-value",
     changed((f"{FUNCTION}.Environment", {"Variables": {"ALPHA": IMPORTVALUE, "BRAVO": "b"}})),
     f"{FUNCTION}.Environment.Variables.ALPHA: cannot be resolved locally (Fn::ImportValue"
     " 'shared-uri' is another stack's export); it is not set", "env=BRAVO"),
    ("env-not-a-string",
     changed((f"{FUNCTION}.Environment", {"Variables": {"ALPHA": {"Fn::Split": [",", "a,b"]}}})),
     f"{FUNCTION}.Environment.Variables.ALPHA: ['a', 'b'] is not a string; it is not set",
     "env="),
    ("env-get-att",
     changed((f"{FUNCTION}.Environment",
              {"Variables": {"ALPHA": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}}})),
     f"{FUNCTION}.Environment.Variables.ALPHA: '${{Api.ApiEndpoint}}' is only known once"
     " deployed; it is not set", "env="),
    ("authorizer-not-python",
     changed((f"{ROUTE}.RouteKey", "$connect"), (f"{ROUTE}.AuthorizationType", "CUSTOM"),
             (f"{ROUTE}.AuthorizerId", {"Ref": "Auth"}),
             ("Resources.Auth", {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
                 "ApiId": {"Ref": "Api"}, "AuthorizerType": "REQUEST",
                 "AuthorizerUri": {"Fn::Sub": "functions/${Node.Arn}/invocations"}}}),
             ("Resources.Node", {"Type": "AWS::Lambda::Function",
                                 "Properties": {"Runtime": "nodejs22.x", "Handler": "a.b"}})),
     "Resources.Auth: function Node has Runtime 'nodejs22.x': only Python functions run in the"
     " emulator; connections are not authorized locally", "authorization=NONE"),
]  # fmt: skip


def fact(imported: ImportedApi, name: str) -> str:
    config = imported.config
    values = {
        "stage": config.stage,
        "expression": config.route_selection_expression.source,
        "authorization": config.authorization_type,
        "two_way": str(next(iter(config.routes.values())).route_response),
        "env": ",".join(next(iter(config.functions.values())).environment),
    }
    return f"{name}={values[name]}"


@pytest.mark.parametrize(
    ("document", "warning", "expected"),
    [case[1:] for case in WARNINGS],
    ids=[case[0] for case in WARNINGS],
)
def test_warnings(tmp_path: Path, document: dict[str, Any], warning: str, expected: str) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    imported = load_template(path)

    assert list(imported.warnings) == [warning]
    assert fact(imported, expected.split("=")[0]) == expected


@pytest.mark.parametrize(
    ("function_timeout", "integration_millis", "function", "wait"),
    [(None, None, 3.0, 29.0), (900, None, 900.0, 29.0), (900, 29000, 900.0, 29.0),
     (10, 2000, 10.0, 2.0), (1, 2000, 1.0, 2.0)],
    ids=["lambda-default", "long-function", "explicit-29", "integration-shorter",
         "function-shorter"],
)  # fmt: skip
def test_function_timeout_and_integration_timeout_are_two(
    tmp_path: Path,
    function_timeout: int | None,
    integration_millis: int | None,
    function: float,
    wait: float,
) -> None:
    """The function's Timeout stops the function; TimeoutInMillis is how long API
    Gateway waits for it (AWS's default 29 s)."""
    document = changed(
        (f"{FUNCTION}.Timeout", function_timeout),
        (f"{INTEGRATION}.TimeoutInMillis", integration_millis),
    )
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    route = load_template(path).config.routes["$default"]
    assert route.function is not None
    assert (route.function.timeout, route.timeout) == (function, wait)


def test_aws_iam_on_connect_is_the_config_authorization(tmp_path: Path) -> None:
    document = changed((f"{ROUTE}.RouteKey", "$connect"), (f"{ROUTE}.AuthorizationType", "AWS_IAM"))
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    imported = load_template(path)

    assert (imported.config.authorization_type, imported.warnings) == ("AWS_IAM", ())


def test_functions_are_found_by_literal_arn_and_version(tmp_path: Path) -> None:
    document = changed(
        (f"{FUNCTION}.FunctionName", "my-fn"),
        (f"{INTEGRATION}.IntegrationUri", "functions/arn:aws:lambda:eu-west-1:1:function:my-fn:7"),
    )
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    assert load_template(path).functions == {"$default": "Fn"}


def test_a_function_outside_the_template_is_skipped(tmp_path: Path) -> None:
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions"
        "/arn:aws:lambda:us-east-1:1:function:elsewhere/invocations"
    )
    document = changed(
        (f"{INTEGRATION}.IntegrationUri", uri),
        ("Resources.Other", {**api_template()["Resources"]["Route"]}),
    )
    document["Resources"]["Other"]["Properties"] = {
        **document["Resources"]["Other"]["Properties"],
        "RouteKey": "$connect",
        "Target": "integrations/abc123",
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(ConfigError, match="has no route to serve"):
        load_template(path)
    document["Resources"]["Fn2"] = document["Resources"]["Fn"]
    document["Resources"]["Integration"]["Properties"]["IntegrationUri"] = {
        "Fn::GetAtt": ["Fn2", "Arn"]
    }
    path.write_text(json.dumps(document), encoding="utf-8")

    imported = load_template(path)

    assert imported.functions == {"$default": "Fn2"}
    assert imported.skipped == (
        "$connect: the Target 'integrations/abc123' of route Other names no"
        " AWS::ApiGatewayV2::Integration of this template",
    )


def test_routes_of_other_apis_are_ignored(tmp_path: Path) -> None:
    document = changed(("Resources.Other", OTHER_API))
    document["Resources"]["OtherRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {"ApiId": {"Ref": "Other"}, "RouteKey": "$connect"},
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    assert list(load_template(path, api="Api").config.routes) == ["$default"]
    with pytest.raises(ConfigError) as caught:
        load_template(path, api="Other")
    assert caught.value.problem == (
        "the WebSocket API 'Other' has no route to serve"
        " (skipped: $connect: route OtherRoute has no Target (no integration))"
    )


def test_yaml_short_forms_load_like_long_forms(tmp_path: Path) -> None:
    long_form = tmp_path / "long" / "template.json"
    short_form = tmp_path / "short" / "template.yaml"
    long_form.parent.mkdir()
    short_form.parent.mkdir()
    long_form.write_text(json.dumps(api_template()), encoding="utf-8")
    short_form.write_text(
        """\
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: api, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: !Select [0, !Split [",", !Join [",", [$default, other]]]]
      Target: !Sub integrations/${Integration}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: !If [Always, AWS_PROXY, HTTP]
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31\
        /functions/${Fn.Arn}/invocations"
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: !FindInMap [Stages, !Ref "AWS::Region", name]}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: app.handler}
Mappings:
  Stages:
    us-east-1: {name: dev}
Conditions:
  Always: !Or [!Equals [a, a], !Not [!Condition Never], !And [!Condition Never]]
  Never: !Equals [!Base64 a, a]
""",
        encoding="utf-8",
    )

    one, other = load_template(long_form), load_template(short_form)

    assert served(one) == served(other)
    assert (one.config.stage, one.api) == (other.config.stage, other.api)


def test_modules_are_pure() -> None:
    """No asyncio, no network, no yaml: reading YAML is config.py's job."""
    package = Path(emulator.model.templates.__file__).parent
    allowed = {
        "__future__", "base64", "collections", "dataclasses", "hashlib", "json", "math", "os",
        "pathlib", "re", "types", "typing", "emulator",
    }  # fmt: skip
    # python-hcl2 (and its parser, lark) is read in one module, imported on first use.
    parser = {"hcl2", "lark"}
    export = package.parent.parent / "tools" / "export"
    for path in [*package.rglob("*.py"), *export.glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
        }
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        top = {name.partition(".")[0] for name in imported}
        if path.name == "hcl.py":
            top -= parser
        assert top <= allowed, path.name
        project = {name for name in imported if name.startswith("emulator")}
        own = ("emulator.model", "emulator.errors", "emulator.tools.export")
        assert all(name.startswith(own) for name in project), path.name


def test_public_names_are_pinned() -> None:
    assert set(emulator.model.templates.__all__) == {
        "AuthorizerSpec",
        "ImportedApi",
        "load_cdk",
        "load_template",
        "load_terraform",
    }


# CloudFormation's intrinsic functions

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "Count": {"Type": "Number", "Default": 10},
        "Flag": {"Type": "String", "Default": True},
        "Names": {"Type": "CommaDelimitedList", "Default": "a, b,c"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": ""},
        "Required": {"Type": "String"},
    },
    "Mappings": {"ByEnv": {"dev": {"Size": "small", "Level": 1}}},
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
        "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        "Broken": {"Fn::Join": ["", ["a"]]},
    },
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t-${x}"}},
        "NamedTable": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "conns"}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Fn": {"Type": "AWS::Lambda::Function"},
    },
}

RESOLVED = [
    ("plain", "text", "text"),
    ("ref-parameter", {"Ref": "Env"}, "dev"),
    ("ref-number-parameter", {"Ref": "Count"}, "10"),
    ("ref-bool-default", {"Ref": "Flag"}, "true"),
    ("ref-comma-list", {"Ref": "Names"}, ["a", "b", "c"]),
    ("ref-empty-list", {"Ref": "Subnets"}, []),
    ("ref-region", {"Ref": "AWS::Region"}, "us-east-1"),
    ("ref-account", {"Ref": "AWS::AccountId"}, "000000000000"),
    ("ref-partition", {"Ref": "AWS::Partition"}, "aws"),
    ("ref-url-suffix", {"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
    ("ref-stack-name", {"Ref": "AWS::StackName"}, "local"),
    ("ref-notification-arns", {"Ref": "AWS::NotificationARNs"}, []),
    ("ref-named-resource", {"Ref": "NamedTable"}, "conns"),
    ("ref-resource", {"Ref": "Bucket"}, Reference("Bucket").token()),
    ("get-att", {"Fn::GetAtt": ["Fn", "Arn"]}, Reference("Fn", "Arn").token()),
    ("get-att-dotted", {"Fn::GetAtt": "Fn.Arn"}, Reference("Fn", "Arn").token()),
    ("sub", {"Fn::Sub": "${Env}-${AWS::Region}"}, "dev-us-east-1"),
    ("sub-literal", {"Fn::Sub": "${!Env}-${Env}"}, "${Env}-dev"),
    ("sub-variables", {"Fn::Sub": ["${A}/${Env}", {"A": {"Ref": "Env"}}]}, "dev/dev"),
    ("sub-get-att", {"Fn::Sub": "x/${Fn.Arn}"}, "x/" + Reference("Fn", "Arn").token()),
    ("join", {"Fn::Join": ["-", ["a", {"Ref": "Env"}, 1, True]]}, "a-dev-1-true"),
    ("join-of-list", {"Fn::Join": [",", {"Ref": "Names"}]}, "a,b,c"),
    ("select", {"Fn::Select": ["1", {"Ref": "Names"}]}, "b"),
    ("split", {"Fn::Split": ["/", "a/b"]}, ["a", "b"]),
    ("find-in-map", {"Fn::FindInMap": ["ByEnv", {"Ref": "Env"}, "Size"]}, "small"),
    ("find-in-map-number", {"Fn::FindInMap": ["ByEnv", "dev", "Level"]}, 1),
    ("base64", {"Fn::Base64": "hi"}, "aGk="),
    ("if-true", {"Fn::If": ["IsDev", "d", "p"]}, "d"),
    ("if-false", {"Fn::If": ["IsProd", "p", "d"]}, "d"),
    ("if-no-value", {"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}, NO_VALUE),
    ("no-value-in-mapping", {"A": {"Ref": "AWS::NoValue"}, "B": 1}, {"B": 1}),
    ("no-value-in-list", ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}], ["a"]),
    ("equals", {"Fn::Equals": [{"Ref": "Count"}, 10]}, True),
    ("and", {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]}, False),
    ("or", {"Fn::Or": [{"Condition": "Both"}, {"Condition": "Either"}]}, True),
    ("condition-key-in-policy", {"Condition": {"StringEquals": {"a": "b"}}},
     {"Condition": {"StringEquals": {"a": "b"}}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [case[1:] for case in RESOLVED],
    ids=[case[0] for case in RESOLVED],
)
def test_intrinsics_resolve(value: object, expected: object) -> None:
    assert Resolver(TEMPLATE).resolve(value) == expected


UNRESOLVABLE = [
    ("import-value", {"Fn::ImportValue": "x"}, "Fn::ImportValue 'x' is another stack's export"),
    ("get-azs", {"Fn::GetAZs": ""}, "Fn::GetAZs depends on the account's availability zones"),
    ("cidr", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Fn::Cidr is not evaluated locally"),
    ("transform", {"Fn::Transform": {"Name": "x"}}, "Fn::Transform is not evaluated locally"),
    ("unknown-function", {"Fn::Nope": 1}, "Fn::Nope is not evaluated locally"),
    ("parameter-without-default", {"Ref": "Required"},
     "parameter 'Required' has no Default and no value was given"),
    ("ref-not-a-name", {"Ref": ["a"]}, "Ref takes a name, got ['a']"),
    ("get-att-unknown", {"Fn::GetAtt": ["Nope", "Arn"]}, "Fn::GetAtt 'Nope': no resource"),
    ("get-att-malformed", {"Fn::GetAtt": ["Fn"]}, "Fn::GetAtt takes [LogicalId, Attribute]"),
    ("sub-not-a-string", {"Fn::Sub": 3}, "Fn::Sub takes a string or [string, variables]"),
    ("join-malformed", {"Fn::Join": ["-"]}, "Fn::Join takes [delimiter, [values]]"),
    ("join-not-a-list", {"Fn::Join": ["-", "abc"]}, "Fn::Join needs a list of values"),
    ("join-of-mappings", {"Fn::Join": ["-", [{"a": 1}]]}, "expected a string, got {'a': 1}"),
    ("select-out-of-range", {"Fn::Select": [5, ["a"]]}, "Fn::Select: no item 5 in ['a']"),
    ("select-negative", {"Fn::Select": [-1, ["a"]]}, "Fn::Select: no item -1"),
    ("select-malformed", {"Fn::Select": [0]}, "Fn::Select takes [index, [values]]"),
    ("split-malformed", {"Fn::Split": "a"}, "Fn::Split takes [delimiter, string]"),
    ("find-in-map-missing", {"Fn::FindInMap": ["ByEnv", "prod", "Size"]},
     "Fn::FindInMap: no ['ByEnv', 'prod', 'Size'] in Mappings"),
    ("find-in-map-malformed", {"Fn::FindInMap": ["ByEnv"]}, "Fn::FindInMap takes [map, key, key]"),
    ("if-malformed", {"Fn::If": ["IsDev", "a"]}, "Fn::If takes [condition, then, else]"),
    ("if-unknown-condition", {"Fn::If": ["Nope", "a", "b"]}, "no condition named 'Nope'"),
    ("condition-not-boolean", {"Fn::If": ["Broken", "a", "b"]},
     "condition 'Broken' is not true or false, got 'a'"),
    ("equals-malformed", {"Fn::Equals": ["a"]}, "Fn::Equals takes [value, value]"),
    ("not-malformed", {"Fn::Not": [{"Condition": "IsDev"}, {"Condition": "IsDev"}]},
     "Fn::Not takes [condition]"),
    ("and-of-strings", {"Fn::And": ["a"]}, "Fn::And takes a list of conditions"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "words"),
    [case[1:] for case in UNRESOLVABLE],
    ids=[case[0] for case in UNRESOLVABLE],
)
def test_intrinsics_that_cannot_be_resolved(value: object, words: str) -> None:
    with pytest.raises(Unresolvable) as caught:
        Resolver(TEMPLATE).resolve(value)
    assert words in str(caught.value)


def test_parameter_values_override_defaults() -> None:
    resolver = Resolver(TEMPLATE, {"Env": "prod", "Required": "given"})
    assert resolver.resolve([{"Ref": "Env"}, {"Ref": "Required"}]) == ["prod", "given"]
    assert resolver.condition("IsProd") is True
    assert Resolver(TEMPLATE, stack_name="chat").resolve({"Ref": "AWS::StackName"}) == "chat"


def test_a_ref_to_a_table_whose_name_is_not_literal_stays_a_reference() -> None:
    assert Resolver(TEMPLATE).resolve({"Ref": "Table"}) == "t-${x}"


def test_reference_tokens_can_be_found_and_shown() -> None:
    text = Resolver(TEMPLATE).resolve({"Fn::Sub": "${Bucket}/${Fn.Arn}"})

    assert references(text) == [Reference("Bucket"), Reference("Fn", "Arn")]
    assert printable(text) == "${Bucket}/${Fn.Arn}"
    assert [str(r) for r in references(text)] == ["Ref Bucket", "Fn::GetAtt Fn.Arn"]
    assert has_references({"a": [text]})
    assert not has_references({"a": ["plain", 1]})


# The Serverless Framework's variables

DOCUMENT: dict[str, Any] = {
    "service": "svc",
    "provider": {"stage": "${opt:stage, 'dev'}", "region": "eu-west-1"},
    "custom": {
        "table": "${self:service}-${sls:stage}",
        "dev": {"size": 1},
        "prod": {"size": 3},
        "loop": "${self:custom.loop}",
        "map": {"a": 1},
    },
    "params": {"default": {"domain": "example.com"}, "prod": {"domain": "prod.example.com"}},
}

VARIABLES = [
    ("self", {}, {}, "${self:service}", "svc"),
    ("self-root-path", {}, {}, "${self:custom.dev.size}", 1),
    ("self-nested", {}, {}, "${self:custom.table}", "svc-dev"),
    ("nested-address", {"stage": "prod"}, {}, "${self:custom.${sls:stage}.size}", 3),
    ("opt", {"stage": "qa"}, {}, "${opt:stage}", "qa"),
    ("opt-fallback", {}, {}, "${opt:stage, 'dev'}", "dev"),
    ("opt-fallback-double-quotes", {}, {}, '${opt:stage, "dev"}', "dev"),
    ("fallback-chain", {}, {"B": "b"}, "${env:A, env:B, 'c'}", "b"),
    ("fallback-nested", {}, {}, "${env:A, ${self:service}}", "svc"),
    ("fallback-number", {}, {}, "${env:A, 3}", 3),
    ("fallback-float", {}, {}, "${env:A, 0.5}", 0.5),
    ("env", {}, {"HOME": "/home/x"}, "${env:HOME}", "/home/x"),
    ("sls-stage-default", {}, {}, "${sls:stage}", "dev"),
    ("sls-stage-option", {"stage": "prod"}, {}, "${sls:stage}", "prod"),
    ("aws-region", {}, {}, "${aws:region}", "eu-west-1"),
    ("aws-region-option", {"region": "ap-south-1"}, {}, "${aws:region}", "ap-south-1"),
    ("aws-account", {}, {}, "${aws:accountId}", "000000000000"),
    ("param-default", {}, {}, "${param:domain}", "example.com"),
    ("param-stage", {"stage": "prod"}, {}, "${param:domain}", "prod.example.com"),
    ("param-option", {"param:domain": "cli.example"}, {}, "${param:domain}", "cli.example"),
    ("embedded", {}, {}, "arn:${aws:region}:${self:service}", "arn:eu-west-1:svc"),
    ("embedded-number", {}, {}, "size-${self:custom.dev.size}", "size-1"),
    ("whole-keeps-type", {}, {}, "${self:custom.map}", {"a": 1}),
    ("cloudformation-left-alone", {}, {}, "${AWS::Region}-${self:service}", "${AWS::Region}-svc"),
    ("unclosed-left-alone", {}, {}, "${self:service", "${self:service"),
    ("in-lists-and-maps", {}, {}, {"a": ["${self:service}"]}, {"a": ["svc"]}),
    ("not-a-string", {}, {}, 3, 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "environ", "value", "expected"),
    [case[1:] for case in VARIABLES],
    ids=[case[0] for case in VARIABLES],
)
def test_variables_resolve(
    options: dict[str, str], environ: dict[str, str], value: object, expected: object
) -> None:
    variables = Variables(DOCUMENT, options=options, environ=environ)
    assert variables.resolve(value) == expected


NOT_RESOLVED = [
    ("missing-env", "${env:NOPE}", "${env:NOPE}: env:NOPE has no value"),
    ("missing-self", "${self:custom.nope}", "self:custom.nope has no value"),
    ("ssm", "${ssm:/a/b}", "ssm: variables come from outside the file"),
    ("file", "${file(./x.yml):a}", "file: variables come from outside the file"),
    ("sls-instance", "${sls:instanceId}", "sls:instanceId is not known locally"),
    ("aws-other", "${aws:partition}", "aws:partition is not known locally"),
    ("cycle", "${self:custom.loop}", "the variables refer to each other in a cycle"),
    ("mapping-in-a-string", "x-${self:custom.map}", "is not a string and cannot be part of one"),
    ("all-fallbacks-missing", "${env:A, env:B}", "env:A has no value; env:B has no value"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "words"), [case[1:] for case in NOT_RESOLVED], ids=[c[0] for c in NOT_RESOLVED]
)
def test_variables_that_cannot_be_resolved(value: str, words: str) -> None:
    with pytest.raises(Unresolvable) as caught:
        Variables(DOCUMENT).resolve(value)
    assert words in str(caught.value)


def test_lenient_resolution_keeps_what_it_cannot_resolve() -> None:
    value = {"a": "${env:NOPE}", "b": ["${self:service}"], "c": 1}
    assert Variables(DOCUMENT).resolve_leniently(value) == {
        "a": "${env:NOPE}",
        "b": ["svc"],
        "c": 1,
    }


# serverless.yml: what is imported, and how


def import_serverless_document(tmp_path: Path, document: dict[str, Any]) -> ImportedApi:
    path = tmp_path / "serverless.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return load_template(path, environ={})


AUTHORIZED = {
    "service": "svc",
    "provider": {"runtime": "python3.12", "environment": {"FLAG": True, "COUNT": 2}},
    "functions": {
        "connect": {
            "handler": "handler.connect",
            "events": [
                {"http": {"path": "/", "method": "get"}},
                {"websocket": {"route": "$connect", "authorizer": "auth"}},
            ],
        },
        "auth": {"handler": "auth/check.run", "timeout": 2, "environment": {"SECRET": "s"}},
    },
}


@pytest.mark.parametrize(
    ("authorizer", "identity_source"),
    [
        ("auth", ("route.request.header.Auth",)),
        ({"name": "auth"}, ("route.request.header.Auth",)),
        ({"name": "auth", "identitySource": "route.request.querystring.token"},
         ("route.request.querystring.token",)),
        ({"name": "auth", "identitySource": ["route.request.header.A", "route.request.header.B"]},
         ("route.request.header.A", "route.request.header.B")),
    ],
    ids=["name", "mapping", "one-source", "two-sources"],
)  # fmt: skip
def test_serverless_authorizers(
    tmp_path: Path, authorizer: object, identity_source: tuple[str, ...]
) -> None:
    document = json.loads(json.dumps(AUTHORIZED))
    document["functions"]["connect"]["events"][1]["websocket"]["authorizer"] = authorizer

    imported = import_serverless_document(tmp_path, document)

    assert imported.authorizer == AuthorizerSpec(
        name="auth",
        function="auth",
        handler="auth.check.run",
        identity_source=identity_source,
        environment={"FLAG": "true", "COUNT": "2", "SECRET": "s"},
        timeout=2.0,
    )
    assert imported.config.authorization_type == "CUSTOM"
    assert imported.config.authorizer is not None
    assert imported.config.authorizer.function.environment == {
        "FLAG": "true",
        "COUNT": "2",
        "SECRET": "s",
    }
    assert imported.functions == {"$connect": "connect"}


@pytest.mark.parametrize(
    ("authorizer", "auth_function", "warning"),
    [
        ("arn:aws:lambda:us-east-1:1:function:auth", {},
         f"{EVENT.replace('[0]', '[1]').replace('functions.f', 'functions.connect')}.authorizer:"
         " the authorizer 'arn:aws:lambda:us-east-1:1:function:auth' is not a function of this"
         " service; connections are not authorized locally"),
        ("auth", {"runtime": "nodejs22.x"},
         "functions.connect.events[1].websocket.authorizer: function auth has runtime"
         " 'nodejs22.x': only Python functions run in the emulator; connections are not"
         " authorized locally"),
    ],
    ids=["arn", "not-python"],
)  # fmt: skip
def test_serverless_authorizers_that_cannot_run(
    tmp_path: Path, authorizer: object, auth_function: dict[str, Any], warning: str
) -> None:
    document = json.loads(json.dumps(AUTHORIZED))
    document["functions"]["connect"]["events"][1]["websocket"]["authorizer"] = authorizer
    document["functions"]["auth"].update(auth_function)

    imported = import_serverless_document(tmp_path, document)

    assert imported.authorizer is None
    assert imported.config.authorization_type == "NONE"
    assert list(imported.warnings) == [warning]


@pytest.mark.parametrize(
    ("function", "provider_runtime", "reason"),
    [
        ({"image": "repo/ws:latest"}, True, "function f is a container image (image:)"),
        ({}, False,
         "function f has no runtime (the Serverless Framework's default is Node.js);"
         " set provider.runtime to a python3.x runtime"),
        ({"runtime": "java21"}, True,
         "function f has runtime 'java21': only Python functions run in the emulator"),
    ],
    ids=["image", "no-runtime", "java"],
)  # fmt: skip
def test_serverless_functions_that_cannot_run(
    tmp_path: Path, function: dict[str, Any], provider_runtime: bool, reason: str
) -> None:
    document = serverless(**function)
    if not provider_runtime:
        del document["provider"]["runtime"]
    document["functions"]["g"] = {
        "handler": "app.g",
        "runtime": "python3.12",
        "events": [{"websocket": "ok"}],
    }

    imported = import_serverless_document(tmp_path, document)

    assert imported.skipped == (f"$default: {reason}",)
    assert imported.functions == {"ok": "g"}


def test_serverless_settings_and_defaults(tmp_path: Path) -> None:
    document = serverless()
    document["provider"].update(
        timeout=12,
        environment={"SERVICE": "${self:service}", "NUMBER": 1.5, "LIST": ["x"]},
    )
    document["functions"]["f"]["environment"] = {"OWN": "${env:MISSING, 'fallback'}"}

    imported = import_serverless_document(tmp_path, document)

    route = imported.config.routes["$default"]
    assert route.function is not None
    assert (route.function.timeout, dict(route.function.environment)) == (
        12.0,
        {"SERVICE": "svc", "NUMBER": "1.5", "OWN": "fallback"},
    )
    # The framework's name for it: <service>-<stage>-<function>.
    assert route.function.name == "svc-dev-f"
    assert imported.name == "dev-svc-websockets"  # the framework's default name
    assert imported.config.route_selection_expression.source == "$request.body.action"
    assert list(imported.warnings) == [
        "provider.environment.LIST: ['x'] is not a string; it is not set"
    ]


def test_serverless_default_timeout_is_the_frameworks(tmp_path: Path) -> None:
    route = import_serverless_document(tmp_path, serverless()).config.routes["$default"]
    assert route.function is not None
    assert route.function.timeout == 6


def test_serverless_environment_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        import_serverless_document(tmp_path, serverless(environment=["A=1"]))
    assert caught.value.key == "functions.f.environment"
    assert caught.value.problem == "must be a mapping of variable names to values"


def test_serverless_settings_must_be_strings(tmp_path: Path) -> None:
    document = serverless()
    document["provider"]["websocketsApiRouteSelectionExpression"] = ["$request.body.action"]
    with pytest.raises(ConfigError) as caught:
        import_serverless_document(tmp_path, document)
    assert caught.value.key == "provider.websocketsApiRouteSelectionExpression"
    assert caught.value.problem == "must be a string, got ['$request.body.action']"


# CloudFormation functions: what else cannot run locally


@pytest.mark.parametrize(
    ("kind", "properties", "reason"),
    [
        ("AWS::Lambda::Function", {"Handler": "app.handler"},
         "function Fn has no Runtime"),
        ("AWS::Lambda::Function", {"Runtime": "python3.12", "Handler": "app.handler"},
         "function Fn has no Code"),
        ("AWS::Lambda::Function",
         {"Runtime": "python3.12", "Handler": "app.handler", "Code": {"ZipFile": "x"}},
         "function Fn's Code is inline code (ZipFile)"),
        ("AWS::Lambda::Function",
         {"Runtime": "python3.12", "Handler": "app.handler",
          "Code": {"S3Bucket": "b", "S3Key": "k"}},
         "function Fn's Code is not a local folder"),
        ("AWS::Serverless::Function",
         {"Runtime": "python3.12", "Handler": "app.handler", "CodeUri": {"Bucket": "b"}},
         "function Fn's CodeUri is not a local folder"),
        ("AWS::Serverless::Function",
         {"Runtime": "python3.12", "Handler": "app.handler", "CodeUri": "build/code.zip"},
         "function Fn's CodeUri 'build/code.zip' is not a local folder"),
        ("AWS::Serverless::Function",
         {"Runtime": "python3.12", "Handler": "app.handler",
          "CodeUri": {"Fn::GetAtt": ["Other", "Location"]}},
         "function Fn's CodeUri '${Other.Location}' is not a local folder"),
    ],
    ids=["no-runtime", "no-code", "zip-file", "s3", "sam-s3-mapping", "zip-archive",
         "deployed-location"],
)  # fmt: skip
def test_functions_that_cannot_run(
    tmp_path: Path, kind: str, properties: dict[str, Any], reason: str
) -> None:
    document = changed(("Resources.Fn", {"Type": kind, "Properties": properties}))
    document["Resources"]["Other"] = {"Type": "AWS::S3::Bucket"}
    document["Resources"]["Route2"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "RouteKey": "ok",
            "Target": {"Fn::Sub": "integrations/${Ok}"},
        },
    }
    document["Resources"]["Ok"] = {
        **document["Resources"]["Integration"],
        "Properties": {
            **document["Resources"]["Integration"]["Properties"],
            "IntegrationUri": {"Fn::GetAtt": ["Good", "Arn"]},
        },
    }
    document["Resources"]["Good"] = api_template()["Resources"]["Fn"]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    imported = load_template(path)

    assert imported.skipped == (f"$default: {reason}",)
    assert imported.functions == {"ok": "Good"}


def test_environment_given_by_an_intrinsic(tmp_path: Path) -> None:
    document = changed(
        (f"{FUNCTION}.Environment",
         {"Fn::If": ["Yes", {"Variables": {"ALPHA": 1}}, {"Ref": "AWS::NoValue"}]}),
        ("Conditions.Yes", {"Fn::Equals": [1, 1]}),
    )  # fmt: skip
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    assert load_template(path).config.routes["$default"].function.environment == {"ALPHA": "1"}

    document["Resources"]["Fn"]["Properties"]["Environment"] = {"Fn::Split": [",", "a"]}
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path)
    assert caught.value.key == f"{FUNCTION}.Environment"
    assert caught.value.problem == "must be a mapping, got ['a']"


def test_identity_source_as_one_string(tmp_path: Path) -> None:
    document = changed(
        (f"{ROUTE}.RouteKey", "$connect"),
        (f"{ROUTE}.AuthorizationType", "CUSTOM"),
        (f"{ROUTE}.AuthorizerId", {"Ref": "Auth"}),
        ("Resources.Auth", {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
            "ApiId": {"Ref": "Api"}, "AuthorizerType": "REQUEST", "Name": "a",
            "AuthorizerUri": {"Fn::GetAtt": ["Fn", "Arn"]},
            "IdentitySource": "route.request.header.A, route.request.querystring.b"}}),
    )  # fmt: skip
    path = tmp_path / "template.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    authorizer = load_template(path).authorizer

    assert authorizer is not None
    assert authorizer.identity_source == ("route.request.header.A", "route.request.querystring.b")
    document["Resources"]["Auth"]["Properties"]["IdentitySource"] = [1]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path)
    assert caught.value.key == "Resources.Auth.Properties.IdentitySource"


def test_sam_websocketapi_with_iam_and_no_auth(tmp_path: Path) -> None:
    routes = {"$connect": {"FunctionArn": {"Fn::GetAtt": "Fn.Arn"}}}
    for auth, expected in (({"AuthType": "AWS_IAM"}, "AWS_IAM"), ({"AuthType": "NONE"}, "NONE")):
        path = tmp_path / "template.json"
        path.write_text(json.dumps(sam_api(routes, Auth=auth)), encoding="utf-8")
        imported = load_template(path)
        assert (imported.config.authorization_type, imported.config.stage) == (expected, "default")
