"""Loading and validating ``routes.yaml``, the declaration of one WebSocket API.

A pure module and the only one that imports :mod:`yaml`. The file's keys are
camelCase, like the AWS resources they stand for (``routeSelectionExpression``,
``routeResponse``); the dataclasses built from them are snake_case. Every problem
is a :class:`~emulator.errors.ConfigError` naming the key path, e.g.
``routes.yaml: routes.sendmessage.timeout: must be a number of seconds from 0.05
to 29, got 'x'``. Handler modules are not imported here: that happens at start-up.

It also reads and writes the YAML of infrastructure templates for
:mod:`emulator.templates` and :mod:`emulator.export` (:func:`read_template_yaml`,
:func:`dump_yaml`), so that this stays the one module importing :mod:`yaml`.
"""

from __future__ import annotations

import difflib
import keyword
import math
import os
import re
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from emulator.authorizer import parse_identity_sources
from emulator.errors import ConfigError
from emulator.selection import SelectionExpression, compile_expression

__all__ = [
    "AUTHORIZATION_TYPES",
    "DEFAULT_ROUTE_SELECTION_EXPRESSION",
    "MAX_ROUTES",
    "PREDEFINED_ROUTES",
    "ApiConfig",
    "AuthorizerConfig",
    "Limits",
    "RouteConfig",
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
)
_AUTHORIZER_KEYS = ("handler", "identitySource", "timeout", "environment", "codeUri")
# AWS: the authorization of $connect (botocore apigatewayv2 AuthorizationType).
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM")
_ROUTE_KEYS = ("handler", "routeResponse", "timeout", "environment", "codeUri")
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
    return ApiConfig(
        routes=MappingProxyType(_routes(document["routes"], environment, limits)),
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


def _routes(data: object, environment: Mapping[str, str], limits: Limits) -> dict[str, RouteConfig]:
    mapping = _mapping(data, "routes", "a mapping of route keys to handlers")
    if not mapping:
        raise ConfigError("must define at least one route", key="routes")
    if len(mapping) > MAX_ROUTES:
        problem = f"has {len(mapping)} routes, AWS allows at most {MAX_ROUTES} per API"
        raise ConfigError(problem, key="routes")
    routes: dict[str, RouteConfig] = {}
    for route_key, value in mapping.items():
        if not isinstance(route_key, str) or not route_key:
            problem = f"route keys must be non-empty strings, got {_show(route_key)}"
            raise ConfigError(problem, key="routes")
        routes[route_key] = _route(route_key, value, environment, limits)
    return routes


def _route(
    route_key: str,
    value: object,
    environment: Mapping[str, str],
    limits: Limits,
    where: str | None = None,
) -> RouteConfig:
    if where is None:
        where = f"routes.{route_key}"
        if route_key.startswith("$") and route_key not in PREDEFINED_ROUTES:
            # AWS: "do not use the $ prefix" for custom route keys (Developer Guide, "Routes").
            allowed = ", ".join(sorted(PREDEFINED_ROUTES))
            hint = _suggest(route_key, PREDEFINED_ROUTES)
            problem = f"custom route keys must not start with '$' (only {allowed} do){hint}"
            raise ConfigError(problem, key=where)
    short_form = isinstance(value, str)
    if short_form:
        value = {"handler": value}
    if not isinstance(value, Mapping):
        problem = "must be a handler string 'module.function' or a mapping with a 'handler' key"
        raise ConfigError(f"{problem}, got {_show(value)}", key=where)
    _check_keys(value, _ROUTE_KEYS, where)
    if "handler" not in value:
        raise ConfigError("missing the required key 'handler'", key=where)
    handler = _handler(value["handler"], where if short_form else f"{where}.handler")
    two_way = value.get("routeResponse", False)
    if not isinstance(two_way, bool):
        problem = f"must be true or false, got {_show(two_way)}"
        raise ConfigError(problem, key=f"{where}.routeResponse")
    if two_way and route_key in ("$connect", "$disconnect"):
        # AWS never sends a $connect body to the client, and $disconnect has no client (spec §3.1).
        problem = f"{route_key} cannot be a two-way route: its response is never sent"
        raise ConfigError(problem, key=f"{where}.routeResponse")
    timeout = limits.integration_timeout
    own_timeout = None
    if "timeout" in value:
        timeout = _seconds(value["timeout"], f"{where}.timeout", _MIN_TIMEOUT, _MAX_TIMEOUT)
        own_timeout = timeout
    own = _environment(value.get("environment"), f"{where}.environment")
    merged = MappingProxyType({**environment, **own}) if own else environment
    code_uri = _code_uri(value.get("codeUri"), f"{where}.codeUri")
    return RouteConfig(route_key, handler, two_way, timeout, merged, code_uri, own_timeout)


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

    routes = MappingProxyType({key: follow(route) for key, route in config.routes.items()})
    authorizer = config.authorizer
    if authorizer is not None:
        authorizer = replace(authorizer, function=follow(authorizer.function))
    return replace(config, limits=limits, routes=routes, authorizer=authorizer)


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
