"""The ``routes`` section: each route's key, integration and request settings.

A route is a Lambda handler (short form ``KEY: module.function``, or a mapping
with ``handler:``), which makes the route's ``AWS_PROXY`` integration and its
function, or a mapping with an ``integration:`` (:mod:`.integrations`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.api import (
    MAX_ROUTES,
    PREDEFINED_ROUTES,
    Limits,
    ModelConfig,
    RouteConfig,
    RouteRequest,
)
from emulator.model.function import FunctionConfig
from emulator.model.integration import LambdaIntegration
from emulator.model.sections.checks import (
    check_keys,
    flag,
    handler_string,
    mapping,
    show,
    strings,
    suggest,
)
from emulator.model.sections.functions import Functions, own_environment
from emulator.model.sections.integrations import parse_integration, wait
from emulator.model.selection import compile_expression

__all__ = ["HANDLER_KEYS", "function_of", "handler_document", "parse_routes"]

# Route settings whatever the integration (spec §A.7, §A.8).
_REQUEST_KEYS = ("modelSelectionExpression", "requestModels", "requestParameters", "apiKeyRequired")
# A route's `handler:` (its implicit function's handler, folder and variables) and
# `timeout` (how long API Gateway waits for it).
HANDLER_KEYS = ("handler", "timeout", "environment", "codeUri")
_ROUTE_KEYS = (*HANDLER_KEYS[:1], "routeResponse", *HANDLER_KEYS[1:], *_REQUEST_KEYS)
_FUNCTION_ROUTE_KEYS = ("function", "routeResponse", "timeout", *_REQUEST_KEYS)
_INTEGRATION_ROUTE_KEYS = ("integration", "routeResponse", *_REQUEST_KEYS)
_ROUTE_PARAMETER = re.compile(r"route\.request\.(header|querystring)\.[a-zA-Z0-9._$-]+")


def parse_routes(
    data: object,
    common: Mapping[str, str],
    limits: Limits,
    models: Mapping[str, ModelConfig],
    functions: Functions,
) -> dict[str, RouteConfig]:
    document = mapping(data, "routes", "a mapping of route keys to handlers")
    if not document:
        raise ConfigError("must define at least one route", key="routes")
    if len(document) > MAX_ROUTES:
        problem = f"has {len(document)} routes, AWS allows at most {MAX_ROUTES} per API"
        raise ConfigError(problem, key="routes")
    routes: dict[str, RouteConfig] = {}
    for route_key, value in document.items():
        if not isinstance(route_key, str) or not route_key:
            problem = f"route keys must be non-empty strings, got {show(route_key)}"
            raise ConfigError(problem, key="routes")
        where = _route_location(route_key)
        if isinstance(value, Mapping) and "function" in value and "handler" not in value:
            check_keys(value, _FUNCTION_ROUTE_KEYS, where)
            function = functions.named(value["function"], f"{where}.function")
            timeout, own_timeout = wait(value, where, limits)
            routes[route_key] = RouteConfig(
                route_key,
                LambdaIntegration(function, timeout, own_timeout),
                _two_way(route_key, value, where),
                _route_request(route_key, value, where, models),
            )
        elif isinstance(value, Mapping) and "integration" in value and "handler" not in value:
            check_keys(value, _INTEGRATION_ROUTE_KEYS, where)
            integration = parse_integration(value["integration"], f"{where}.integration", limits)
            routes[route_key] = RouteConfig(
                route_key,
                integration,
                _two_way(route_key, value, where),
                _route_request(route_key, value, where, models),
            )
        else:
            routes[route_key] = _lambda_route(
                route_key, value, common, limits, where, models, functions
            )
    return routes


def _route_location(route_key: str) -> str:
    """``routes.KEY``, for a route key allowed in routes.yaml."""
    if route_key.startswith("$") and route_key not in PREDEFINED_ROUTES:
        # AWS: "do not use the $ prefix" for custom route keys (Developer Guide, "Routes").
        allowed = ", ".join(sorted(PREDEFINED_ROUTES))
        hint = suggest(route_key, PREDEFINED_ROUTES)
        problem = f"custom route keys must not start with '$' (only {allowed} do){hint}"
        raise ConfigError(problem, key=f"routes.{route_key}")
    return f"routes.{route_key}"


def handler_document(
    value: object, where: str, allowed: tuple[str, ...]
) -> Mapping[object, object]:
    """A handler route (or the authorizer) as a mapping, its keys checked."""
    if isinstance(value, str):
        value = {"handler": value}
    if not isinstance(value, Mapping):
        problem = "must be a handler string 'module.function' or a mapping with a 'handler' key"
        raise ConfigError(f"{problem}, got {show(value)}", key=where)
    for other in ("integration", "function"):
        if other in value and "handler" in value:
            problem = f"a 'handler' or a{'n' if other[0] == 'i' else ''} {other!r}, not both"
            raise ConfigError(
                f"{problem} (allowed keys: {', '.join(allowed)})", key=f"{where}.{other}"
            )
    check_keys(value, allowed, where)
    if "handler" not in value:
        raise ConfigError("missing the required key 'handler'", key=where)
    return value


def function_of(
    value: Mapping[object, object],
    written: object,
    common: Mapping[str, str],
    where: str,
    functions: Functions,
) -> FunctionConfig:
    """The implicit function of a ``handler:`` (``written`` as the document had it)."""
    short_form = isinstance(written, str)
    handler = handler_string(value["handler"], where if short_form else f"{where}.handler")
    variables = own_environment(value, common, where)
    return functions.implicit(handler, variables, value.get("codeUri"), where)


def _lambda_route(
    route_key: str,
    written: object,
    common: Mapping[str, str],
    limits: Limits,
    where: str,
    models: Mapping[str, ModelConfig],
    functions: Functions,
) -> RouteConfig:
    """A route whose integration is the Lambda proxy (``AWS_PROXY``) of its handler."""
    value = handler_document(written, where, _ROUTE_KEYS)
    function = function_of(value, written, common, where, functions)
    timeout, own_timeout = wait(value, where, limits)
    return RouteConfig(
        route_key,
        LambdaIntegration(function, timeout, own_timeout),
        _two_way(route_key, value, where),
        _route_request(route_key, value, where, models),
    )


def _two_way(route_key: str, value: Mapping[object, object], where: str) -> bool:
    two_way = flag(value.get("routeResponse", False), f"{where}.routeResponse")
    if two_way and route_key in ("$connect", "$disconnect"):
        # AWS never sends a $connect body to the client, and $disconnect has no client (spec §3.1).
        problem = f"{route_key} cannot be a two-way route: its response is never sent"
        raise ConfigError(problem, key=f"{where}.routeResponse")
    return two_way


def _route_request(
    route_key: str, value: Mapping[object, object], where: str, models: Mapping[str, ModelConfig]
) -> RouteRequest:
    if not any(key in value for key in _REQUEST_KEYS):
        return RouteRequest()
    expression = value.get("modelSelectionExpression")
    compiled = None
    if expression is not None:
        if not isinstance(expression, str):
            problem = "must be a selection expression such as '$request.body.action'"
            problem += f", got {show(expression)}"
            raise ConfigError(problem, key=f"{where}.modelSelectionExpression")
        try:
            compiled = compile_expression(expression)
        except ConfigError as exc:
            raise exc.at(f"{where}.modelSelectionExpression") from exc
    request_models = strings(value.get("requestModels"), f"{where}.requestModels")
    for selection_key, name in request_models.items():
        if name not in models:
            known = ", ".join(models) or "none"
            problem = f"names no model of 'models': {name!r} (models: {known})"
            raise ConfigError(problem, key=f"{where}.requestModels.{selection_key}")
    if request_models and compiled is None:
        # AWS: RequestModels are selected by the route's ModelSelectionExpression.
        problem = "needs a 'modelSelectionExpression' to choose among them"
        raise ConfigError(problem, key=f"{where}.requestModels")
    required = _route_parameters(value.get("requestParameters"), f"{where}.requestParameters")
    api_key_required = flag(value.get("apiKeyRequired", False), f"{where}.apiKeyRequired")
    if api_key_required and route_key != "$connect":
        # AWS: "You can optionally require an API key for an API's $connect route".
        problem = "only $connect can require an API key: it is checked when a client connects"
        raise ConfigError(problem, key=f"{where}.apiKeyRequired")
    return RouteRequest(
        compiled, MappingProxyType(request_models), MappingProxyType(required), api_key_required
    )


def _route_parameters(data: object, key: str) -> dict[str, bool]:
    """``route.request.querystring.token: {required: true}`` (or ``true``/``false``)."""
    if data is None:
        return {}
    document = mapping(data, key, "a mapping of route.request.header.NAME or querystring.NAME")
    parameters: dict[str, bool] = {}
    for name, spec in document.items():
        if not isinstance(name, str) or not _ROUTE_PARAMETER.fullmatch(name):
            problem = "names must be route.request.header.NAME or route.request.querystring.NAME"
            raise ConfigError(f"{problem}, got {show(name)}", key=key)
        if isinstance(spec, Mapping):
            check_keys(spec, ("required",), f"{key}.{name}")
            spec = spec.get("required", False)
        if not isinstance(spec, bool):
            problem = f"must be true, false or {{required: true}}, got {show(spec)}"
            raise ConfigError(problem, key=f"{key}.{name}")
        parameters[name] = spec
    return parameters
