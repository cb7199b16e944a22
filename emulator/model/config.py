"""Loading and validating ``routes.yaml``, the declaration of one WebSocket API.

A pure module and the only one that imports :mod:`yaml`. The file's keys are
camelCase, like the AWS resources they stand for (``routeSelectionExpression``,
``routeResponse``); the dataclasses built from them are snake_case. Every problem
is a :class:`~emulator.errors.ConfigError` naming the key path, e.g.
``routes.yaml: routes.sendmessage.timeout: must be a number of seconds from 0.05
to 29, got 'x'``. Handler modules are not imported here: that happens at start-up.

It also reads and writes the YAML of infrastructure templates for
:mod:`emulator.model.templates` and :mod:`emulator.tools.export` (:func:`read_template_yaml`,
:func:`dump_yaml`), so that this stays the one module importing :mod:`yaml`.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import json
import keyword
import math
import os
import re
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

from emulator.errors import ConfigError
from emulator.gateway.access.authorizer import parse_identity_sources
from emulator.gateway.integrations.mapping import mapping_problem
from emulator.model.selection import SelectionExpression, compile_expression
from emulator.model.settings import (
    API_KEY_HEADER_SELECTION,
    API_KEY_SELECTION_EXPRESSIONS,
    ApiKeyConfig,
    ContentHandling,
    IntegrationConfig,
    IntegrationResponseConfig,
    IntegrationRoute,
    IntegrationType,
    ModelConfig,
    PassthroughBehavior,
    RouteRequest,
)
from emulator.model.template_selection import TemplateSelection, compile_template_selection

__all__ = [
    "AUTHORIZATION_TYPES",
    "DEFAULT_ROUTE_SELECTION_EXPRESSION",
    "MAX_ROUTES",
    "PREDEFINED_ROUTES",
    "ApiConfig",
    "ApiKeyConfig",
    "AuthorizerConfig",
    "IntegrationConfig",
    "IntegrationResponseConfig",
    "IntegrationRoute",
    "Limits",
    "ModelConfig",
    "RouteConfig",
    "RouteRequest",
    "dump_yaml",
    "load_config",
    "parse_config",
    "read_template_yaml",
    "with_limits",
]

# The Serverless Framework's default; the AWS API itself requires the property.
DEFAULT_ROUTE_SELECTION_EXPRESSION = "$request.body.action"
PREDEFINED_ROUTES = frozenset({"$connect", "$disconnect", "$default"})
# AWS quota "Routes per API" (Developer Guide, "Quotas for configuring and running a WebSocket").
MAX_ROUTES = 300
# AWS: TimeoutInMillis is 50-29000 for WebSocket APIs (botocore apigatewayv2 CreateIntegration).
_MIN_TIMEOUT, _MAX_TIMEOUT = 0.05, 29.0

_TOP_KEYS = (
    "routes",
    "routeSelectionExpression",
    "stage",
    "environment",
    "limits",
    "authorizer",
    "authorizationType",
    "iamCredentials",
    "stageVariables",
    "models",
    "apiKeys",
    "apiKeySelectionExpression",
    "awsEndpoints",
)
_AUTHORIZER_KEYS = ("handler", "identitySource", "timeout", "environment", "codeUri")
# AWS: the authorization of $connect (botocore apigatewayv2 AuthorizationType).
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM")
# Route settings whatever the integration (spec §A.7, §A.8).
_REQUEST_KEYS = ("modelSelectionExpression", "requestModels", "requestParameters", "apiKeyRequired")
_ROUTE_KEYS = ("handler", "routeResponse", "timeout", "environment", "codeUri", *_REQUEST_KEYS)
_INTEGRATION_ROUTE_KEYS = ("integration", "routeResponse", *_REQUEST_KEYS)
_INTEGRATION_KEYS = (
    "type",
    "uri",
    "method",
    "requestParameters",
    "requestTemplates",
    "templateSelectionExpression",
    "passthroughBehavior",
    "contentHandlingStrategy",
    "timeout",
    "responses",
)
_RESPONSE_KEYS = (
    "key",
    "templateSelectionExpression",
    "responseTemplates",
    "contentHandlingStrategy",
)
_MODEL_KEYS = ("schema", "contentType")
_API_KEY_KEYS = ("value", "id", "name", "enabled", "stages")
# AWS: model names are alphanumeric (botocore apigatewayv2 CreateModel).
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
_STAGE_VARIABLE = re.compile(r"[A-Za-z0-9_]+")
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_ROUTE_PARAMETER = re.compile(r"route\.request\.(header|querystring)\.[a-zA-Z0-9._$-]+")
_LIMIT_FIELDS = {  # camelCase at the edge, snake_case inside
    "idleTimeout": "idle_timeout",
    "maxConnectionDuration": "max_connection_duration",
    "integrationTimeout": "integration_timeout",
    "frameSize": "frame_size",
    "messageSize": "message_size",
}
# AWS: stage names use [A-Za-z0-9_-], at most 128 characters (Developer Guide, known issues).
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
# What os.environ accepts as a name: not empty, no '=', no NUL.
_ENV_NAME = re.compile(r"[^=\x00]+")


@dataclass(frozen=True)
class Limits:
    """AWS's WebSocket quotas (spec §5); seconds and bytes, shrinkable for tests."""

    idle_timeout: float = 600.0
    max_connection_duration: float = 7200.0
    integration_timeout: float = 29.0
    frame_size: int = 32768
    message_size: int = 131072


