"""Writing an API as an AWS SAM template that deploys it (``apigw-ws export``).

A pure module: :func:`export_sam` turns an :class:`~emulator.config.ApiConfig`
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
  ``AWS::ApiGatewayV2::Authorizer`` of type ``REQUEST``, its function and permission).

``CodeUri`` folders are written relative to the config's folder: save the
template there. The template loads back through
:func:`emulator.templates.load_template` into the same routes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from emulator.config import ApiConfig, Limits, RouteConfig, dump_yaml

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
    functions = _functions(config, names)
    connect_authorization = _authorizer_resources(config, resources, names)
    route_ids = []
    for route_key, route in config.routes.items():
        name = names.route(route_key)
        route_id, integration_id = f"{name}Route", f"{name}Integration"
        route_ids.append(route_id)
        properties: dict[str, Any] = {
            "ApiId": _ref(_API),
            "RouteKey": route_key,
            "AuthorizationType": "NONE",
        }
        if route_key == "$connect":
            properties.update(connect_authorization)
        if route.route_response:
            properties["RouteResponseSelectionExpression"] = "$default"
        properties["Target"] = _sub(f"integrations/${{{integration_id}}}")
        resources[route_id] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": properties}
        resources[integration_id] = _integration(functions[_function_key(route)], route.timeout)
        if route.route_response:
            resources[f"{name}RouteResponse"] = {
                "Type": "AWS::ApiGatewayV2::RouteResponse",
                "Properties": {
                    "ApiId": _ref(_API),
                    "RouteId": _ref(route_id),
                    "RouteResponseKey": "$default",
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
    for key, logical_id in functions.items():
        routes = [route for route in config.routes.values() if _function_key(route) == key]
        resources.update(_function(logical_id, routes[0], max(r.timeout for r in routes), config))
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
    resources.update(_function(logical_id, function, function.timeout, config))
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


def _function_key(route: RouteConfig) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    code = route.code_uri.as_posix() if route.code_uri is not None else "."
    return route.handler, code, tuple(sorted(route.environment.items()))


def _functions(config: ApiConfig, names: _Names) -> dict[tuple[Any, ...], str]:
    """One function per handler, code folder and environment; named after its first route."""
    functions: dict[tuple[Any, ...], str] = {}
    for route_key, route in config.routes.items():
        key = _function_key(route)
        if key not in functions:
            functions[key] = names.unique(f"{names.route(route_key)}Function")
    return functions


def _function(
    logical_id: str, route: RouteConfig, timeout: float, config: ApiConfig
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "CodeUri": route.code_uri.as_posix() if route.code_uri is not None else ".",
        "Handler": route.handler,
        "Timeout": min(_MAX_FUNCTION_TIMEOUT, max(1, math.ceil(timeout))),
    }
    own = {
        name: value
        for name, value in route.environment.items()
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
            # AWS: 50-29000 ms for WebSocket APIs; the config keeps to 0.05-29 s.
            "TimeoutInMillis": min(29000, max(50, round(timeout * 1000))),
        },
    }


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
