"""What an imported template becomes, and the one way it becomes an ApiConfig.

Both importers (CloudFormation/SAM, Serverless Framework) reduce a template to
:class:`RouteSpec` and :class:`FunctionSpec` values, then :func:`build` writes
the routes.yaml document they stand for and hands it to
:func:`~emulator.model.config.parse_config`, so that a template is validated exactly
like a routes.yaml. A validation error is re-located at the template's own
resource and property.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.config import parse_config
from emulator.model.sections.checks import MAX_WAIT, MIN_WAIT

__all__ = [
    "AuthorizerSpec",
    "FunctionSpec",
    "ImportedApi",
    "RouteSpec",
    "build",
    "timeout_seconds",
    "wait_seconds",
    "whole_number",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda REQUEST authorizer found in a template (spec §6.1).

    ``name`` is the authorizer's, ``function`` its function's logical id (or
    serverless function name). ``code_uri`` is relative to the template's folder
    (``ImportedApi.config.base_dir``), None for that folder itself, like
    :attr:`RouteConfig.code_uri`. It also becomes the config's ``authorizer``.
    """

    name: str
    function: str
    handler: str
    code_uri: Path | None = None
    identity_source: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    timeout: float = 3.0  # the function's Timeout
    # The function as the template declares it, when it was resolved.
    spec: FunctionSpec | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ImportedApi:
    """A WebSocket API read from a template, ready to serve.

    ``api`` is the API's logical id (``WebsocketsApi`` for a serverless.yml,
    the id the framework gives it), ``name`` its ``Name`` if it has one.
    ``functions`` maps each served route key to the function behind it.
    ``skipped`` lists the routes not served (not Python, code not local), one
    sentence each; ``warnings`` what was imported with a caveat (a variable
    that cannot be resolved locally is left out, a second stage is ignored).
    """

    config: ApiConfig
    api: str
    name: str | None = None
    functions: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    authorizer: AuthorizerSpec | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A Python function of a template, resolved.

    ``location`` names it in the template (``Resources.OnConnectFunction``,
    ``functions.connect``); ``handler_key`` and ``environment_key`` name the
    properties a validation error is reported at.
    """

    name: str
    handler: str
    location: str
    handler_key: str
    environment_key: str
    code_uri: Path | None = None
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    timeout: float = 3.0  # Lambda's default Timeout
    memory_size: int | None = None  # None: Lambda's default
    # The routes.yaml `loggingConfig` of its LoggingConfig, if it has one.
    logging: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # The function's name once deployed (its FunctionName), if it differs from ``name``.
    function_name: str | None = None
    # Where its other settings are written, by routes.yaml name (``timeout``:
    # ``Globals.Function.Timeout``...), for errors found once they are read.
    setting_keys: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def served_name(self) -> str:
        """The name the emulator serves it under (``AWS_LAMBDA_FUNCTION_NAME``)."""
        return self.function_name or self.name


@dataclass(frozen=True)
class RouteSpec:
    """One route of the API, its function, and where it is written.

    A route whose integration is not a Lambda proxy has no ``function`` but an
    ``integration``: the routes.yaml ``integration:`` mapping it becomes.
    ``request`` holds the route's routes.yaml request settings
    (``modelSelectionExpression``, ``requestModels``, ``requestParameters``,
    ``apiKeyRequired``).
    """

    route_key: str
    function: FunctionSpec | None
    location: str
    two_way: bool = False
    integration_timeout: float | None = None
    integration: Mapping[str, object] | None = None
    request: Mapping[str, object] = field(default_factory=lambda: _EMPTY)


def build(
    routes: Sequence[RouteSpec],
    *,
    api: str,
    route_selection_expression: str,
    stage: str | None,
    common_environment: Mapping[str, str],
    base_dir: Path,
    source: str,
    top_locations: Mapping[str, str],
    warnings: list[str],
    authorizer: AuthorizerSpec | None = None,
    authorization_type: str = "NONE",
    skipped: Sequence[str] = (),
    top: Mapping[str, object] | None = None,
    others: Sequence[FunctionSpec] = (),
    region: str | None = None,
    resources: Mapping[str, object] | None = None,
) -> ApiConfig:
    """The routes.yaml document for ``routes``, parsed into an :class:`ApiConfig`.

    Each function of the template becomes an entry of ``functions`` with its
    Timeout, MemorySize and LoggingConfig, and its routes use it by name; a
    route's ``timeout`` is its integration's (TimeoutInMillis), if it has one.
    The variables every function shares become the top-level ``environment``.
    ``authorizer`` becomes the ``authorizer`` section (``CUSTOM``);
    ``authorization_type`` is $connect's otherwise (``NONE`` or ``AWS_IAM``).
    ``top`` holds further top-level routes.yaml keys (``models``, ``apiKeys``...).
    ``others`` are the template's other Python functions, behind no route:
    declared all the same, so that a handler can invoke them (the Lambda API).
    ``region``, when the template or its loader says which, is the API's.
    ``resources`` is the routes.yaml ``resources:`` section of the template's
    tables, queues, topics and buckets (:mod:`.resources`).
    """
    specs = [route.function for route in routes if route.function is not None]
    if authorizer is not None:
        specs.append(authorizer.spec or _spec_of(authorizer))
    served = {spec.served_name for spec in specs}
    specs.extend(spec for spec in others if spec.served_name not in served)
    common = dict(common_environment)
    if not all(common.keys() <= spec.environment.keys() for spec in specs):
        # A function without the shared variables (an AWS::Lambda::Function: no
        # Globals); a function that overrides one just has its own value.
        common = {}
    functions = {spec.served_name: _function_entry(spec, common) for spec in specs}
    document: dict[str, object] = {
        "routeSelectionExpression": route_selection_expression,
        "environment": common,
        "functions": functions,
    }
    if stage is not None:
        document["stage"] = stage
    if region is not None:
        document["region"] = region
    if authorizer is not None:
        document["authorizer"] = {
            "function": (authorizer.spec or _spec_of(authorizer)).served_name,
            "identitySource": list(authorizer.identity_source),
        }
    elif authorization_type != "NONE":
        document["authorizationType"] = authorization_type
    document.update(top or {})
    if resources:
        document["resources"] = dict(resources)
    entries: dict[str, object] = {}
    for route in routes:
        two_way = route.two_way
        if two_way and route.route_key in ("$connect", "$disconnect"):
            # AWS never sends these routes' responses (spec §3.1): not an error on AWS.
            warnings.append(f"{route.location}: {route.route_key} ignores its route response")
            two_way = False
        if route.function is None:
            assert route.integration is not None
            entries[route.route_key] = {
                "integration": dict(route.integration),
                "routeResponse": two_way,
                **route.request,
            }
            continue
        entry: dict[str, object] = {
            "function": route.function.served_name,
            "routeResponse": two_way,
        }
        if route.integration_timeout is not None:
            # Else AWS's default: left to `limits.integrationTimeout`, so a
            # command-line override of it applies to this route too.
            entry["timeout"] = max(MIN_WAIT, min(MAX_WAIT, route.integration_timeout))
        entry.update(route.request)
        entries[route.route_key] = entry
    document["routes"] = entries
    if not entries:
        problem = f"the WebSocket API {api!r} has no route to serve"
        if skipped:
            problem += f" (skipped: {'; '.join(skipped)})"
        raise ConfigError(problem, source=source)
    try:
        config = parse_config(document, base_dir=base_dir, source=source)
    except ConfigError as exc:
        raise _relocate(exc, routes, specs, top_locations) from exc.__cause__
    # An init that fails is reported at the template's Handler, not at routes.yaml's key.
    locations = {f"functions.{spec.served_name}.handler": spec.handler_key for spec in specs}
    return dataclasses.replace(config, locations=MappingProxyType(locations))


def _spec_of(authorizer: AuthorizerSpec) -> FunctionSpec:
    """The function of an authorizer that carries no spec of its own."""
    location = f"functions.{authorizer.function}"
    return FunctionSpec(
        name=authorizer.function,
        handler=authorizer.handler,
        location=location,
        handler_key=f"{location}.handler",
        environment_key=f"{location}.environment",
        code_uri=authorizer.code_uri,
        environment=authorizer.environment,
        timeout=authorizer.timeout,
    )


def _function_entry(spec: FunctionSpec, common: Mapping[str, str]) -> dict[str, object]:
    """The routes.yaml ``functions`` entry of a template's function."""
    entry: dict[str, object] = {
        "handler": spec.handler,
        "environment": _own(spec.environment, common),
        # Lambda's Timeout is whole seconds: a fraction is left for the check to refuse.
        "timeout": int(spec.timeout) if float(spec.timeout).is_integer() else spec.timeout,
    }
    if spec.memory_size is not None:
        entry["memorySize"] = spec.memory_size
    if spec.logging:
        entry["loggingConfig"] = dict(spec.logging)
    if spec.code_uri is not None:
        entry["codeUri"] = spec.code_uri.as_posix()
    return entry