@dataclass(frozen=True)
class RouteConfig:
    """One route: its key, its Lambda handler and how its result is treated.

    ``code_uri`` is the folder the handler's module is imported from, as
    written in the file (relative to the config's folder, ``ApiConfig.base_dir``);
    ``None`` means the config's folder itself.
    """

    route_key: str
    handler: str
    route_response: bool
    timeout: float
    environment: Mapping[str, str]
    code_uri: Path | None = None
    # The route's own `timeout`, if it has one (else limits.integrationTimeout
    # applies): where `timeout` came from, not a different route.
    own_timeout: float | None = field(default=None, compare=False)
    # Request validation, required parameters and the API key (spec §A.7, §A.8).
    request: RouteRequest = field(default_factory=RouteRequest)

    @property
    def module(self) -> str:
        """The handler's module, ``handlers.chat`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[0]

    @property
    def function(self) -> str:
        """The handler's function, ``on_connect`` for ``handlers.chat.on_connect``."""
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class ApiConfig:
    """A validated API: routes in file order and what applies to all of them."""

    routes: Mapping[str, RouteConfig]
    route_selection_expression: SelectionExpression
    stage: str = "local"
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    limits: Limits = Limits()
    base_dir: Path = Path(".")
    source: str = "routes.yaml"
    # How $connect is authorized: NONE, AWS_IAM (SigV4) or CUSTOM (the authorizer).
    authorization_type: str = "NONE"
    authorizer: AuthorizerConfig | None = None
    # AWS_IAM: access key id -> secret key; empty means the process environment's.
    iam_credentials: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Routes whose integration is not a Lambda handler (HTTP_PROXY, HTTP, AWS, MOCK).
    integrations: Mapping[str, IntegrationRoute] = field(
        default_factory=lambda: MappingProxyType({})
    )
    stage_variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    models: Mapping[str, ModelConfig] = field(default_factory=lambda: MappingProxyType({}))
    api_keys: tuple[ApiKeyConfig, ...] = ()
    api_key_selection_expression: str = API_KEY_HEADER_SELECTION
    # AWS integrations: service name (sqs, kinesis...) -> the endpoint URL called locally.
    aws_endpoints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def route_keys(self) -> tuple[str, ...]:
        """Every route key: Lambda routes, then integration routes."""
        return (*self.routes, *self.integrations)

    def route_request(self, route_key: str) -> RouteRequest | None:
        """The request settings of a route of either kind; None for an unknown key."""
        route = self.routes.get(route_key)
        if route is not None:
            return route.request
        integration = self.integrations.get(route_key)
        return integration.request if integration is not None else None


@dataclass(frozen=True)
class AuthorizerConfig:
    """A Lambda REQUEST authorizer on $connect (spec §6)."""

    function: RouteConfig  # its handler, timeout and environment
    identity_source: tuple[str, ...] = ()


def load_config(path: str | os.PathLike[str]) -> ApiConfig:
    """Read and validate a routes file; handler modules resolve relative to its folder."""
    data = _read_yaml(path, _StrictLoader)
    return parse_config(data, base_dir=Path(path).absolute().parent, source=os.fspath(path))


def read_template_yaml(path: str | os.PathLike[str]) -> object:
    """Read an infrastructure template written in YAML (SAM, CloudFormation, serverless.yml).

    CloudFormation's short forms load as their long forms: ``!Ref X`` as
    ``{"Ref": "X"}``, ``!GetAtt A.B`` as ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s``
    as ``{"Fn::Sub": "s"}``, ``!Condition C`` as ``{"Condition": "C"}``. Nothing
    is resolved here. Errors are :class:`ConfigError` naming the file, as for
    :func:`load_config`.
    """
    return _read_yaml(path, _TemplateLoader)


def dump_yaml(document: object, *, short_forms: bool = False) -> str:
    """YAML text for plain dicts, lists and scalars, in insertion order.

    Block style, lists indented under their key, no anchors or aliases, long
    strings never folded; strings YAML would read as something else
    (``'yes'``, ``'2010-09-09'``) are quoted. With ``short_forms``, intrinsic
    functions are written as CloudFormation's tags: ``{"Ref": "X"}`` as
    ``!Ref X``, ``{"Fn::GetAtt": ["A", "B"]}`` as ``!GetAtt A.B``.
    """
    return yaml.dump(
        document,
        Dumper=_ShortFormDumper if short_forms else _TemplateDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )


def _read_yaml(path: str | os.PathLike[str], loader: type[_StrictLoader]) -> object:
    source = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"cannot read the file ({reason})", source=source) from exc
    try:
        return yaml.load(raw, Loader=loader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"invalid YAML{where}: {problem}", source=source) from exc
    except yaml.reader.ReaderError as exc:  # YAML files are UTF-8 or UTF-16 text
        problem = f"is not UTF-8 or UTF-16 text: {exc.reason} at byte {exc.position}"
        raise ConfigError(problem, source=source) from exc


