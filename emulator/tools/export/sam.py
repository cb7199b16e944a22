"""Writing an API as an AWS SAM template that deploys it (``apigw-ws export``).

A pure module: :func:`export_sam` turns an :class:`~emulator.model.api.ApiConfig`
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
* the ``resources`` (tables, queues, topics, buckets) as written; a variable
  that names one becomes ``!Ref``/``!GetAtt``, and its function gets the SAM
  policy template to use it (``DynamoDBCrudPolicy``, ``SQSSendMessagePolicy``,
  ``SNSPublishMessagePolicy``, ``S3CrudPolicy``);
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

from pathlib import Path
from typing import Any

from emulator.model.api import ApiConfig, Limits, RouteConfig, RouteRequest
from emulator.model.integration import IntegrationConfig, LambdaIntegration
from emulator.model.yaml_files import dump_yaml
from emulator.tools.export.resources import (
    API,
    Names,
    api_key_resources,
    authorizer_resources,
    aws_resources,
    environment_value,
    function_key,
    function_resources,
    functions,
    invocation_uri,
    lambda_routes,
    ref,
    sub,
    timeout_ms,
)

__all__ = ["DEFAULT_RUNTIME", "export_sam"]

DEFAULT_RUNTIME = "python3.13"


def export_sam(config: ApiConfig, *, runtime: str = DEFAULT_RUNTIME) -> str:
    """The SAM template (YAML text) that deploys ``config`` to AWS."""
    names = Names()
    tables_and_queues = aws_resources(config, names)
    resources: dict[str, Any] = {
        API: {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": sub("${AWS::StackName}-websocket"),
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": config.route_selection_expression.source,
            },
        }
    }
    if config.api_key_selection_expression != ApiConfig.api_key_selection_expression:
        resources[API]["Properties"]["ApiKeySelectionExpression"] = (
            config.api_key_selection_expression
        )
    lambda_functions = functions(config, names)
    connect_authorization = authorizer_resources(config, resources, names)
    route_ids = []
    for route, lambda_integration in lambda_routes(config):
        name = names.route(route.route_key)
        route_id, integration_id = f"{name}Route", f"{name}Integration"
        route_ids.append(route_id)
        resources[route_id] = _route(route, integration_id, connect_authorization)
        resources[integration_id] = _integration(
            lambda_functions[function_key(lambda_integration.function)], route.timeout
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
                "ApiId": ref(API),
                "Name": model.name,
                "ContentType": model.content_type,
                "Schema": dict(model.schema),
            },
        }
    resources["Deployment"] = {
        "Type": "AWS::ApiGatewayV2::Deployment",
        # AWS: a deployment made before the routes exist deploys none of them.
        "DependsOn": route_ids,
        "Properties": {"ApiId": ref(API)},
    }
    resources["Stage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": ref(API),
            "StageName": config.stage,
            "DeploymentId": ref("Deployment"),
        },
    }
    if config.stage_variables:
        resources["Stage"]["Properties"]["StageVariables"] = dict(config.stage_variables)
    api_key_resources(config, resources, names)
    resources.update(tables_and_queues)
    for key, logical_id in lambda_functions.items():
        served = [(r, i) for r, i in lambda_routes(config) if function_key(i.function) == key]
        function = served[0][1].function
        resources.update(function_resources(logical_id, function, config))
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"WebSocket API exported from {Path(config.source).name} by apigw-ws",
        "Globals": {"Function": {"Runtime": runtime}},
        "Resources": resources,
        "Outputs": {
            "WebSocketUrl": {
                "Description": "The URL clients connect to",
                "Value": sub(
                    f"wss://${{{API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
                ),
            },
            "ConnectionsUrl": {
                "Description": "The endpoint_url of the @connections API",
                "Value": sub(
                    f"https://${{{API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
                ),
            },
        },
    }
    if config.environment:
        template["Globals"]["Function"]["Environment"] = {
            "Variables": {name: environment_value(v) for name, v in config.environment.items()}
        }
    return _header(config) + dump_yaml(template, short_forms=True)


def _route(
    route: RouteConfig, integration_id: str, authorization: dict[str, Any]
) -> dict[str, Any]:
    """The Route resource of either kind of route; ``authorization`` applies to ``$connect``."""
    properties: dict[str, Any] = {
        "ApiId": ref(API),
        "RouteKey": route.route_key,
        "AuthorizationType": "NONE",
    }
    if route.route_key == "$connect":
        properties.update(authorization)
    properties.update(_route_request(route.request))
    if route.route_response:
        properties["RouteResponseSelectionExpression"] = "$default"
    properties["Target"] = sub(f"integrations/${{{integration_id}}}")
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": properties}


def _route_response(route_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::RouteResponse",
        "Properties": {
            "ApiId": ref(API),
            "RouteId": ref(route_id),
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
    names: Names,
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
            "ApiId": ref(API),
            "IntegrationId": ref(integration_id),
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
    properties: dict[str, Any] = {"ApiId": ref(API), "IntegrationType": integration.type.value}
    if integration.uri is not None:
        properties["IntegrationUri"] = integration.uri
        properties["IntegrationMethod"] = integration.method
    properties["TimeoutInMillis"] = timeout_ms(integration.timeout)
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


def _integration(function: str, timeout: float) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": ref(API),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": invocation_uri(function),
            "TimeoutInMillis": timeout_ms(timeout),
        },
    }


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
