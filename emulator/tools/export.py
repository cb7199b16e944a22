"""Writing an API as an AWS SAM template that deploys it (``apigw-ws export``).

A pure module: :func:`export_sam` turns an :class:`~emulator.model.config.ApiConfig`
into template text, in the classic pattern of spec §8.2 (the
aws-samples/simple-websockets-chat-app template), which every SAM version
deploys:

* an ``AWS::ApiGatewayV2::Api`` with the config's route selection expression;
* per route a ``Route``, an ``AWS_PROXY`` ``Integration`` (its ``TimeoutInMillis``
  is the route's timeout) and, for a two-way route, a ``RouteResponse``
  ``$default`` with ``RouteResponseSelectionExpression: $default``;
* one ``AWS::Serverless::Function`` per distinct handler, code folder and
  environment (routes that share all three share the function), with
  ``execute-api:ManageConnections`` so that it can post to connections, and an
  ``AWS::Lambda::Permission`` letting API Gateway invoke it;
* a ``Deployment`` and a ``Stage`` named as the config's ``stage``;
* the ``$connect`` authorization: ``AWS_IAM``, or the ``authorizer`` (an
  ``AWS::ApiGatewayV2::Authorizer`` of type ``REQUEST``, its function and permission);
* routes with an ``integration:`` (``HTTP_PROXY``, ``HTTP``, ``AWS``, ``MOCK``)
  as an ``Integration`` of that type with its ``IntegrationResponse`` resources;
  each route's ``ModelSelectionExpression``, ``RequestModels``,
  ``RequestParameters`` and ``ApiKeyRequired``; the ``models`` as
  ``AWS::ApiGatewayV2::Model`` resources; the ``apiKeys`` as
  ``AWS::ApiGateway::ApiKey`` resources in a usage plan for the stage; the
  ``stageVariables`` on the ``Stage`` (spec §A.10).

``CodeUri`` folders are written relative to the config's folder: save the
template there. The template loads back through
:func:`emulator.model.templates.load_template` into the same routes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from emulator.model.api import ApiConfig, Limits, RouteConfig, RouteRequest
from emulator.model.function import FunctionConfig
from emulator.model.integration import IntegrationConfig, LambdaIntegration
from emulator.model.yaml_files import dump_yaml

__all__ = ["DEFAULT_RUNTIME", "export_sam"]

DEFAULT_RUNTIME = "python3.13"
_API = "WebSocketApi"
# Lambda's Timeout is whole seconds, 1 to 900.
_MAX_FUNCTION_TIMEOUT = 900


def export_sam(config: ApiConfig, *, runtime: str = DEFAULT_RUNTIME) -> str:
    """The SAM template (YAML text) that deploys ``config`` to AWS."""
    names = _Names()
    resources: dict[str, Any] = {
        _API: {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": _sub("${AWS::StackName}-websocket"),
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": config.route_selection_expression.source,
            },
        }
    }
    if config.api_key_selection_expression != ApiConfig.api_key_selection_expression:
        resources[_API]["Properties"]["ApiKeySelectionExpression"] = (
            config.api_key_selection_expression
        )
    functions = _functions(config, names)
    connect_authorization = _authorizer_resources(config, resources, names)
    route_ids = []
    for route, lambda_integration in _lambda_routes(config):
        name = names.route(route.route_key)
        route_id, integration_id = f"{name}Route", f"{name}Integration"
        route_ids.append(route_id)
        resources[route_id] = _route(route, integration_id, connect_authorization)
        resources[integration_id] = _integration(
            functions[_function_key(lambda_integration.function)], route.timeout
        )
        if route.route_response:
            resources[f"{name}RouteResponse"] = _route_response(route_id)
    for route_key, route in config.routes.items():
        if not isinstance(route.integration, LambdaIntegration):
            route_ids.append(
                _integration_route(
                    route_key, route, route.integration, resources, names, connect_authorization
                )
            )
    for model in config.models.values():
        resources[names.unique(f"{model.name[:1].upper()}{model.name[1:]}Model")] = {
            "Type": "AWS::ApiGatewayV2::Model",
            "Properties": {
                "ApiId": _ref(_API),
                "Name": model.name,
                "ContentType": model.content_type,
                "Schema": dict(model.schema),
            },
        }
    resources["Deployment"] = {
        "Type": "AWS::ApiGatewayV2::Deployment",
        # AWS: a deployment made before the routes exist deploys none of them.
        "DependsOn": route_ids,
        "Properties": {"ApiId": _ref(_API)},
    }
    resources["Stage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": _ref(_API),
            "StageName": config.stage,
            "DeploymentId": _ref("Deployment"),
        },
    }
    if config.stage_variables:
        resources["Stage"]["Properties"]["StageVariables"] = dict(config.stage_variables)
    _api_keys(config, resources, names)
    for key, logical_id in functions.items():
        served = [(r, i) for r, i in _lambda_routes(config) if _function_key(i.function) == key]
        function = served[0][1].function
        timeout = max(route.timeout for route, _ in served)
        resources.update(_function(logical_id, function, timeout, config))
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"WebSocket API exported from {Path(config.source).name} by apigw-ws",
        "Globals": {"Function": {"Runtime": runtime}},
        "Resources": resources,
        "Outputs": {
            "WebSocketUrl": {
                "Description": "The URL clients connect to",
                "Value": _sub(
                    f"wss://${{{_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
                ),
            },
            "ConnectionsUrl": {
                "Description": "The endpoint_url of the @connections API",
                "Value": _sub(
                    f"https://${{{_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
                ),
            },
        },
    }
    if config.environment:
        template["Globals"]["Function"]["Environment"] = {"Variables": dict(config.environment)}
    return _header(config) + dump_yaml(template, short_forms=True)


def _route(
    route: RouteConfig, integration_id: str, authorization: dict[str, Any]
) -> dict[str, Any]:
    """The Route resource of either kind of route; ``authorization`` applies to ``$connect``."""
    properties: dict[str, Any] = {
        "ApiId": _ref(_API),
        "RouteKey": route.route_key,
        "AuthorizationType": "NONE",
    }
    if route.route_key == "$connect":
        properties.update(authorization)
    properties.update(_route_request(route.request))
    if route.route_response:
        properties["RouteResponseSelectionExpression"] = "$default"
    properties["Target"] = _sub(f"integrations/${{{integration_id}}}")
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": properties}


def _route_response(route_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::RouteResponse",
        "Properties": {
            "ApiId": _ref(_API),
            "RouteId": _ref(route_id),
            "RouteResponseKey": "$default",
        },
    }


def _route_request(request: RouteRequest) -> dict[str, Any]:
    """A route's request settings as Route properties (spec §A.7, §A.8)."""
    properties: dict[str, Any] = {}
    if request.model_selection_expression is not None:
        properties["ModelSelectionExpression"] = request.model_selection_expression.source
    if request.request_models:
        properties["RequestModels"] = dict(request.request_models)
    if request.request_parameters:
        properties["RequestParameters"] = {
            name: {"Required": required} for name, required in request.request_parameters.items()
        }
    if request.api_key_required:
        properties["ApiKeyRequired"] = True
    return properties