def parse_config(
    data: object, *, base_dir: Path = Path("."), source: str = "<inline>"
) -> ApiConfig:
    """Validate an already-loaded document (a file's content or an inline dict)."""
    try:
        return _parse(data, base_dir, source)
    except ConfigError as exc:
        raise exc.at("", source) from exc.__cause__


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping: PyYAML would silently keep the last."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of dropping all but the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a merged key is allowed
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in first_line:
                problem = f"duplicate key {key!r} (first defined at line {first_line[key]})"
                raise _DuplicateKeyError(problem=problem, problem_mark=key_node.start_mark)
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


# CloudFormation's YAML short forms and the long form each stands for
# (CloudFormation User Guide, "Intrinsic function reference").
_SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If",
            "ImportValue", "Join", "Length", "Not", "Or", "Select", "Split", "Sub",
            "ToJsonString", "Transform",
        )
    },
}  # fmt: skip


class _TemplateLoader(_StrictLoader):
    """The strict loader, plus CloudFormation's ``!Tag`` short forms."""


def _construct_short_form(loader: _StrictLoader, suffix: str, node: yaml.Node) -> object:
    name = _SHORT_FORMS.get(suffix)
    if name is None:
        known = ", ".join(f"!{tag}" for tag in sorted(_SHORT_FORMS))
        raise yaml.constructor.ConstructorError(
            problem=f"unknown tag '!{suffix}' (CloudFormation's are {known})",
            problem_mark=node.start_mark,
        )
    value: object
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            # AWS: "!GetAtt logicalName.attributeName"; the attribute may hold dots.
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # the three kinds of YAML node
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_short_form)
# Dates stay strings: `AWSTemplateFormatVersion: 2010-09-09`, or an environment
# variable's value, is text to CloudFormation, not a datetime.date.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _StrictLoader.yaml_implicit_resolvers.items()
}


