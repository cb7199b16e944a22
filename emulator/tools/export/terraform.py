"""Writing an API as a Terraform configuration that deploys it (``apigw-ws export``).

A pure module: :func:`export_terraform` turns an
:class:`~emulator.model.api.ApiConfig` into the text of one ``.tf`` file for
the AWS provider (5.x) and the archive provider:

* an ``aws_apigatewayv2_api`` (``protocol_type = "WEBSOCKET"``) and an
  ``aws_apigatewayv2_stage`` named as the config's ``stage``, auto-deployed,
  with its ``stageVariables``;
* one ``aws_lambda_function`` per distinct handler, code folder and
  environment, its code zipped by an ``archive_file`` data source from the
  code folder, with one role allowed to post to connections, and the
  ``aws_lambda_permission`` letting API Gateway invoke it;
* per route an ``aws_apigatewayv2_route`` and an ``aws_apigatewayv2_integration``
  (``AWS_PROXY``, or the route's ``HTTP_PROXY``/``HTTP``/``AWS``/``MOCK``
  integration with its ``aws_apigatewayv2_integration_response`` resources),
  and for a two-way route an ``aws_apigatewayv2_route_response``;
* ``$connect``'s authorization: ``AWS_IAM``, or the ``authorizer`` as an
  ``aws_apigatewayv2_authorizer`` of type ``REQUEST``;
* the ``resources`` (:mod:`.terraform_resources`), which the functions' role
  may use and their variables refer to.

Paths are written relative to ``path.module``: save the file beside the
config. It reads back through :func:`emulator.model.templates.load_terraform`
into the same routes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emulator.model.api import ApiConfig, Limits, RouteConfig
from emulator.model.function import DEFAULT_MEMORY_SIZE, FunctionConfig
from emulator.model.integration import IntegrationConfig, LambdaIntegration
from emulator.tools.export.hcl import BLOCK, quoted, write_hcl
from emulator.tools.export.resources import (
    Names,
    function_key,
    function_timeout,
    functions,
    lambda_routes,
    timeout_ms,
)
from emulator.tools.export.terraform_resources import (
    resource_policy,
    snake,
    terraform_resources,
    terraform_value,
)

__all__ = ["export_terraform"]

RUNTIME = "python3.13"
_API = "aws_apigatewayv2_api.websocket"
_BLOCK = BLOCK


def export_terraform(config: ApiConfig, *, runtime: str = RUNTIME) -> str:
    """The Terraform configuration (HCL text) that deploys ``config`` to AWS."""
    names = Names()
    resources: list[dict[str, Any]] = []
    data: list[dict[str, Any]] = []

    def resource(kind: str, name: str, body: dict[str, Any]) -> None:
        resources.append({quoted(kind): {quoted(name): {**body, _BLOCK: True}}})

    name = re.sub(r"[^A-Za-z0-9-]+", "-", Path(config.base_dir).name).strip("-") or "websocket"
    resource(
        "aws_apigatewayv2_api",
        "websocket",
        {
            "name": quoted(f"{name}-websocket"),
            "protocol_type": quoted("WEBSOCKET"),
            "route_selection_expression": quoted(config.route_selection_expression.source),
        },
    )
    _role(resource)
    terraform_resources(config.resources, resource)
    if config.resources:
        policy = {"Version": "2012-10-17", "Statement": resource_policy(config.resources)}
        resource(
            "aws_iam_role_policy",
            "resources",
            {"role": "${aws_iam_role.functions.id}", "policy": f"${{jsonencode({_hcl(policy)})}}"},
        )
    by_key = functions(config, names)
    written: set[str] = set()
    for _, integration in lambda_routes(config):
        logical = by_key[function_key(integration.function)]
        if logical not in written:
            written.add(logical)
            _function(resource, data, _name(logical), integration.function, runtime, config)
    authorization = _authorization(
        config, resource, data, names.unique("AuthorizerFunction"), runtime
    )
    for route_key, route in config.routes.items():
        route_name = snake(names.route(route_key))
        if isinstance(route.integration, LambdaIntegration):
            target = _name(by_key[function_key(route.integration.function)])
            body = {
                "api_id": f"${{{_API}.id}}",
                "integration_type": quoted("AWS_PROXY"),
                "integration_uri": f"${{aws_lambda_function.{target}.invoke_arn}}",
                "timeout_milliseconds": timeout_ms(route.timeout),
            }
            resource("aws_apigatewayv2_integration", route_name, body)
        else:
            _backend(resource, route_name, route.integration)
        resource("aws_apigatewayv2_route", route_name, _route(route, route_name, authorization))
        if route.route_response:
            resource(
                "aws_apigatewayv2_route_response",
                route_name,
                {
                    "api_id": f"${{{_API}.id}}",
                    "route_id": f"${{aws_apigatewayv2_route.{route_name}.id}}",
                    "route_response_key": quoted("$default"),
                },
            )
    stage: dict[str, Any] = {
        "api_id": f"${{{_API}.id}}",
        "name": quoted(config.stage),
        "auto_deploy": True,
    }
    if config.stage_variables:
        stage["stage_variables"] = _map(config.stage_variables)
    resource("aws_apigatewayv2_stage", "stage", stage)
    document: dict[str, Any] = {
        "terraform": [
            {
                "required_providers": [
                    {
                        "aws": {"source": quoted("hashicorp/aws"), "version": quoted(">= 5.0")},
                        "archive": {
                            "source": quoted("hashicorp/archive"),
                            "version": quoted(">= 2.4"),
                        },
                        _BLOCK: True,
                    }
                ],
                _BLOCK: True,
            }
        ],
        "data": data,
        "resource": resources,
        "output": [
            {
                quoted("websocket_url"): {
                    "value": "${aws_apigatewayv2_stage.stage.invoke_url}",
                    _BLOCK: True,
                }
            },
            {
                quoted("connections_url"): {
                    "description": quoted("The endpoint_url of the @connections API"),
                    "value": '${replace(aws_apigatewayv2_stage.stage.invoke_url, "wss://", "https://")}',
                    _BLOCK: True,
                }
            },
        ],
    }
    return _header(config) + write_hcl(document)


def _role(resource: Any) -> None:
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    resource(
        "aws_iam_role",
        "functions",
        {
            "name_prefix": quoted("apigw-ws-"),
            "assume_role_policy": f"${{jsonencode({_hcl(assume)})}}",
        },
    )
    resource(
        "aws_iam_role_policy_attachment",
        "logs",
        {
            "role": "${aws_iam_role.functions.name}",
            "policy_arn": quoted(
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ),
        },
    )
    manage = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": "${" + _API + ".execution_arn}/*",
            }
        ],
    }
    resource(
        "aws_iam_role_policy",
        "manage_connections",
        {"role": "${aws_iam_role.functions.id}", "policy": f"${{jsonencode({_hcl(manage)})}}"},
    )


def _function(
    resource: Any,
    data: list[dict[str, Any]],
    name: str,
    function: FunctionConfig,
    runtime: str,
    config: ApiConfig,
) -> None:
    code = function.code_uri.as_posix() if function.code_uri is not None else ""
    zipped = snake(code) or "code"  # one archive per code folder
    if not any(quoted(zipped) in item[quoted("archive_file")] for item in data):
        archive: dict[str, Any] = {
            "type": quoted("zip"),
            "source_dir": quoted("${path.module}" + (f"/{code}" if code else ""), template=True),
            "output_path": quoted(f"${{path.module}}/build/{zipped}.zip", template=True),
        }
        if not code:  # the config's own folder: not what Terraform writes there
            archive["excludes"] = [
                quoted("build"),
                quoted(".terraform"),
                quoted("terraform.tfstate"),
            ]
        data.append({quoted("archive_file"): {quoted(zipped): {**archive, _BLOCK: True}}})
    body: dict[str, Any] = {
        "function_name": quoted(f"${{aws_apigatewayv2_api.websocket.name}}-{name}", template=True),
        "filename": f"${{data.archive_file.{zipped}.output_path}}",
        "source_code_hash": f"${{data.archive_file.{zipped}.output_base64sha256}}",
        "handler": quoted(function.handler),
        "runtime": quoted(runtime),
        "role": "${aws_iam_role.functions.arn}",
        # The function's own timeout (how long API Gateway waits is the integration's).
        "timeout": function_timeout(function),
    }
    if function.memory_size != DEFAULT_MEMORY_SIZE:
        body["memory_size"] = function.memory_size
    if function.environment:
        variables = {
            quoted(key): terraform_value(value, config.resources)
            for key, value in function.environment.items()
        }
        body["environment"] = [{"variables": variables, _BLOCK: True}]
    resource("aws_lambda_function", name, body)
    resource(
        "aws_lambda_permission",
        name,
        {
            "action": quoted("lambda:InvokeFunction"),
            "function_name": f"${{aws_lambda_function.{name}.function_name}}",
            "principal": quoted("apigateway.amazonaws.com"),
            "source_arn": quoted(f"${{{_API}.execution_arn}}/*", template=True),
        },
    )


def _authorization(
    config: ApiConfig, resource: Any, data: list[dict[str, Any]], logical: str, runtime: str
) -> dict[str, Any]:
    """The $connect route's authorization settings; the authorizer's resources."""
    if config.authorizer is None:
        if config.authorization_type == "AWS_IAM":
            return {"authorization_type": quoted("AWS_IAM")}
        return {}
    authorizer = config.authorizer
    name = _name(logical)
    _function(resource, data, name, authorizer.function, runtime, config)
    body: dict[str, Any] = {
        "api_id": f"${{{_API}.id}}",
        "name": quoted("authorizer"),
        "authorizer_type": quoted("REQUEST"),
        "authorizer_uri": f"${{aws_lambda_function.{name}.invoke_arn}}",
    }
    if config.authorizer.identity_source:
        body["identity_sources"] = [quoted(s) for s in config.authorizer.identity_source]
    resource("aws_apigatewayv2_authorizer", "connect", body)
    return {
        "authorization_type": quoted("CUSTOM"),
        "authorizer_id": "${aws_apigatewayv2_authorizer.connect.id}",
    }


def _route(route: RouteConfig, name: str, authorization: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "api_id": f"${{{_API}.id}}",
        "route_key": quoted(route.route_key),
        "target": quoted(
            f"integrations/${{aws_apigatewayv2_integration.{name}.id}}", template=True
        ),
    }
    if route.route_key == "$connect":
        body.update(authorization)
        if route.request.api_key_required:
            body["api_key_required"] = True
    if route.route_response:
        body["route_response_selection_expression"] = quoted("$default")
    if route.request.request_parameters:
        body["request_parameter"] = [
            {"request_parameter_key": quoted(key), "required": required, _BLOCK: True}
            for key, required in route.request.request_parameters.items()
        ]
    return body


def _backend(resource: Any, name: str, integration: IntegrationConfig) -> None:
    body: dict[str, Any] = {
        "api_id": f"${{{_API}.id}}",
        "integration_type": quoted(integration.type.value),
    }
    if integration.uri is not None:
        body["integration_uri"] = quoted(integration.uri)
        body["integration_method"] = quoted(integration.method)
    body["timeout_milliseconds"] = timeout_ms(integration.timeout)
    if integration.request_parameters:
        body["request_parameters"] = _map(integration.request_parameters)
    if integration.request_templates:
        body["request_templates"] = _map(integration.request_templates)
    if integration.template_selection_expression is not None:
        body["template_selection_expression"] = quoted(
            integration.template_selection_expression.source
        )
    if integration.passthrough_behavior.value != "WHEN_NO_MATCH":  # AWS's default
        body["passthrough_behavior"] = quoted(integration.passthrough_behavior.value)
    if integration.content_handling is not None:
        body["content_handling_strategy"] = quoted(integration.content_handling.value)
    resource("aws_apigatewayv2_integration", name, body)
    for index, response in enumerate(integration.responses, start=1):
        entry: dict[str, Any] = {
            "api_id": f"${{{_API}.id}}",
            "integration_id": f"${{aws_apigatewayv2_integration.{name}.id}}",
            "integration_response_key": quoted(response.key),
        }
        if response.template_selection_expression is not None:
            entry["template_selection_expression"] = quoted(
                response.template_selection_expression.source
            )
        if response.response_templates:
            entry["response_templates"] = _map(response.response_templates)
        if response.content_handling is not None:
            entry["content_handling_strategy"] = quoted(response.content_handling.value)
        resource("aws_apigatewayv2_integration_response", f"{name}_{index}", entry)


# HCL values, in python-hcl2's dict form: strings with their quotes, expressions as ${...}


def _map(values: Any) -> dict[str, str]:
    return {quoted(str(key)): quoted(str(value)) for key, value in values.items()}


def _hcl(value: Any) -> str:
    """A JSON-like value as an HCL expression (for jsonencode)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quoted(k)} = {_hcl(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return quoted(str(value), template=True)  # this module's own values: ${...} is meant


def _name(logical_id: str) -> str:
    """``SendMessageFunction`` (the SAM export's name) → ``send_message``."""
    return snake(logical_id.removesuffix("Function")) or "function"


def _header(config: ApiConfig) -> str:
    lines = [
        f"# Generated by `apigw-ws export --format terraform` from {config.source}.",
        "# Code folders are relative to path.module: save this file beside that file.",
    ]
    if config.limits != Limits():
        lines.append("# Not exported: `limits` (AWS's own quotas apply once deployed).")
    if config.aws_endpoints:
        lines.append("# Not exported: `awsEndpoints` (AWS integrations call AWS once deployed).")
    if config.models:
        lines.append("# Not exported: `models` (requests are not validated once deployed).")
    if config.api_keys:
        lines.append("# Not exported: `apiKeys` (create the keys and usage plan separately).")
    return "\n".join(lines) + "\n\n"