def _integration_route(
    route_key: str,
    route: RouteConfig,
    integration: IntegrationConfig,
    resources: dict[str, Any],
    names: _Names,
    connect_authorization: dict[str, Any],
) -> str:
    """The Route, Integration, IntegrationResponse(s) and RouteResponse of a route with an
    ``integration:``; returns the route's logical id."""
    name = names.route(route_key)
    route_id, integration_id = f"{name}Route", f"{name}Integration"
    resources[route_id] = _route(route, integration_id, connect_authorization)
    resources[integration_id] = _other_integration(integration)
    for index, response in enumerate(integration.responses, start=1):
        response_properties: dict[str, Any] = {
            "ApiId": _ref(_API),
            "IntegrationId": _ref(integration_id),
            "IntegrationResponseKey": response.key,
        }
        if response.template_selection_expression is not None:
            expression = response.template_selection_expression.source
            response_properties["TemplateSelectionExpression"] = expression
        if response.response_templates:
            response_properties["ResponseTemplates"] = dict(response.response_templates)
        if response.content_handling is not None:
            response_properties["ContentHandlingStrategy"] = response.content_handling.value
        resources[names.unique(f"{name}IntegrationResponse{index}")] = {
            "Type": "AWS::ApiGatewayV2::IntegrationResponse",
            "Properties": response_properties,
        }
    if route.route_response:
        resources[f"{name}RouteResponse"] = _route_response(route_id)
    return route_id


def _other_integration(integration: IntegrationConfig) -> dict[str, Any]:
    properties: dict[str, Any] = {"ApiId": _ref(_API), "IntegrationType": integration.type.value}
    if integration.uri is not None:
        properties["IntegrationUri"] = integration.uri
        properties["IntegrationMethod"] = integration.method
    properties["TimeoutInMillis"] = _timeout_ms(integration.timeout)
    if integration.request_parameters:
        properties["RequestParameters"] = dict(integration.request_parameters)
    if integration.request_templates:
        properties["RequestTemplates"] = dict(integration.request_templates)
    if integration.template_selection_expression is not None:
        expression = integration.template_selection_expression.source
        properties["TemplateSelectionExpression"] = expression
    if integration.passthrough_behavior.value != "WHEN_NO_MATCH":  # AWS's default
        properties["PassthroughBehavior"] = integration.passthrough_behavior.value
    if integration.content_handling is not None:
        properties["ContentHandlingStrategy"] = integration.content_handling.value
    return {"Type": "AWS::ApiGatewayV2::Integration", "Properties": properties}