class _TemplateDumper(yaml.SafeDumper):
    """Block-style YAML without aliases, lists indented under their key."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _ShortFormDumper(_TemplateDumper):
    """Writes ``{"Fn::Sub": ...}`` as ``!Sub ...``: the inverse of :class:`_TemplateLoader`."""

    def choose_scalar_style(self) -> str:
        # `!Ref Api`, not `!Ref 'Api'`: an explicit tag means no implicit typing,
        # so any text that may be plain can stay plain.
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and (event.tag or "").startswith("!"):
            analysis = self.analysis = self.analysis or self.analyze_scalar(event.value)
            if not event.style and analysis.allow_block_plain and not analysis.empty:
                return ""
        return str(super().choose_scalar_style())


def _represent_mapping(dumper: _TemplateDumper, data: dict[Any, Any]) -> yaml.Node:
    if len(data) == 1:
        ((key, value),) = data.items()
        name = key.removeprefix("Fn::") if isinstance(key, str) else None
        if name in _SHORT_FORMS and _SHORT_FORMS[name] == key:
            tag = f"!{name}"
            if (
                name == "GetAtt"
                and isinstance(value, list)
                and all(isinstance(v, str) for v in value)
            ):
                value = ".".join(value)
            if isinstance(value, list):
                return dumper.represent_sequence(tag, value)
            if isinstance(value, dict):
                return dumper.represent_mapping(tag, value)
            return dumper.represent_scalar(tag, str(value))
    return dumper.represent_dict(data)


_ShortFormDumper.add_representer(dict, _represent_mapping)


def _parse(data: object, base_dir: Path, source: str) -> ApiConfig:
    if data is None:
        raise ConfigError("the document is empty; expected a mapping with a 'routes' key")
    if not isinstance(data, Mapping):
        problem = f"the document must be a mapping with a 'routes' key, got {_show(data)}"
        raise ConfigError(problem)
    document: Mapping[object, object] = data
    _check_keys(document, _TOP_KEYS, "")
    if document.get("routes") is None:
        raise ConfigError("is required: a mapping of route keys to handlers", key="routes")
    stage = document.get("stage", "local")
    if not isinstance(stage, str) or not _STAGE.fullmatch(stage):
        raise ConfigError(f"must be 1 to 128 of A-Z a-z 0-9 _ -, got {_show(stage)}", key="stage")
    environment = MappingProxyType(_environment(document.get("environment"), "environment"))
    limits = _limits(document.get("limits"))
    expression = document.get("routeSelectionExpression", DEFAULT_ROUTE_SELECTION_EXPRESSION)
    if not isinstance(expression, str):
        problem = f"must be a string such as {DEFAULT_ROUTE_SELECTION_EXPRESSION!r}"
        raise ConfigError(f"{problem}, got {_show(expression)}", key="routeSelectionExpression")
    try:
        compiled = compile_expression(expression)
    except ConfigError as exc:  # SelectionExpressionError
        raise exc.at("routeSelectionExpression") from exc
    authorizer = None
    if document.get("authorizer") is not None:
        authorizer = _authorizer(document["authorizer"], environment, limits)
    authorization_type = _authorization_type(document.get("authorizationType"), authorizer)
    models = _models(document.get("models"))
    routes, integrations = _routes(document["routes"], environment, limits, models)
    api_keys = _api_keys(document.get("apiKeys"))
    key_expression = document.get("apiKeySelectionExpression", API_KEY_HEADER_SELECTION)
    if key_expression not in API_KEY_SELECTION_EXPRESSIONS:
        problem = f"must be one of {', '.join(API_KEY_SELECTION_EXPRESSIONS)}"
        raise ConfigError(
            f"{problem}, got {_show(key_expression)}", key="apiKeySelectionExpression"
        )
    return ApiConfig(
        routes=MappingProxyType(routes),
        integrations=MappingProxyType(integrations),
        route_selection_expression=compiled,
        stage=stage,
        environment=environment,
        limits=limits,
        base_dir=base_dir,
        source=source,
        authorization_type=authorization_type,
        authorizer=authorizer,
        iam_credentials=MappingProxyType(
            _credentials(document.get("iamCredentials"), "iamCredentials")
        ),
        stage_variables=MappingProxyType(_stage_variables(document.get("stageVariables"))),
        models=MappingProxyType(models),
        api_keys=api_keys,
        api_key_selection_expression=str(key_expression),
        aws_endpoints=MappingProxyType(_aws_endpoints(document.get("awsEndpoints"))),
    )


def _authorizer(data: object, environment: Mapping[str, str], limits: Limits) -> AuthorizerConfig:
    mapping = _mapping(data, "authorizer", "a mapping with a 'handler' key")
    _check_keys(mapping, _AUTHORIZER_KEYS, "authorizer")
    function = {key: value for key, value in mapping.items() if key != "identitySource"}
    route = _route("$authorizer", function, environment, limits, where="authorizer")
    sources = mapping.get("identitySource") or []
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list):
        problem = "must be a list such as ['route.request.header.Authorization']"
        raise ConfigError(f"{problem}, got {_show(sources)}", key="authorizer.identitySource")
    try:
        parse_identity_sources(sources)
    except ConfigError as exc:
        raise exc.at("authorizer.identitySource") from exc
    return AuthorizerConfig(route, tuple(sources))


def _authorization_type(value: object, authorizer: AuthorizerConfig | None) -> str:
    key = "authorizationType"
    if value is None:
        return "CUSTOM" if authorizer is not None else "NONE"
    if value not in AUTHORIZATION_TYPES:
        problem = f"must be one of {', '.join(AUTHORIZATION_TYPES)}, got {_show(value)}"
        raise ConfigError(problem, key=key)
    if value == "CUSTOM" and authorizer is None:
        raise ConfigError("CUSTOM needs an 'authorizer' section", key=key)
    if value != "CUSTOM" and authorizer is not None:
        # AWS: one authorization type per route; the authorizer means CUSTOM.
        raise ConfigError(f"{value} cannot be used with an 'authorizer' section", key=key)
    return str(value)


def _credentials(data: object, key: str) -> dict[str, str]:
    if data is None:
        return {}
    mapping = _mapping(data, key, "a mapping of access key ids to secret keys")
    credentials = {}
    for access_key, secret in mapping.items():
        if not isinstance(access_key, str) or not isinstance(secret, str) or not secret:
            problem = "must map access key ids to secret keys (strings)"
            raise ConfigError(f"{problem}, got {_show(access_key)}: {_show(secret)}", key=key)
        credentials[access_key] = secret
    return credentials


def _routes(
    data: object,
    environment: Mapping[str, str],
    limits: Limits,
    models: Mapping[str, ModelConfig],
) -> tuple[dict[str, RouteConfig], dict[str, IntegrationRoute]]:
    mapping = _mapping(data, "routes", "a mapping of route keys to handlers")
    if not mapping:
        raise ConfigError("must define at least one route", key="routes")
    if len(mapping) > MAX_ROUTES:
        problem = f"has {len(mapping)} routes, AWS allows at most {MAX_ROUTES} per API"
        raise ConfigError(problem, key="routes")
    routes: dict[str, RouteConfig] = {}
    integrations: dict[str, IntegrationRoute] = {}
    for route_key, value in mapping.items():
        if not isinstance(route_key, str) or not route_key:
            problem = f"route keys must be non-empty strings, got {_show(route_key)}"
            raise ConfigError(problem, key="routes")
        where = _route_location(route_key)
        if isinstance(value, Mapping) and "integration" in value and "handler" not in value:
            integrations[route_key] = _integration_route(route_key, value, where, limits, models)
        else:
            routes[route_key] = _route(route_key, value, environment, limits, where, models)
    return routes, integrations


def _route_location(route_key: str) -> str:
    """``routes.KEY``, for a route key allowed in routes.yaml."""
    if route_key.startswith("$") and route_key not in PREDEFINED_ROUTES:
        # AWS: "do not use the $ prefix" for custom route keys (Developer Guide, "Routes").
        allowed = ", ".join(sorted(PREDEFINED_ROUTES))
        hint = _suggest(route_key, PREDEFINED_ROUTES)
        problem = f"custom route keys must not start with '$' (only {allowed} do){hint}"
        raise ConfigError(problem, key=f"routes.{route_key}")
    return f"routes.{route_key}"


def _route(
    route_key: str,
    value: object,
    environment: Mapping[str, str],
    limits: Limits,
    where: str,
    models: Mapping[str, ModelConfig] | None = None,
) -> RouteConfig:
    """A Lambda route at ``where``; ``models`` None for the authorizer's function."""
    short_form = isinstance(value, str)
    if short_form:
        value = {"handler": value}
    if not isinstance(value, Mapping):
        problem = "must be a handler string 'module.function' or a mapping with a 'handler' key"
        raise ConfigError(f"{problem}, got {_show(value)}", key=where)
    if "integration" in value and "handler" in value:
        problem = (
            f"a 'handler' or an 'integration', not both (allowed keys: {', '.join(_ROUTE_KEYS)})"
        )
        raise ConfigError(problem, key=f"{where}.integration")
    if models is None:  # the authorizer: none of the route settings apply
        _check_keys(value, _ROUTE_KEYS[: -len(_REQUEST_KEYS)], where)
    _check_keys(value, _ROUTE_KEYS, where)
    if "handler" not in value:
        raise ConfigError("missing the required key 'handler'", key=where)
    handler = _handler(value["handler"], where if short_form else f"{where}.handler")
    two_way = _two_way(route_key, value, where)
    timeout, own_timeout = _timeout(value, where, limits)
    own = _environment(value.get("environment"), f"{where}.environment")
    merged = MappingProxyType({**environment, **own}) if own else environment
    code_uri = _code_uri(value.get("codeUri"), f"{where}.codeUri")
    request = _route_request(route_key, value, where, models or {})
    return RouteConfig(
        route_key, handler, two_way, timeout, merged, code_uri, own_timeout, request=request
    )