def _own(environment: Mapping[str, str], common: Mapping[str, str]) -> dict[str, str]:
    """The variables a function has over the common ones."""
    return {name: value for name, value in environment.items() if common.get(name) != value}


def _relocate(
    error: ConfigError,
    routes: Sequence[RouteSpec],
    specs: Sequence[FunctionSpec],
    top_locations: Mapping[str, str],
) -> ConfigError:
    """The error at the template's resource and property, not at routes.yaml's key."""
    key = error.key
    for spec in specs:
        prefix = f"functions.{spec.served_name}"
        if key == prefix or key.startswith(prefix + "."):
            field_name = key[len(prefix) + 1 :].split(".", 1)[0]
            where = {
                "handler": spec.handler_key,
                "environment": spec.environment_key,
                "codeUri": f"{spec.location} (code folder)",
                **spec.setting_keys,
            }.get(field_name, spec.location)
            return ConfigError(error.problem, key=where, source=error.source)
    for route in sorted(routes, key=lambda r: len(r.route_key), reverse=True):
        prefix = f"routes.{route.route_key}"
        if key == prefix or key.startswith(prefix + "."):
            return ConfigError(error.problem, key=route.location, source=error.source)
    first = key.split(".", 1)[0]
    if first == "resources" and "resources" in top_locations:
        # The template's own Resources section, in the same form.
        return ConfigError(
            error.problem, key=top_locations["resources"] + key[len(first) :], source=error.source
        )
    return ConfigError(error.problem, key=top_locations.get(first, key), source=error.source)


def whole_number(value: object) -> int | None:
    """A whole number written as a number or a string of one (``256``, ``"256"``,
    ``256.0``), as CloudFormation and Terraform convert them; None for anything else."""
    number = _number(value)
    if number is None or not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


MILLIS_PROBLEM = "must be a number of milliseconds from 50 to 29000"


def wait_seconds(millis: object) -> float | None:
    """A TimeoutInMillis value (``timeout_milliseconds`` in Terraform) in seconds;
    None if it is no number of milliseconds from 50 to 29000 (say :data:`MILLIS_PROBLEM`)."""
    value = timeout_seconds(millis)
    if value is None or not MIN_WAIT <= value / 1000 <= MAX_WAIT:
        return None
    return value / 1000


def timeout_seconds(value: object) -> float | None:
    """A Timeout or TimeoutInMillis value as a finite number, or None."""
    seconds = _number(value)
    return seconds if seconds is not None and math.isfinite(seconds) and seconds > 0 else None
