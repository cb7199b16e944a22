"""The resources of a SAM template besides routes: functions, authorizer, API keys.

:mod:`.sam` writes the template; this module writes the resources that give
it its functions (``AWS::Serverless::Function``, with the permission API
Gateway needs to invoke each), the ``$connect`` authorizer, and the API keys
in a usage plan, plus the logical ids and intrinsic functions both use.
"""

from __future__ import annotations

import math
import re
from typing import Any

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig, RouteConfig
from emulator.model.function import DEFAULT_MEMORY_SIZE, FunctionConfig, LoggingConfig
from emulator.model.integration import LambdaIntegration
from emulator.model.references import Reference, references, substitute_references
from emulator.model.resources import AwsResource, ResourceType

__all__ = [
    "API",
    "Names",
    "api_key_resources",
    "authorizer_resources",
    "aws_resources",
    "environment_value",
    "execute_api_arn",
    "function_key",
    "function_resources",
    "function_timeout",
    "functions",
    "invocation_uri",
    "lambda_routes",
    "named_resources",
    "ref",
    "sub",
    "timeout_ms",
]

API = "WebSocketApi"
# Lambda's Timeout is whole seconds, 1 to 900.
_MAX_FUNCTION_TIMEOUT = 900


def api_key_resources(config: ApiConfig, resources: dict[str, Any], names: Names) -> None:
    """The keys valid on this stage, in one usage plan for it (spec §A.8)."""
    keys = [k for k in config.api_keys if k.stages is None or config.stage in k.stages]
    if not keys:
        return
    plan = names.unique("UsagePlan")
    resources[plan] = {
        "Type": "AWS::ApiGateway::UsagePlan",
        # The `Ref Stage` orders it after the stage: a plan can only name one that exists.
        "Properties": {"ApiStages": [{"ApiId": ref(API), "Stage": ref("Stage")}]},
    }
    for key in keys:
        words = re.findall(r"[A-Za-z0-9]+", key.id)
        logical_id = names.unique("ApiKey" + "".join(w[:1].upper() + w[1:] for w in words))
        properties: dict[str, Any] = {"Enabled": key.enabled, "Value": key.value}
        if key.name is not None:
            properties["Name"] = key.name
        resources[logical_id] = {"Type": "AWS::ApiGateway::ApiKey", "Properties": properties}
        resources[names.unique(f"{logical_id}UsagePlanKey")] = {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": ref(logical_id),
                "KeyType": "API_KEY",
                "UsagePlanId": ref(plan),
            },
        }


def aws_resources(config: ApiConfig, names: Names) -> dict[str, Any]:
    """The ``resources`` of the config (tables, queues, topics, buckets), as written."""
    resources: dict[str, Any] = {}
    for logical_id, resource in config.resources.items():
        if logical_id in Names.FIXED:
            problem = f"the exported template has a resource {logical_id!r} of its own: rename it"
            raise ConfigError(problem, key=f"resources.{logical_id}", source=config.source)
        names.reserve(logical_id)
        resources[logical_id] = {"Type": resource.type.value}
        if resource.properties:
            resources[logical_id]["Properties"] = dict(resource.properties)
    return resources


def environment_value(value: str) -> str | dict[str, Any]:
    """A variable's value in the template: ``!Ref Table`` for one that names a resource."""
    found = references(value)
    if not found:
        return value
    if len(found) == 1 and value == found[0].token():
        reference = found[0]
        if reference.attribute is None:
            return ref(reference.logical_id)
        return {"Fn::GetAtt": [reference.logical_id, reference.attribute]}
    escaped = value.replace("${", "${!")
    return sub(substitute_references(escaped, _sub_variable))


def _sub_variable(reference: Reference) -> str:
    suffix = f".{reference.attribute}" if reference.attribute is not None else ""
    return "${" + reference.logical_id + suffix + "}"