def _timeout(
    value: Mapping[object, object], where: str, limits: Limits
) -> tuple[float, float | None]:
    """The integration timeout, and the route's own one: None follows ``limits``."""
    if "timeout" not in value:
        return limits.integration_timeout, None
    timeout = _seconds(value["timeout"], f"{where}.timeout", _MIN_TIMEOUT, _MAX_TIMEOUT)
    return timeout, timeout


def _two_way(route_key: str, value: Mapping[object, object], where: str) -> bool:
    two_way = value.get("routeResponse", False)
    if not isinstance(two_way, bool):
        problem = f"must be true or false, got {_show(two_way)}"
        raise ConfigError(problem, key=f"{where}.routeResponse")
    if two_way and route_key in ("$connect", "$disconnect"):
        # AWS never sends a $connect body to the client, and $disconnect has no client (spec §3.1).
        problem = f"{route_key} cannot be a two-way route: its response is never sent"
        raise ConfigError(problem, key=f"{where}.routeResponse")
    return two_way


def _integration_route(
    route_key: str,
    value: Mapping[object, object],
    where: str,
    limits: Limits,
    models: Mapping[str, ModelConfig],
) -> IntegrationRoute:
    _check_keys(value, _INTEGRATION_ROUTE_KEYS, where)
    integration = _integration(value["integration"], f"{where}.integration", limits)
    return IntegrationRoute(
        route_key,
        integration,
        _two_way(route_key, value, where),
        _route_request(route_key, value, where, models),
    )


def _integration(data: object, where: str, limits: Limits) -> IntegrationConfig:
    mapping = _mapping(data, where, "a mapping with a 'type' key")
    _check_keys(mapping, _INTEGRATION_KEYS, where)
    kind = _choice(mapping.get("type"), IntegrationType, f"{where}.type", required=True)
    assert kind is not None
    uri = mapping.get("uri")
    if kind is IntegrationType.MOCK:
        if uri is not None:
            raise ConfigError(
                "a MOCK integration calls no backend: remove 'uri'", key=f"{where}.uri"
            )
    elif not isinstance(uri, str) or not uri:
        raise ConfigError(f"is required for {kind.value}, got {_show(uri)}", key=f"{where}.uri")
    elif kind is IntegrationType.AWS and not uri.startswith("arn:"):
        problem = "must be an AWS service URI such as 'arn:aws:apigateway:us-east-1:sqs:path/"
        raise ConfigError(f"{problem}000000000000/queue', got {uri!r}", key=f"{where}.uri")
    elif kind is not IntegrationType.AWS and not uri.startswith(("http://", "https://")):
        problem = f"must be an http:// or https:// URL, got {uri!r}"
        raise ConfigError(problem, key=f"{where}.uri")
    method = mapping.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in _HTTP_METHODS:
        problem = f"must be one of {', '.join(_HTTP_METHODS)}, got {_show(method)}"
        raise ConfigError(problem, key=f"{where}.method")
    parameters = _strings(mapping.get("requestParameters"), f"{where}.requestParameters")
    for destination, source in parameters.items():
        invalid = mapping_problem(destination, source)
        if invalid is not None:
            raise ConfigError(invalid, key=f"{where}.requestParameters.{destination}")
    timeout, own_timeout = _timeout(mapping, where, limits)
    responses = mapping.get("responses")
    if responses is None:
        responses = []
    if not isinstance(responses, list):
        problem = "must be a list of integration responses, each with a 'key'"
        raise ConfigError(f"{problem}, got {_show(responses)}", key=f"{where}.responses")
    passthrough = _choice(
        mapping.get("passthroughBehavior"), PassthroughBehavior, f"{where}.passthroughBehavior"
    )
    return IntegrationConfig(
        type=kind,
        uri=uri if isinstance(uri, str) else None,
        method=method.upper(),
        timeout=timeout,
        request_parameters=MappingProxyType(parameters),
        request_templates=MappingProxyType(
            _templates(mapping.get("requestTemplates"), f"{where}.requestTemplates")
        ),
        template_selection_expression=_template_selection(
            mapping.get("templateSelectionExpression"), f"{where}.templateSelectionExpression"
        ),
        passthrough_behavior=passthrough or PassthroughBehavior.WHEN_NO_MATCH,
        content_handling=_choice(
            mapping.get("contentHandlingStrategy"),
            ContentHandling,
            f"{where}.contentHandlingStrategy",
        ),
        responses=tuple(
            _response(item, f"{where}.responses[{index}]") for index, item in enumerate(responses)
        ),
        own_timeout=own_timeout,
    )


