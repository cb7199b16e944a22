"""What an imported template becomes, and the one way it becomes an ApiConfig.

Both importers (CloudFormation/SAM, Serverless Framework) reduce a template to
:class:`RouteSpec` and :class:`FunctionSpec` values, then :func:`build` writes
the routes.yaml document they stand for and hands it to
:func:`~emulator.model.config.parse_config`, so that a template is validated exactly
like a routes.yaml. A validation error is re-located at the template's own
resource and property.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.config import parse_config
from emulator.model.function import DEFAULT_MEMORY_SIZE

__all__ = [
    "AuthorizerSpec",
    "FunctionSpec",
    "ImportedApi",
    "RouteSpec",
    "build",
    "timeout_seconds",
]

# AWS: an integration waits at most 29 s (TimeoutInMillis 50-29000).
_MAX_WAIT = 29.0
_MIN_WAIT = 0.05
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
    memory_size: int = DEFAULT_MEMORY_SIZE


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
) -> ApiConfig:
    """The routes.yaml document for ``routes``, parsed into an :class:`ApiConfig`.

    A route's timeout is the shorter of its integration's (29 s by default)
    and its function's: on AWS the function is stopped at its own timeout, and
    ``context.get_remaining_time_in_millis()`` counts down from it. The
    variables every function shares become the top-level ``environment``.
    ``authorizer`` becomes the ``authorizer`` section (``CUSTOM``);
    ``authorization_type`` is $connect's otherwise (``NONE`` or ``AWS_IAM``).
    ``top`` holds further top-level routes.yaml keys (``models``, ``apiKeys``...).
    """
    functions = [route.function.environment for route in routes if route.function is not None]
    if authorizer is not None:
        functions.append(authorizer.environment)
    common = dict(common_environment)
    if not all(common.keys() <= environment.keys() for environment in functions):
        # A function without the shared variables (an AWS::Lambda::Function: no
        # Globals); a function that overrides one just has its own value.
        common = {}
    document: dict[str, object] = {
        "routeSelectionExpression": route_selection_expression,
        "environment": common,
    }
    if stage is not None:
        document["stage"] = stage
    if authorizer is not None:
        document["authorizer"] = {
            "handler": authorizer.handler,
            "identitySource": list(authorizer.identity_source),
            "timeout": max(_MIN_WAIT, min(_MAX_WAIT, authorizer.timeout)),
            "environment": _own(authorizer.environment, common),
            **({"codeUri": authorizer.code_uri.as_posix()} if authorizer.code_uri else {}),
        }
    elif authorization_type != "NONE":
        document["authorizationType"] = authorization_type
    document.update(top or {})
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
            "handler": route.function.handler,
            "routeResponse": two_way,
            "environment": _own(route.function.environment, common),
        }
        wait = min(route.integration_timeout or _MAX_WAIT, route.function.timeout)
        if route.integration_timeout is not None or wait < _MAX_WAIT:
            # Else AWS's default: left to `limits.integrationTimeout`, so a
            # command-line override of it applies to this route too.
            entry["timeout"] = max(_MIN_WAIT, wait)
        if route.function.code_uri is not None:
            entry["codeUri"] = route.function.code_uri.as_posix()
        entry.update(route.request)
        entries[route.route_key] = entry
    document["routes"] = entries
    if not entries:
        problem = f"the WebSocket API {api!r} has no route to serve"
        if skipped:
            problem += f" (skipped: {'; '.join(skipped)})"
        raise ConfigError(problem, source=source)
    try:
        return parse_config(document, base_dir=base_dir, source=source)
    except ConfigError as exc:
        raise _relocate(exc, routes, top_locations) from exc.__cause__


def _own(environment: Mapping[str, str], common: Mapping[str, str]) -> dict[str, str]:
    """The variables a function has over the common ones."""
    return {name: value for name, value in environment.items() if common.get(name) != value}


def _relocate(
    error: ConfigError, routes: Sequence[RouteSpec], top_locations: Mapping[str, str]
) -> ConfigError:
    """The error at the template's resource and property, not at routes.yaml's key."""
    key = error.key
    for route in sorted(routes, key=lambda r: len(r.route_key), reverse=True):
        prefix = f"routes.{route.route_key}"
        if key == prefix or key.startswith(prefix + "."):
            field_name = key[len(prefix) + 1 :].split(".", 1)[0]
            function = route.function
            if function is None:
                return ConfigError(error.problem, key=route.location, source=error.source)
            where = {
                "handler": function.handler_key,
                "environment": function.environment_key,
                "codeUri": f"{function.location} (code folder)",
            }.get(field_name, route.location)
            return ConfigError(error.problem, key=where, source=error.source)
    first = key.split(".", 1)[0]
    return ConfigError(error.problem, key=top_locations.get(first, key), source=error.source)


def timeout_seconds(value: object) -> float | None:
    """A Timeout or TimeoutInMillis value as a finite number, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None
