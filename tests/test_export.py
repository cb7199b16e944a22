"""``apigw-ws export --format sam``: templates that cfn-lint accepts and that load back.

Every case is exported once into its own folder (where its code folders are),
all the templates are linted by one ``cfn-lint`` run, and each is imported
back with :func:`emulator.model.templates.load_template` to the same routes.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from emulator.model.api import ApiConfig
from emulator.model.config import load_config, parse_config
from emulator.model.resources import resolve_variables
from emulator.model.templates import load_template
from emulator.model.yaml_files import dump_yaml, read_template_yaml
from emulator.tools.export.sam import DEFAULT_RUNTIME, export_sam

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "templates"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def from_document(document: dict[str, Any], *folders: str) -> Callable[[Path], ApiConfig]:
    def make(base_dir: Path) -> ApiConfig:
        for folder in folders:
            (base_dir / folder).mkdir(parents=True, exist_ok=True)
        return parse_config(document, base_dir=base_dir, source=str(base_dir / "routes.yaml"))

    return make


def project_routes(base_dir: Path) -> ApiConfig:
    return dataclasses.replace(load_config(ROOT / "routes.yaml"), base_dir=base_dir)


def imported_fixture(relative: str) -> Callable[[Path], ApiConfig]:
    def make(base_dir: Path) -> ApiConfig:
        source = FIXTURES / relative
        shutil.copytree(source.parent, base_dir, dirs_exist_ok=True)
        return load_template(base_dir / source.name, environ={}).config

    return make


CASES: dict[str, Callable[[Path], ApiConfig]] = {
    "project-routes-yaml": project_routes,
    "sam-chat-imported": imported_fixture("sam_chat/template.yaml"),
    "serverless-imported": imported_fixture("serverless_single/serverless.yml"),
    "websocketapi-imported": imported_fixture("sam_websocketapi/template.yaml"),
    "two-way-and-environment": from_document(
        {
            "routeSelectionExpression": "$request.body.op",
            "stage": "test_1",
            "environment": {"TABLE": "t", "DEBUG": True},
            "routes": {
                "$connect": {"handler": "app.connect", "codeUri": "src", "timeout": 2.5},
                "echo": {"handler": "app.echo", "codeUri": "src", "routeResponse": True},
                "shout": {
                    "handler": "app.echo",
                    "codeUri": "src",
                    "routeResponse": True,
                    "environment": {"LOUD": "yes", "TABLE": "other"},
                },
                "$default": {"handler": "pkg.mod.fallback", "timeout": 0.05},
            },
        },
        "src",
    ),
    # A function's own timeout and memory, apart from how long each route waits.
    "named-functions": from_document(
        {
            "functions": {
                "chat": {"handler": "app.chat", "timeout": 10, "memorySize": 256},
                "quick": {"handler": "app.quick"},
            },
            "routes": {
                "sendmessage": {"function": "chat"},
                "typing": {"function": "chat", "timeout": 5},
                "$default": {"function": "quick", "routeResponse": True},
            },
        }
    ),
    "odd-route-keys": from_document(
        {
            "routes": {
                "$connect": "app.handler",
                "Connect": "app.handler",
                "send-message": "app.handler",
                "chat.send": "app.handler",
                "1st": "app.handler",
                "ünï": "app.handler",
                "?": "app.handler",
            },
            "limits": {"idleTimeout": 5},
        }
    ),
    "authorizer": from_document(
        {
            "routes": {"$connect": "app.connect", "$default": "app.default"},
            "environment": {"SHARED": "1"},
            "authorizer": {
                "handler": "auth.check",
                "codeUri": "authorizer",
                "identitySource": ["route.request.header.Auth", "route.request.querystring.t"],
                "timeout": 4,
                "environment": {"SECRET": "s"},
            },
        },
        "authorizer",
    ),
    "aws-iam": from_document(
        {"routes": {"$connect": "app.connect"}, "authorizationType": "AWS_IAM"}
    ),
}


@dataclasses.dataclass(frozen=True)
class Exported:
    config: ApiConfig
    path: Path
    text: str
    template: dict[str, Any]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    results = {}
    for case, make in CASES.items():
        folder = tmp_path_factory.mktemp(case)
        config = make(folder)
        text = export_sam(config)
        path = folder / "template.yaml"
        path.write_text(text, encoding="utf-8")
        template = read_template_yaml(path)
        assert isinstance(template, dict)
        results[case] = Exported(config, path, text, template)
    return results


@pytest.fixture(scope="module")
def lint_findings(exported: dict[str, Exported]) -> dict[Path, list[str]]:
    """One cfn-lint run over every exported template: its findings, by file."""
    if not CFN_LINT.exists():
        pytest.fail(f"cfn-lint is not installed in {CFN_LINT.parent}: pip install -e '.[test]'")
    paths = [item.path for item in exported.values()]
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert not result.stderr, result.stderr
    findings: dict[Path, list[str]] = {path: [] for path in paths}
    for line in result.stdout.splitlines():
        for path in paths:
            if line.startswith(f"{path}:"):
                findings[path].append(line)
    assert sum(map(len, findings.values())) == len(result.stdout.splitlines()), result.stdout
    # cfn-lint's exit status is a bit mask of what it found: 0 is nothing at all.
    assert (result.returncode == 0) == (not result.stdout), result.stdout
    return findings


@pytest.mark.parametrize("case", CASES)
def test_exported_template_passes_cfn_lint(
    case: str, exported: dict[str, Exported], lint_findings: dict[Path, list[str]]
) -> None:
    assert lint_findings[exported[case].path] == []


def resolved(config: ApiConfig, environment: Mapping[str, str]) -> dict[str, str]:
    """Variables as the functions see them with --mock-aws: resources by their names."""
    return resolve_variables(environment, config.resources, "us-east-1")


def route_facts(config: ApiConfig) -> dict[str, tuple[Any, ...]]:
    return {
        key: (
            route.function.handler,
            route.function.code_uri,
            route.route_response,
            route.timeout,  # how long API Gateway waits
            route.function.timeout,  # Lambda's own
            route.function.memory_size,
            resolved(config, route.function.environment),
        )
        for key, route in config.routes.items()
        if route.function is not None
    }


@pytest.mark.parametrize("case", CASES)
def test_round_trip(case: str, exported: dict[str, Exported]) -> None:
    original = exported[case].config

    imported = load_template(exported[case].path)
    config = imported.config

    assert route_facts(config) == route_facts(original)
    assert list(config.routes) == list(original.routes)
    assert config.stage == original.stage
    assert config.route_selection_expression == original.route_selection_expression
    assert resolved(config, config.environment) == resolved(original, original.environment)
    assert {k: r.name for k, r in config.resources.items()} == {
        k: r.name for k, r in original.resources.items()
    }
    assert config.authorization_type == original.authorization_type
    if original.authorizer is None:
        assert config.authorizer is None
    else:
        assert config.authorizer is not None
        assert config.authorizer.identity_source == original.authorizer.identity_source
        mine, theirs = config.authorizer.function, original.authorizer.function
        assert (mine.handler, mine.code_uri, mine.timeout, mine.environment) == (
            theirs.handler,
            theirs.code_uri,
            theirs.timeout,
            theirs.environment,
        )
    assert (imported.skipped, imported.warnings) == ((), ())


def read_template_yaml_text(text: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.yaml"
        path.write_text(text, encoding="utf-8")
        template = read_template_yaml(path)
    assert isinstance(template, dict)
    return template


def resources_of(exported: Exported, kind: str) -> dict[str, dict[str, Any]]:
    resources = exported.template["Resources"]
    return {name: value for name, value in resources.items() if value["Type"] == kind}


def test_one_route_integration_and_response_per_route(exported: dict[str, Exported]) -> None:
    two_way = exported["two-way-and-environment"]
    resources = two_way.template["Resources"]

    routes = resources_of(two_way, "AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"]: name for name, r in routes.items()} == {
        "$connect": "ConnectRoute",
        "echo": "EchoRoute",
        "shout": "ShoutRoute",
        "$default": "DefaultRoute",
    }
    assert {
        name: r["Properties"].get("RouteResponseSelectionExpression") for name, r in routes.items()
    } == {"ConnectRoute": None, "EchoRoute": "$default", "ShoutRoute": "$default",
          "DefaultRoute": None}  # fmt: skip
    responses = resources_of(two_way, "AWS::ApiGatewayV2::RouteResponse")
    assert {name: r["Properties"]["RouteId"] for name, r in responses.items()} == {
        "EchoRouteResponse": {"Ref": "EchoRoute"},
        "ShoutRouteResponse": {"Ref": "ShoutRoute"},
    }
    integrations = resources_of(two_way, "AWS::ApiGatewayV2::Integration")
    assert {name: r["Properties"]["TimeoutInMillis"] for name, r in integrations.items()} == {
        "ConnectIntegration": 2500,
        "EchoIntegration": 29000,
        "ShoutIntegration": 29000,
        "DefaultIntegration": 50,
    }
    assert resources["Deployment"]["DependsOn"] == list(routes)
    assert resources["Stage"]["Properties"]["StageName"] == "test_1"
    api = resources["WebSocketApi"]["Properties"]
    assert (api["ProtocolType"], api["RouteSelectionExpression"]) == (
        "WEBSOCKET",
        "$request.body.op",
    )


def test_functions_are_shared_by_routes_with_the_same_code_and_environment(
    exported: dict[str, Exported],
) -> None:
    two_way = exported["two-way-and-environment"]

    functions = resources_of(two_way, "AWS::Serverless::Function")
    assert {name: f["Properties"]["Handler"] for name, f in functions.items()} == {
        "ConnectFunction": "app.connect",
        "EchoFunction": "app.echo",
        "ShoutFunction": "app.echo",  # another environment: another function
        "DefaultFunction": "pkg.mod.fallback",
    }
    # Implicit functions (a route's `handler:`) have Lambda's default Timeout.
    assert {name: f["Properties"]["Timeout"] for name, f in functions.items()} == {
        "ConnectFunction": 3,
        "EchoFunction": 3,
        "ShoutFunction": 3,
        "DefaultFunction": 3,
    }
    assert {name: f["Properties"]["CodeUri"] for name, f in functions.items()} == {
        "ConnectFunction": "src",
        "EchoFunction": "src",
        "ShoutFunction": "src",
        "DefaultFunction": ".",
    }
    assert functions["ShoutFunction"]["Properties"]["Environment"] == {
        "Variables": {"TABLE": "other", "LOUD": "yes"}
    }
    assert "Environment" not in functions["EchoFunction"]["Properties"]
    assert two_way.template["Globals"]["Function"] == {
        "Runtime": DEFAULT_RUNTIME,
        "Environment": {"Variables": {"TABLE": "t", "DEBUG": "true"}},
    }
    single = exported["serverless-imported"]
    shared = resources_of(single, "AWS::Serverless::Function")
    assert list(shared) == ["ConnectFunction", "WhoamiFunction"]


def test_api_gateway_may_invoke_every_function(exported: dict[str, Exported]) -> None:
    for case in exported.values():
        functions = resources_of(case, "AWS::Serverless::Function")
        permissions = resources_of(case, "AWS::Lambda::Permission")
        invoked = {p["Properties"]["FunctionName"]["Ref"] for p in permissions.values()}
        assert invoked == set(functions)
        for permission in permissions.values():
            assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
            assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
        for function in functions.values():
            policy = function["Properties"]["Policies"][0]
            assert policy["Statement"][0]["Action"] == ["execute-api:ManageConnections"]


def test_the_default_app_declares_its_table_and_each_function_may_use_it(
    exported: dict[str, Exported],
) -> None:
    chat = exported["project-routes-yaml"]
    (table,) = resources_of(chat, "AWS::DynamoDB::Table").items()
    assert table == (
        "ConnectionsTable",
        {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "connectionId", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        },
    )
    assert chat.template["Globals"]["Function"]["Environment"] == {
        "Variables": {"TABLE_NAME": {"Ref": "ConnectionsTable"}}
    }
    for function in resources_of(chat, "AWS::Serverless::Function").values():
        assert function["Properties"]["Policies"][1:] == [
            {"DynamoDBCrudPolicy": {"TableName": {"Ref": "ConnectionsTable"}}}
        ]
    assert "!Ref ConnectionsTable" in chat.text


def test_variables_that_name_resources_become_intrinsics() -> None:
    config = parse_config(
        {
            "resources": {
                "Jobs": {"Type": "AWS::SQS::Queue"},
                "Alerts": {"Type": "AWS::SNS::Topic"},
            },
            "routes": {
                "$default": {
                    "handler": "app.h",
                    "environment": {
                        "QUEUE_ARN": {"Fn::GetAtt": ["Jobs", "Arn"]},
                        "TOPIC": {"Ref": "Alerts"},
                    },
                }
            },
        }
    )
    template = read_template_yaml_text(export_sam(config))
    function = template["Resources"]["DefaultFunction"]["Properties"]
    assert function["Environment"]["Variables"] == {
        "QUEUE_ARN": {"Fn::GetAtt": ["Jobs", "Arn"]},
        "TOPIC": {"Ref": "Alerts"},
    }
    assert function["Policies"][1:] == [
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["Jobs", "QueueName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Alerts", "TopicName"]}}},
    ]


def test_the_authorizer_hook(exported: dict[str, Exported]) -> None:
    custom = exported["authorizer"]
    connect = custom.template["Resources"]["ConnectRoute"]["Properties"]
    assert (connect["AuthorizationType"], connect["AuthorizerId"]) == (
        "CUSTOM",
        {"Ref": "Authorizer"},
    )
    authorizer = custom.template["Resources"]["Authorizer"]["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == [
        "route.request.header.Auth",
        "route.request.querystring.t",
    ]
    function = custom.template["Resources"]["AuthorizerFunction"]["Properties"]
    # The authorizer's `timeout` is how long API Gateway waits; its function has Lambda's 3 s.
    assert (function["Handler"], function["CodeUri"], function["Timeout"]) == (
        "auth.check",
        "authorizer",
        3,
    )
    default = custom.template["Resources"]["DefaultRoute"]["Properties"]
    assert default["AuthorizationType"] == "NONE"
    iam = exported["aws-iam"].template["Resources"]["ConnectRoute"]["Properties"]
    assert iam["AuthorizationType"] == "AWS_IAM"
    assert "Authorizer" not in exported["aws-iam"].template["Resources"]


def test_logical_ids_are_unique_and_alphanumeric(exported: dict[str, Exported]) -> None:
    odd = exported["odd-route-keys"]
    routes = resources_of(odd, "AWS::ApiGatewayV2::Route")

    assert {r["Properties"]["RouteKey"]: name for name, r in routes.items()} == {
        "$connect": "ConnectRoute",
        "Connect": "Connect2Route",
        "send-message": "SendMessageRoute",
        "chat.send": "ChatSendRoute",
        "1st": "Route1stRoute",
        "ünï": "NRoute",
        "?": "RouteRoute",
    }
    for case in exported.values():
        assert all(
            re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) for name in case.template["Resources"]
        )


def test_the_header_says_where_the_template_belongs(exported: dict[str, Exported]) -> None:
    odd = exported["odd-route-keys"]
    lines = odd.text.splitlines()
    assert lines[0] == f"# Generated by `apigw-ws export` from {odd.config.source}."
    assert lines[1].startswith("# CodeUri folders are relative to the folder of that file")
    assert lines[2] == "# Not exported: `limits` (AWS's own quotas apply once deployed)."
    assert "Not exported" not in exported["aws-iam"].text


def test_short_forms_are_written(exported: dict[str, Exported]) -> None:
    text = exported["project-routes-yaml"].text
    assert "ApiId: !Ref WebSocketApi\n" in text
    assert "Target: !Sub integrations/${ConnectIntegration}\n" in text
    assert "Fn::" not in text


def test_the_runtime_can_be_chosen() -> None:
    config = parse_config({"routes": {"$default": "app.handler"}})
    assert "Runtime: python3.12\n" in export_sam(config, runtime="python3.12")
    assert f"Runtime: {DEFAULT_RUNTIME}\n" in export_sam(config)


@pytest.mark.parametrize(
    ("document", "text"),
    [
        ({"a": "yes", "b": "2010-09-09", "c": "1"}, "a: 'yes'\nb: '2010-09-09'\nc: '1'\n"),
        ({"a": ["x", {"b": 1}]}, "a:\n  - x\n  - b: 1\n"),
        ({"a": {"Ref": "X"}}, "a:\n  Ref: X\n"),
        ({"a": "x" * 200}, f"a: {'x' * 200}\n"),
    ],
    ids=["ambiguous-strings-quoted", "lists-indented", "long-forms-by-default", "no-folding"],
)
def test_dump_yaml(document: object, text: str) -> None:
    assert dump_yaml(document) == text


def test_dumped_short_forms_load_back(tmp_path: Path) -> None:
    document = {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["F", "Arn"]},
        "C": {"Fn::Sub": ["${a}: b", {"a": {"Ref": "AWS::Region"}}]},
        "D": {"Fn::If": ["Cond", {"Fn::Join": ["", ["a", "b"]]}, {"Ref": "AWS::NoValue"}]},
        "E": {"Condition": "Cond"},
        "F": {"Fn::GetAZs": ""},
        "G": {"Fn::Transform": {"Name": "AWS::Include"}},
        "H": {"Not::AFunction": 1},
    }
    path = tmp_path / "t.yaml"
    path.write_text(dump_yaml(document, short_forms=True), encoding="utf-8")

    assert read_template_yaml(path) == document
    assert "!GetAtt F.Arn" in path.read_text(encoding="utf-8")