def _response(data: object, where: str) -> IntegrationResponseConfig:
    mapping = _mapping(data, where, "a mapping with a 'key' such as '$default' or '/2\\d\\d/'")
    _check_keys(mapping, _RESPONSE_KEYS, where)
    key = mapping.get("key")
    if not isinstance(key, str) or not key:
        problem = "is required: '$default' or a /regular expression/ of status codes"
        raise ConfigError(f"{problem}, got {_show(key)}", key=f"{where}.key")
    if key != "$default":
        if not (len(key) >= 2 and key.startswith("/") and key.endswith("/")):
            problem = (
                f"must be '$default' or written between slashes, like '/2\\d\\d/', got {key!r}"
            )
            raise ConfigError(problem, key=f"{where}.key")
        try:
            re.compile(key[1:-1])
        except re.error as exc:
            raise ConfigError(
                f"invalid regular expression {key!r}: {exc}", key=f"{where}.key"
            ) from exc
    return IntegrationResponseConfig(
        key,
        _template_selection(
            mapping.get("templateSelectionExpression"), f"{where}.templateSelectionExpression"
        ),
        MappingProxyType(
            _templates(mapping.get("responseTemplates"), f"{where}.responseTemplates")
        ),
        _choice(
            mapping.get("contentHandlingStrategy"),
            ContentHandling,
            f"{where}.contentHandlingStrategy",
        ),
    )


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
            problem += f", got {_show(expression)}"
            raise ConfigError(problem, key=f"{where}.modelSelectionExpression")
        try:
            compiled = compile_expression(expression)
        except ConfigError as exc:
            raise exc.at(f"{where}.modelSelectionExpression") from exc
    request_models = _strings(value.get("requestModels"), f"{where}.requestModels")
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
    api_key_required = value.get("apiKeyRequired", False)
    if not isinstance(api_key_required, bool):
        problem = f"must be true or false, got {_show(api_key_required)}"
        raise ConfigError(problem, key=f"{where}.apiKeyRequired")
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
    mapping = _mapping(data, key, "a mapping of route.request.header.NAME or querystring.NAME")
    parameters: dict[str, bool] = {}
    for name, spec in mapping.items():
        if not isinstance(name, str) or not _ROUTE_PARAMETER.fullmatch(name):
            problem = "names must be route.request.header.NAME or route.request.querystring.NAME"
            raise ConfigError(f"{problem}, got {_show(name)}", key=key)
        if isinstance(spec, Mapping):
            _check_keys(spec, ("required",), f"{key}.{name}")
            spec = spec.get("required", False)
        if not isinstance(spec, bool):
            problem = f"must be true, false or {{required: true}}, got {_show(spec)}"
            raise ConfigError(problem, key=f"{key}.{name}")
        parameters[name] = spec
    return parameters


def _models(data: object) -> dict[str, ModelConfig]:
    if data is None:
        return {}
    mapping = _mapping(data, "models", "a mapping of model names to models with a 'schema'")
    models: dict[str, ModelConfig] = {}
    for name, value in mapping.items():
        if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
            problem = f"model names must be alphanumeric (AWS), got {_show(name)}"
            raise ConfigError(problem, key="models")
        where = f"models.{name}"
        model = _mapping(value, where, "a mapping with a 'schema' (a JSON schema)")
        _check_keys(model, _MODEL_KEYS, where)
        schema = model.get("schema")
        if isinstance(schema, str):  # CloudFormation allows the schema as JSON text
            try:
                schema = json.loads(schema)
            except ValueError as exc:
                raise ConfigError(f"is not valid JSON: {exc}", key=f"{where}.schema") from exc
        if not isinstance(schema, Mapping):
            problem = f"must be a JSON schema (a mapping), got {_show(schema)}"
            raise ConfigError(problem, key=f"{where}.schema")
        content_type = model.get("contentType", "application/json")
        if not isinstance(content_type, str):
            problem = f"must be a media type such as 'application/json', got {_show(content_type)}"
            raise ConfigError(problem, key=f"{where}.contentType")
        models[name] = ModelConfig(name, dict(schema), content_type)
    return models