# The SAM policy template that lets a function use a resource it names.
def _resource_policy(resource: AwsResource) -> dict[str, Any]:
    logical_id = resource.logical_id
    if resource.type is ResourceType.QUEUE:
        name = {"Fn::GetAtt": [logical_id, "QueueName"]}
        return {"SQSSendMessagePolicy": {"QueueName": name}}
    if resource.type is ResourceType.TOPIC:
        return {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": [logical_id, "TopicName"]}}}
    if resource.type is ResourceType.BUCKET:
        return {"S3CrudPolicy": {"BucketName": ref(logical_id)}}
    return {"DynamoDBCrudPolicy": {"TableName": ref(logical_id)}}


def named_resources(function: FunctionConfig, config: ApiConfig) -> list[AwsResource]:
    """The resources a function's variables name, in the config's order."""
    named = {ref.logical_id for value in function.environment.values() for ref in references(value)}
    return [resource for key, resource in config.resources.items() if key in named]


def authorizer_resources(
    config: ApiConfig, resources: dict[str, Any], names: Names
) -> dict[str, Any]:
    """The hook for $connect's authorization: resources added, route properties returned.

    ``AWS_IAM`` needs no resource. ``CUSTOM`` adds the Lambda REQUEST
    authorizer (spec §6.1): its function, the permission API Gateway needs to
    invoke it, and the ``AWS::ApiGatewayV2::Authorizer``.
    """
    if config.authorizer is None:
        if config.authorization_type == "AWS_IAM":
            return {"AuthorizationType": "AWS_IAM"}
        return {}
    function = config.authorizer.function
    logical_id = names.unique("AuthorizerFunction")
    resources.update(function_resources(logical_id, function, config))
    properties: dict[str, Any] = {
        "ApiId": ref(API),
        "Name": sub("${AWS::StackName}-authorizer"),
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": invocation_uri(logical_id),
    }
    if config.authorizer.identity_source:
        properties["IdentitySource"] = list(config.authorizer.identity_source)
    resources["Authorizer"] = {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": properties}
    return {"AuthorizationType": "CUSTOM", "AuthorizerId": ref("Authorizer")}


def lambda_routes(config: ApiConfig) -> list[tuple[RouteConfig, LambdaIntegration]]:
    """The routes whose integration is a Lambda function, in file order."""
    return [
        (route, route.integration)
        for route in config.routes.values()
        if isinstance(route.integration, LambdaIntegration)
    ]


def function_key(function: FunctionConfig) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    code = function.code_uri.as_posix() if function.code_uri is not None else "."
    return function.handler, code, tuple(sorted(function.environment.items()))


def functions(config: ApiConfig, names: Names) -> dict[tuple[Any, ...], str]:
    """One function per handler, code folder and environment; named after its first route."""
    functions: dict[tuple[Any, ...], str] = {}
    for route, integration in lambda_routes(config):
        key = function_key(integration.function)
        if key not in functions:
            functions[key] = names.unique(f"{names.route(route.route_key)}Function")
    return functions


def function_timeout(function: FunctionConfig) -> int:
    """The function's Lambda timeout as deployed: whole seconds, 1 to 900."""
    return min(_MAX_FUNCTION_TIMEOUT, max(1, math.ceil(function.timeout)))


def function_resources(
    logical_id: str, function: FunctionConfig, config: ApiConfig
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "CodeUri": function.code_uri.as_posix() if function.code_uri is not None else ".",
        "Handler": function.handler,
        "Timeout": function_timeout(function),
    }
    if function.memory_size != DEFAULT_MEMORY_SIZE:
        properties["MemorySize"] = function.memory_size
    logging_config = function.logging
    if logging_config != LoggingConfig():
        properties["LoggingConfig"] = {
            "LogFormat": logging_config.log_format.value,
            **(
                {"ApplicationLogLevel": logging_config.application_log_level}
                if logging_config.application_log_level
                else {}
            ),
            **(
                {"SystemLogLevel": logging_config.system_log_level}
                if logging_config.system_log_level
                else {}
            ),
        }
    own = {
        name: value
        for name, value in function.environment.items()
        if config.environment.get(name) != value
    }
    if own:
        properties["Environment"] = {
            "Variables": {name: environment_value(value) for name, value in own.items()}
        }
    properties["Policies"] = [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["execute-api:ManageConnections"],
                    "Resource": [execute_api_arn()],
                }
            ]
        },
        *(_resource_policy(resource) for resource in named_resources(function, config)),
    ]
    return {
        logical_id: {"Type": "AWS::Serverless::Function", "Properties": properties},
        f"{logical_id.removesuffix('Function')}Permission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref(logical_id),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": execute_api_arn(),
            },
        },
    }


def timeout_ms(seconds: float) -> int:
    # AWS: 50-29000 ms for WebSocket APIs; the config keeps to 0.05-29 s.
    return min(29000, max(50, round(seconds * 1000)))


def invocation_uri(function: str) -> dict[str, Any]:
    return sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
        f"/functions/${{{function}.Arn}}/invocations"
    )


def execute_api_arn() -> dict[str, Any]:
    return sub(
        f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{API}}}/*"
    )


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


class Names:
    """CloudFormation logical ids: ASCII letters and digits, unique in the template."""

    FIXED = frozenset({API, "Deployment", "Stage", "Authorizer", "AuthorizerPermission"})

    def __init__(self) -> None:
        self._used: set[str] = set(self.FIXED)
        self._routes: dict[str, str] = {}

    def route(self, route_key: str) -> str:
        """``$connect`` → ``Connect``, ``send-message`` → ``SendMessage``."""
        if route_key not in self._routes:
            words = re.findall(r"[A-Za-z0-9]+", route_key)
            name = "".join(word[:1].upper() + word[1:] for word in words) or "Route"
            if name[0].isdigit():
                name = f"Route{name}"
            candidate, number = name, 2
            while any(f"{candidate}{s}" in self._used for s in ("Route", "Function", "")):
                candidate, number = f"{name}{number}", number + 1
            self._routes[route_key] = candidate
            self._used.update({candidate, f"{candidate}Route"})
        return self._routes[route_key]

    def reserve(self, logical_id: str) -> None:
        """A logical id the config gives (a resource's): never generated for another."""
        self._used.add(logical_id)

    def unique(self, name: str) -> str:
        candidate, number = name, 2
        while candidate in self._used:
            candidate, number = f"{name}{number}", number + 1
        self._used.add(candidate)
        return candidate