def _api_keys(config: ApiConfig, resources: dict[str, Any], names: _Names) -> None:
    """The keys valid on this stage, in one usage plan for it (spec §A.8)."""
    keys = [k for k in config.api_keys if k.stages is None or config.stage in k.stages]
    if not keys:
        return
    plan = names.unique("UsagePlan")
    resources[plan] = {
        "Type": "AWS::ApiGateway::UsagePlan",
        # The `Ref Stage` orders it after the stage: a plan can only name one that exists.
        "Properties": {"ApiStages": [{"ApiId": _ref(_API), "Stage": _ref("Stage")}]},
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
                "KeyId": _ref(logical_id),
                "KeyType": "API_KEY",
                "UsagePlanId": _ref(plan),
            },
        }


def _authorizer_resources(
    config: ApiConfig, resources: dict[str, Any], names: _Names
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
    resources.update(_function(logical_id, function, config.authorizer.timeout, config))
    properties: dict[str, Any] = {
        "ApiId": _ref(_API),
        "Name": _sub("${AWS::StackName}-authorizer"),
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": _invocation_uri(logical_id),
    }
    if config.authorizer.identity_source:
        properties["IdentitySource"] = list(config.authorizer.identity_source)
    resources["Authorizer"] = {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": properties}
    return {"AuthorizationType": "CUSTOM", "AuthorizerId": _ref("Authorizer")}


def _lambda_routes(config: ApiConfig) -> list[tuple[RouteConfig, LambdaIntegration]]:
    """The routes whose integration is a Lambda function, in file order."""
    return [
        (route, route.integration)
        for route in config.routes.values()
        if isinstance(route.integration, LambdaIntegration)
    ]


def _function_key(function: FunctionConfig) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    code = function.code_uri.as_posix() if function.code_uri is not None else "."
    return function.handler, code, tuple(sorted(function.environment.items()))


def _functions(config: ApiConfig, names: _Names) -> dict[tuple[Any, ...], str]:
    """One function per handler, code folder and environment; named after its first route."""
    functions: dict[tuple[Any, ...], str] = {}
    for route, integration in _lambda_routes(config):
        key = _function_key(integration.function)
        if key not in functions:
            functions[key] = names.unique(f"{names.route(route.route_key)}Function")
    return functions


def _function(
    logical_id: str, function: FunctionConfig, timeout: float, config: ApiConfig
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "CodeUri": function.code_uri.as_posix() if function.code_uri is not None else ".",
        "Handler": function.handler,
        "Timeout": min(_MAX_FUNCTION_TIMEOUT, max(1, math.ceil(timeout))),
    }
    own = {
        name: value
        for name, value in function.environment.items()
        if config.environment.get(name) != value
    }
    if own:
        properties["Environment"] = {"Variables": own}
    properties["Policies"] = [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["execute-api:ManageConnections"],
                    "Resource": [_execute_api_arn()],
                }
            ]
        }
    ]
    return {
        logical_id: {"Type": "AWS::Serverless::Function", "Properties": properties},
        f"{logical_id.removesuffix('Function')}Permission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": _ref(logical_id),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _execute_api_arn(),
            },
        },
    }


def _integration(function: str, timeout: float) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": _ref(_API),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": _invocation_uri(function),
            "TimeoutInMillis": _timeout_ms(timeout),
        },
    }


def _timeout_ms(seconds: float) -> int:
    # AWS: 50-29000 ms for WebSocket APIs; the config keeps to 0.05-29 s.
    return min(29000, max(50, round(seconds * 1000)))


def _invocation_uri(function: str) -> dict[str, Any]:
    return _sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
        f"/functions/${{{function}.Arn}}/invocations"
    )


def _execute_api_arn() -> dict[str, Any]:
    return _sub(
        f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{_API}}}/*"
    )


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _header(config: ApiConfig) -> str:
    lines = [
        f"# Generated by `apigw-ws export` from {config.source}.",
        "# CodeUri folders are relative to the folder of that file: save this template there.",
    ]
    if config.limits != Limits():
        lines.append("# Not exported: `limits` (AWS's own quotas apply once deployed).")
    if config.aws_endpoints:
        lines.append("# Not exported: `awsEndpoints` (AWS integrations call AWS once deployed).")
    if config.api_keys:
        lines.append("# The API keys' values are written as given: keep this file private.")
    return "\n".join(lines) + "\n"


class _Names:
    """CloudFormation logical ids: ASCII letters and digits, unique in the template."""

    _FIXED = frozenset({_API, "Deployment", "Stage", "Authorizer", "AuthorizerPermission"})

    def __init__(self) -> None:
        self._used: set[str] = set(self._FIXED)
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

    def unique(self, name: str) -> str:
        candidate, number = name, 2
        while candidate in self._used:
            candidate, number = f"{name}{number}", number + 1
        self._used.add(candidate)
        return candidate
