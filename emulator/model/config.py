"""Loading and validating ``routes.yaml``, the declaration of one WebSocket API.

A pure module. The file's keys are camelCase, like the AWS resources they
stand for (``routeSelectionExpression``, ``routeResponse``); the values built
from them (:mod:`emulator.model.api`) are snake_case. Each section is read by
its module of :mod:`emulator.model.sections`; every problem is a
:class:`~emulator.errors.ConfigError` naming the key path, e.g.
``routes.yaml: routes.sendmessage.timeout: must be a number of seconds from
0.05 to 29, got 'x'``. Handler modules are not imported here: that happens at
start-up (:mod:`emulator.runtime.loader`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.api import (
    API_KEY_HEADER_SELECTION,
    API_KEY_SELECTION_EXPRESSIONS,
    DEFAULT_ROUTE_SELECTION_EXPRESSION,
    ApiConfig,
    Limits,
    RouteConfig,
)
from emulator.model.sections.access import (
    parse_api_keys,
    parse_authorization_type,
    parse_authorizer,
    parse_credentials,
)
from emulator.model.sections.checks import (
    MAX_WAIT,
    MIN_WAIT,
    check_keys,
    environment,
    flag,
    mapping,
    seconds,
    show,
    strings,
    whole_bytes,
)
from emulator.model.sections.functions import Functions, check_environment
from emulator.model.sections.models import parse_models
from emulator.model.sections.resources import check_references, parse_resources
from emulator.model.sections.routes import parse_routes
from emulator.model.selection import compile_expression
from emulator.model.yaml_files import read_config_yaml

__all__ = ["load_config", "parse_config", "with_credentials", "with_limits"]

_TOP_KEYS = (
    "routes",
    "routeSelectionExpression",
    "stage",
    "environment",
    "functions",
    "limits",
    "authorizer",
    "authorizationType",
    "iamCredentials",
    "stageVariables",
    "models",
    "apiKeys",
    "apiKeySelectionExpression",
    "awsEndpoints",
    "apiId",
    "region",
    "resources",
    "mockAws",
)
_LIMIT_FIELDS = {  # camelCase at the edge, snake_case inside
    "idleTimeout": "idle_timeout",
    "maxConnectionDuration": "max_connection_duration",
    "integrationTimeout": "integration_timeout",
    "frameSize": "frame_size",
    "messageSize": "message_size",
    "concurrency": "concurrency",
}
# AWS: stage names use [A-Za-z0-9_-], at most 128 characters (Developer Guide, known issues).
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_STAGE_VARIABLE = re.compile(r"[A-Za-z0-9_]+")
# AWS: API ids are 10 lower-case letters and digits; regions read like eu-west-1.
API_ID = re.compile(r"[a-z0-9]{10}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def load_config(path: str | os.PathLike[str]) -> ApiConfig:
    """Read and validate a routes file; handler modules resolve relative to its folder."""
    data = read_config_yaml(path)
    return parse_config(data, base_dir=Path(path).absolute().parent, source=os.fspath(path))


def parse_config(
    data: object, *, base_dir: Path = Path("."), source: str = "<inline>"
) -> ApiConfig:
    """Validate an already-loaded document (a file's content or an inline dict)."""
    try:
        return _parse(data, base_dir, source)
    except ConfigError as exc:
        raise exc.at("", source) from exc.__cause__


def _parse(data: object, base_dir: Path, source: str) -> ApiConfig:
    if data is None:
        raise ConfigError("the document is empty; expected a mapping with a 'routes' key")
    if not isinstance(data, Mapping):
        problem = f"the document must be a mapping with a 'routes' key, got {show(data)}"
        raise ConfigError(problem)
    document: Mapping[object, object] = data
    check_keys(document, _TOP_KEYS, "")
    if document.get("routes") is None:
        raise ConfigError("is required: a mapping of route keys to handlers", key="routes")
    stage = document.get("stage", "local")
    if not isinstance(stage, str) or not _STAGE.fullmatch(stage):
        raise ConfigError(f"must be 1 to 128 of A-Z a-z 0-9 _ -, got {show(stage)}", key="stage")
    common = MappingProxyType(
        environment(document.get("environment"), "environment", references=True)
    )
    check_environment(common, "environment")
    resources = parse_resources(document.get("resources"))
    check_references(common, resources, "environment")
    limits = _limits(document.get("limits"))
    expression = document.get("routeSelectionExpression", DEFAULT_ROUTE_SELECTION_EXPRESSION)
    if not isinstance(expression, str):
        problem = f"must be a string such as {DEFAULT_ROUTE_SELECTION_EXPRESSION!r}"
        raise ConfigError(f"{problem}, got {show(expression)}", key="routeSelectionExpression")
    try:
        compiled = compile_expression(expression)
    except ConfigError as exc:  # SelectionExpressionError
        raise exc.at("routeSelectionExpression") from exc
    functions = Functions()
    functions.declare(document.get("functions"), common)
    authorizer = None
    if document.get("authorizer") is not None:
        authorizer = parse_authorizer(document["authorizer"], common, limits, functions)
    authorization_type = parse_authorization_type(document.get("authorizationType"), authorizer)
    models = parse_models(document.get("models"))
    routes = parse_routes(document["routes"], common, limits, models, functions)
    api_keys = parse_api_keys(document.get("apiKeys"))
    for function in functions.by_name.values():
        check_references(function.environment, resources, f"{function.where}.environment")
    key_expression = document.get("apiKeySelectionExpression", API_KEY_HEADER_SELECTION)
    if key_expression not in API_KEY_SELECTION_EXPRESSIONS:
        problem = f"must be one of {', '.join(API_KEY_SELECTION_EXPRESSIONS)}"
        raise ConfigError(f"{problem}, got {show(key_expression)}", key="apiKeySelectionExpression")
    return ApiConfig(
        routes=MappingProxyType(routes),
        api_id=_pattern(
            document.get("apiId"), API_ID, "apiId", "10 of a-z 0-9, such as 'a1b2c3d4e5'"
        ),
        region=_pattern(document.get("region"), REGION, "region", "a region such as 'eu-west-1'"),
        route_selection_expression=compiled,
        stage=stage,
        environment=common,
        limits=limits,
        base_dir=base_dir,
        source=source,
        functions=MappingProxyType(functions.by_name),
        authorization_type=authorization_type,
        authorizer=authorizer,
        iam_credentials=MappingProxyType(
            parse_credentials(document.get("iamCredentials"), "iamCredentials")
        ),
        stage_variables=MappingProxyType(_stage_variables(document.get("stageVariables"))),
        models=MappingProxyType(models),
        api_keys=api_keys,
        api_key_selection_expression=str(key_expression),
        aws_endpoints=MappingProxyType(_aws_endpoints(document.get("awsEndpoints"))),
        resources=MappingProxyType(resources),
        mock_aws=flag(document.get("mockAws", False), "mockAws"),
    )


def with_limits(config: ApiConfig, overrides: Mapping[str, object]) -> ApiConfig:
    """``config`` with some limits replaced, e.g. from the command line.

    ``overrides`` uses the file's names (``idleTimeout``...) and is validated
    like the file's ``limits``; integrations without their own ``timeout``
    (and the authorizer) follow a new ``integrationTimeout``.
    """
    if not overrides:
        return config
    current = {name: getattr(config.limits, inside) for name, inside in _LIMIT_FIELDS.items()}
    try:
        limits = _limits({**current, **overrides})
    except ConfigError as exc:
        raise exc.at("", "command line") from exc.__cause__
    wait = limits.integration_timeout

    def follow(route: RouteConfig) -> RouteConfig:
        integration = route.integration
        if integration.own_timeout is not None:
            return route
        return replace(route, integration=replace(integration, timeout=wait))

    routes = MappingProxyType({key: follow(route) for key, route in config.routes.items()})
    authorizer = config.authorizer
    if authorizer is not None and authorizer.own_timeout is None:
        authorizer = replace(authorizer, timeout=wait)
    return replace(config, limits=limits, routes=routes, authorizer=authorizer)


def with_credentials(config: ApiConfig, credentials: Mapping[str, str]) -> ApiConfig:
    """``config`` also accepting ``credentials`` (access key ids to secrets), e.g.
    from the command line: for ``AWS_IAM`` on ``$connect`` and the HTTP APIs."""
    if not credentials:
        return config
    merged = MappingProxyType({**config.iam_credentials, **credentials})
    return replace(config, iam_credentials=merged)


def _limits(data: object) -> Limits:
    if data is None:
        return Limits()
    document = mapping(data, "limits", "a mapping")
    check_keys(document, _LIMIT_FIELDS, "limits")
    values: dict[str, Any] = {}  # float seconds or int bytes, per field
    for name, value in document.items():
        key, name_inside = f"limits.{name}", _LIMIT_FIELDS[str(name)]
        if name_inside.endswith("_size"):
            values[name_inside] = whole_bytes(value, key)
        elif name_inside == "concurrency":
            values[name_inside] = _concurrency(value, key)
        elif name_inside == "integration_timeout":
            values[name_inside] = seconds(value, key, MIN_WAIT, MAX_WAIT)
        else:
            values[name_inside] = seconds(value, key)
    return replace(Limits(), **values)


def _concurrency(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problem = "must be a whole number of concurrent invocations, at least 1"
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    return value


def _pattern(value: object, pattern: re.Pattern[str], key: str, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"must be {what}, got {show(value)}", key=key)
    return value


def _stage_variables(data: object) -> dict[str, str]:
    variables = environment(data, "stageVariables")
    for name in variables:
        if not _STAGE_VARIABLE.fullmatch(name):
            problem = f"stage variable names use A-Z a-z 0-9 _ only (AWS), got {name!r}"
            raise ConfigError(problem, key="stageVariables")
    return variables


def _aws_endpoints(data: object) -> dict[str, str]:
    endpoints = strings(data, "awsEndpoints")
    for service, url in endpoints.items():
        if not url.startswith(("http://", "https://")):
            problem = f"must be an http:// or https:// URL, got {url!r}"
            raise ConfigError(problem, key=f"awsEndpoints.{service}")
    return endpoints