def _api_keys(data: object) -> tuple[ApiKeyConfig, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        problem = f"must be a list of keys (strings, or mappings with a 'value'), got {_show(data)}"
        raise ConfigError(problem, key="apiKeys")
    keys: list[ApiKeyConfig] = []
    for index, item in enumerate(data):
        where = f"apiKeys[{index}]"
        if isinstance(item, str):
            item = {"value": item}
        entry = _mapping(item, where, "a key (a string) or a mapping with a 'value'")
        _check_keys(entry, _API_KEY_KEYS, where)
        value = entry.get("value")
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"must be a non-empty string, got {_show(value)}", key=f"{where}.value"
            )
        key_id = entry.get("id", _api_key_id(value))
        name = entry.get("name")
        for field_name, field_value in (("id", key_id), ("name", name)):
            if field_value is not None and (not isinstance(field_value, str) or not field_value):
                problem = f"must be a non-empty string, got {_show(field_value)}"
                raise ConfigError(problem, key=f"{where}.{field_name}")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            problem = f"must be true or false, got {_show(enabled)}"
            raise ConfigError(problem, key=f"{where}.enabled")
        stages = entry.get("stages")
        if stages is not None and (
            not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)
        ):
            problem = f"must be a list of stage names, got {_show(stages)}"
            raise ConfigError(problem, key=f"{where}.stages")
        keys.append(
            ApiKeyConfig(
                str(key_id),
                value,
                name if isinstance(name, str) else None,
                enabled,
                tuple(stages) if stages is not None else None,
            )
        )
    return tuple(keys)


def _api_key_id(value: str) -> str:
    """A stable 10-character id, like the ids AWS gives keys."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    return digest[:10]


def _stage_variables(data: object) -> dict[str, str]:
    variables = _environment(data, "stageVariables")
    for name in variables:
        if not _STAGE_VARIABLE.fullmatch(name):
            problem = f"stage variable names use A-Z a-z 0-9 _ only (AWS), got {name!r}"
            raise ConfigError(problem, key="stageVariables")
    return variables


def _aws_endpoints(data: object) -> dict[str, str]:
    endpoints = _strings(data, "awsEndpoints")
    for service, url in endpoints.items():
        if not url.startswith(("http://", "https://")):
            problem = f"must be an http:// or https:// URL, got {url!r}"
            raise ConfigError(problem, key=f"awsEndpoints.{service}")
    return endpoints


def _strings(data: object, key: str) -> dict[str, str]:
    """A mapping of strings to strings (numbers and booleans are not)."""
    if data is None:
        return {}
    mapping = _mapping(data, key, "a mapping of strings to strings")
    strings: dict[str, str] = {}
    for name, value in mapping.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"keys must be non-empty strings, got {_show(name)}", key=key)
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {_show(value)}", key=f"{key}.{name}")
        strings[name] = value
    return strings


def _templates(data: object, key: str) -> dict[str, str]:
    templates = _strings(data, key)
    for name, text in templates.items():
        # AWS: mapping templates are at most 300 KB (spec §5).
        if len(text.encode("utf-8")) > 300 * 1024:
            raise ConfigError("is over 300 KB, AWS's limit for a template", key=f"{key}.{name}")
    return templates


def _template_selection(data: object, key: str) -> TemplateSelection | None:
    if data is None:
        return None
    if not isinstance(data, str):
        raise ConfigError(f"must be a string such as '\\$default', got {_show(data)}", key=key)
    try:
        return compile_template_selection(data)
    except ConfigError as exc:
        raise exc.at(key) from exc


_Choice = TypeVar("_Choice", bound=enum.Enum)


def _choice(
    data: object, kind: type[_Choice], key: str, *, required: bool = False
) -> _Choice | None:
    if data is None and not required:
        return None
    names = [member.value for member in kind]
    if data not in names:
        hint = _suggest(data, names)
        problem = f"must be one of {', '.join(names)}{hint}, got {_show(data)}"
        if kind is IntegrationType and data == "AWS_PROXY":
            problem += " (a Lambda proxy integration is a route's 'handler')"
        raise ConfigError(problem, key=key)
    return kind(data)


def _code_uri(value: object, key: str) -> Path | None:
    """A folder, relative to the config's folder; whether it exists is checked on import."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        problem = "must be a folder relative to the config file, such as 'onconnect/'"
        raise ConfigError(f"{problem}, got {_show(value)}", key=key)
    return Path(value)


def _handler(value: object, key: str) -> str:
    problem = (
        "must be a Lambda handler 'module.function' of Python identifiers,"
        " such as 'handlers.chat.on_connect'"
    )
    if not isinstance(value, str):
        raise ConfigError(f"{problem}, got {_show(value)}", key=key)
    parts = value.split(".")
    if len(parts) < 2 or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        hint = " (packages are separated by '.', not '/')" if "/" in value else ""
        raise ConfigError(f"{problem}, got {value!r}{hint}", key=key)
    return value


def with_limits(config: ApiConfig, overrides: Mapping[str, object]) -> ApiConfig:
    """``config`` with some limits replaced, e.g. from the command line.

    ``overrides`` uses the file's names (``idleTimeout``...) and is validated
    like the file's ``limits``; routes without their own ``timeout`` follow a
    new ``integrationTimeout``.
    """
    if not overrides:
        return config
    current = {name: getattr(config.limits, inside) for name, inside in _LIMIT_FIELDS.items()}
    try:
        limits = _limits({**current, **overrides})
    except ConfigError as exc:
        raise exc.at("", "command line") from exc.__cause__

    def follow(route: RouteConfig) -> RouteConfig:
        timeout = route.own_timeout if route.own_timeout is not None else limits.integration_timeout
        return replace(route, timeout=timeout)

    def follow_integration(route: IntegrationRoute) -> IntegrationRoute:
        integration = route.integration
        if integration.own_timeout is not None:
            return route
        return replace(route, integration=replace(integration, timeout=limits.integration_timeout))

    routes = MappingProxyType({key: follow(route) for key, route in config.routes.items()})
    integrations = MappingProxyType(
        {key: follow_integration(route) for key, route in config.integrations.items()}
    )
    authorizer = config.authorizer
    if authorizer is not None:
        authorizer = replace(authorizer, function=follow(authorizer.function))
    return replace(
        config, limits=limits, routes=routes, integrations=integrations, authorizer=authorizer
    )


def _limits(data: object) -> Limits:
    if data is None:
        return Limits()
    mapping = _mapping(data, "limits", "a mapping")
    _check_keys(mapping, _LIMIT_FIELDS, "limits")
    values: dict[str, Any] = {}  # float seconds or int bytes, per field
    for name, value in mapping.items():
        key, name_inside = f"limits.{name}", _LIMIT_FIELDS[str(name)]
        if name_inside.endswith("_size"):
            values[name_inside] = _bytes(value, key)
        elif name_inside == "integration_timeout":
            values[name_inside] = _seconds(value, key, _MIN_TIMEOUT, _MAX_TIMEOUT)
        else:
            values[name_inside] = _seconds(value, key)
    return replace(Limits(), **values)


def _seconds(value: object, key: str, low: float = 0.0, high: float | None = None) -> float:
    """A finite number of seconds in [low, high], or > 0 when there is no high bound."""
    if high is None:
        problem = f"must be a positive number of seconds, got {_show(value)}"
    else:
        problem = f"must be a number of seconds from {low:g} to {high:g}, got {_show(value)}"
    # bool is an int in Python, and YAML 1.1 reads `yes`/`on` as true: not a duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(problem, key=key)
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    in_range = seconds > low if high is None else low <= seconds <= high
    if not (math.isfinite(seconds) and in_range):
        raise ConfigError(problem, key=key)
    return seconds


def _bytes(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a whole number of bytes >= 1, got {_show(value)}", key=key)
    return value


def _environment(data: object, key: str) -> dict[str, str]:
    """Variables as strings, like Lambda's: bools become 'true'/'false', numbers str()."""
    if data is None:
        return {}
    mapping = _mapping(data, key, "a mapping of variable names to values")
    environment: dict[str, str] = {}
    for name, value in mapping.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            problem = f"variable names must be non-empty strings without '=', got {_show(name)}"
            raise ConfigError(problem, key=key)
        environment[name] = _env_value(value, f"{key}.{name}")
    return environment


def _env_value(value: object, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise ConfigError(f"must be a string, number or boolean, got {_show(value)}", key=key)
    try:
        text = str(value)
    except ValueError:  # an int over sys.get_int_max_str_digits()
        raise ConfigError("must be a number of at most 4300 digits", key=key) from None
    if "\x00" in text:  # os.environ refuses it
        raise ConfigError("must not contain a NUL character", key=key)
    return text


def _mapping(data: object, key: str, what: str) -> Mapping[object, object]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be {what}, got {_show(data)}", key=key)
    return data


def _check_keys(mapping: Mapping[object, object], allowed: Collection[str], where: str) -> None:
    for name in mapping:
        if name not in allowed:
            label = name if isinstance(name, str) else _show(name)
            hint = _suggest(name, allowed)
            problem = f"unknown key{hint} (allowed keys: {', '.join(allowed)})"
            raise ConfigError(problem, key=f"{where}.{label}" if where else label)


def _suggest(word: object, choices: Collection[str]) -> str:
    """``, did you mean 'routeResponse'?`` for a near miss, else the empty string."""
    if not isinstance(word, str):
        return ""
    folded = {choice.lower(): choice for choice in choices}
    match = folded.get(word.replace("_", "").replace("-", "").lower())
    if match is None:
        close = difflib.get_close_matches(word, sorted(choices), n=1)
        match = close[0] if close else None
    return f", did you mean {match!r}?" if match else ""


def _show(value: object) -> str:
    """``repr(value)``, shortened: an error message is no place for a 10 KB string."""
    try:
        text = repr(value)
    except ValueError:  # an int over sys.get_int_max_str_digits()
        return "<a very large int>"
    return text if len(text) <= 80 else f"{text[:40]}...{text[-37:]}"
