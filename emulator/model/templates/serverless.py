"""Importing the WebSocket API of a Serverless Framework service (spec §8.3).

A ``serverless.yml`` declares one WebSocket API per service: every
``functions.<name>.events[].websocket`` is a route of it (the string form is
the route key; the mapping form has ``route``, ``routeResponseSelectionExpression``
and ``authorizer``). The framework names the API ``WebsocketsApi`` in the
stack it generates; that is the id :class:`ImportedApi` reports. Settings come
from ``provider`` (``websocketsApiRouteSelectionExpression``, ``stage``,
``runtime``, ``environment``, ``timeout``) unless a function overrides them.
Variables are resolved by :class:`~emulator.model.templates.variables.Variables`;
CloudFormation intrinsics in values (``{Ref: ConnectionsTable}``) against the
``resources`` section. As in the framework, when two functions declare one
route key the last wins (spec §8.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.api import DEFAULT_ROUTE_SELECTION_EXPRESSION
from emulator.model.templates.functions import environment_value
from emulator.model.templates.intrinsics import (
    ACCOUNT_ID,
    NO_VALUE,
    Resolver,
    Unresolvable,
)
from emulator.model.templates.model import (
    AuthorizerSpec,
    FunctionSpec,
    ImportedApi,
    RouteSpec,
    build,
    timeout_seconds,
)
from emulator.model.templates.resources import declare_resources
from emulator.model.templates.variables import Variables

__all__ = ["API_LOGICAL_ID", "import_serverless"]

API_LOGICAL_ID = "WebsocketsApi"  # the framework's logical id for the service's API
# The framework's defaults: Timeout 6 s, identity source the Auth header.
_DEFAULT_TIMEOUT = 6.0
_DEFAULT_IDENTITY_SOURCE = ("route.request.header.Auth",)


def import_serverless(
    document: Mapping[str, Any],
    *,
    base_dir: Path,
    source: str,
    api: str | None = None,
    options: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    api_id: str | None = None,
) -> ImportedApi:
    """The service's WebSocket API. ``options`` are the CLI's (``stage``, ``region``,
    ``param:NAME``), ``environ`` what ``${env:...}`` reads; ``api_id`` is what
    ``{Ref: WebsocketsApi}`` resolves to (else it is only known once deployed)."""
    if api is not None and api != API_LOGICAL_ID:
        problem = f"no WebSocket API {api!r}: a serverless.yml has one, {API_LOGICAL_ID!r}"
        raise ConfigError(problem, source=source)
    importer = _Importer(
        document, base_dir, source, Variables(document, options=options, environ=environ)
    )
    if api_id is not None:
        endpoint = f"wss://{api_id}.execute-api.{importer.v.region}.amazonaws.com"
        importer.resolver.bind(API_LOGICAL_ID, api_id, {"ApiId": api_id, "ApiEndpoint": endpoint})
    importer.bind_functions()
    importer.declare_resources()
    return importer.run()


class _Importer:
    def __init__(
        self, document: Mapping[str, Any], base_dir: Path, source: str, variables: Variables
    ) -> None:
        self.document = document
        self.base_dir = base_dir
        self.source = source
        self.v = variables
        provider = document.get("provider")
        self.provider: Mapping[str, Any] = provider if isinstance(provider, Mapping) else {}
        functions = document.get("functions")
        if functions is not None and not isinstance(functions, Mapping):
            raise self.error("must be a mapping of function names to functions", "functions")
        self.functions: Mapping[str, Any] = functions or {}
        resources = variables.resolve_leniently(document.get("resources") or {})
        self.resolver = Resolver(
            resources if isinstance(resources, Mapping) else {}, region=variables.region
        )
        self.warnings: list[str] = []
        self._specs: dict[str, FunctionSpec | str] = {}
        self.resources: dict[str, dict[str, Any]] = {}

    def declare_resources(self) -> None:
        """The tables, queues, topics and buckets of ``resources.Resources``; binds
        what ``{Ref: ConnectionsTable}`` and ``Fn::GetAtt`` give in the functions'
        variables. Before any function is resolved."""
        section = self.resolver.template_resources()

        def exists(logical_id: str) -> bool:
            try:
                return self.resolver.resource_exists(logical_id)
            except Unresolvable:
                return False

        self.resources = declare_resources(
            section,
            self.resolver,
            exists=exists,
            warnings=self.warnings,
            prefix="resources.Resources",
        )

    def error(self, problem: str, key: str) -> ConfigError:
        return ConfigError(problem, key=key, source=self.source)

    def text(self, raw: Any, key: str) -> str | None:
        """A setting with its variables resolved; errors name ``key``."""
        try:
            value = self.v.resolve(raw)
        except Unresolvable as exc:
            raise self.error(f"cannot be resolved locally: {exc}", key) from exc
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise self.error(f"must be a string, got {value!r}", key)

    def run(self) -> ImportedApi:
        routes: dict[str, RouteSpec] = {}
        skipped: dict[str, str] = {}
        declared_by: dict[str, str] = {}
        authorizer: AuthorizerSpec | None = None
        top_locations = {
            "routeSelectionExpression": "provider.websocketsApiRouteSelectionExpression",
            "stage": "provider.stage",
            "resources": "resources.Resources",
        }
        for name, function in self.functions.items():
            if not isinstance(function, Mapping):
                raise self.error("must be a mapping with a handler", f"functions.{name}")
            events = function.get("events")
            for index, event in enumerate(events if isinstance(events, list) else []):
                if not isinstance(event, Mapping) or event.get("websocket") is None:
                    continue
                where = f"functions.{name}.events[{index}].websocket"
                route_key, two_way, auth = self._event(event["websocket"], where)
                if route_key in declared_by:
                    self.warnings.append(
                        f"{where}: route {route_key!r} is also declared by function"
                        f" {declared_by[route_key]!r}; the last declaration wins"
                    )
                declared_by[route_key] = str(name)
                routes.pop(route_key, None)
                skipped.pop(route_key, None)
                spec = self.function(str(name))
                if isinstance(spec, str):
                    skipped[route_key] = f"{route_key}: {spec}"
                    continue
                routes[route_key] = RouteSpec(route_key, spec, location=where, two_way=two_way)
                if auth is not None:
                    authorizer = self._authorizer(auth, f"{where}.authorizer")
                    top_locations["authorizer"] = f"{where}.authorizer"
        expression = self.text(
            self.provider.get("websocketsApiRouteSelectionExpression"),
            "provider.websocketsApiRouteSelectionExpression",
        )
        config = build(
            list(routes.values()),
            api=API_LOGICAL_ID,
            route_selection_expression=expression or DEFAULT_ROUTE_SELECTION_EXPRESSION,
            stage=self.v.stage,
            common_environment=self._environment(
                self.provider.get("environment"), "provider.environment"
            ),
            base_dir=self.base_dir,
            source=self.source,
            top_locations=top_locations,
            warnings=self.warnings,
            authorizer=authorizer,
            skipped=list(skipped.values()),
            region=self._region(),
            others=[
                spec
                for name in self.functions
                if isinstance(spec := self.function(str(name)), FunctionSpec)
            ],
            resources=self.resources,
        )
        service = self.text(self.document.get("service"), "service") or "service"
        # The framework's default API name is "<stage>-<service>-websockets".
        api_name = self.text(self.provider.get("websocketsApiName"), "provider.websocketsApiName")
        return ImportedApi(
            config=config,
            api=API_LOGICAL_ID,
            name=api_name or f"{self.v.stage}-{service}-websockets",
            functions=MappingProxyType(
                {key: r.function.name for key, r in routes.items() if r.function is not None}
            ),
            skipped=tuple(skipped.values()),
            warnings=tuple(dict.fromkeys(self.warnings)),
            authorizer=authorizer,
        )

    def _region(self) -> str | None:
        """The region the service says it is deployed to (``--region``, provider.region)."""
        if self.v.region_given():
            return self.v.region
        return None

    def _event(self, websocket: Any, where: str) -> tuple[str, bool, Any]:
        if not isinstance(websocket, Mapping):
            websocket = {"route": websocket}
        route_key = self.text(websocket.get("route"), f"{where}.route")
        if not route_key:
            raise self.error("needs a route key (websocket: $connect, or route: $connect)", where)
        expression = self.text(
            websocket.get("routeResponseSelectionExpression"),
            f"{where}.routeResponseSelectionExpression",
        )
        authorizer = websocket.get("authorizer")
        if authorizer is not None and route_key != "$connect":
            # The framework only allows authorizers on $connect.
            raise self.error("is only allowed on the $connect route", f"{where}.authorizer")
        return route_key, bool(expression), authorizer

    def function(self, name: str) -> FunctionSpec | str:
        if name not in self._specs:
            self._specs[name] = self._function(name)
        return self._specs[name]

    def _function(self, name: str) -> FunctionSpec | str:
        where = f"functions.{name}"
        definition = self.functions.get(name)
        if not isinstance(definition, Mapping):
            raise self.error("must be a mapping with a handler", where)
        if definition.get("image") is not None:
            return f"function {name} is a container image (image:)"
        runtime = self.text(definition.get("runtime"), f"{where}.runtime") or self.text(
            self.provider.get("runtime"), "provider.runtime"
        )
        if runtime is None:
            return (
                f"function {name} has no runtime (the Serverless Framework's default is"
                " Node.js); set provider.runtime to a python3.x runtime"
            )
        if not runtime.startswith("python"):
            only = "only Python functions run in the emulator"
            return f"function {name} has runtime {runtime!r}: {only}"
        handler = self.text(definition.get("handler"), f"{where}.handler")
        if handler is None:
            raise self.error("is required", f"{where}.handler")
        timeout = _DEFAULT_TIMEOUT
        for raw, key in (
            (definition.get("timeout"), f"{where}.timeout"),
            (self.provider.get("timeout"), "provider.timeout"),
        ):
            if raw is not None:
                seconds = timeout_seconds(self.v.resolve(raw))
                if seconds is None:
                    raise self.error(f"must be a number of seconds, got {raw!r}", key)
                timeout = seconds
                break
        environment = {
            **self._environment(self.provider.get("environment"), "provider.environment"),
            **self._environment(definition.get("environment"), f"{where}.environment"),
        }
        memory = definition.get("memorySize", self.provider.get("memorySize"))
        return FunctionSpec(
            name=name,
            # Lambda's Python runtime accepts "folder/module.function" as "folder.module".
            handler=handler.replace("/", "."),
            location=where,
            handler_key=f"{where}.handler",
            environment_key=f"{where}.environment",
            environment=MappingProxyType(environment),
            timeout=timeout,
            memory_size=self._memory_size(memory, f"{where}.memorySize"),
            function_name=self.function_name(name),
        )

    def bind_functions(self) -> None:
        """``{Ref: GreeterLambdaFunction}`` (the logical id the framework gives
        function ``greeter``) is the function's name, its ``Arn`` its ARN."""
        for name in self.functions:
            served = self.function_name(str(name))
            arn = f"arn:aws:lambda:{self.v.region}:{ACCOUNT_ID}:function:{served}"
            self.resolver.bind(_logical_id(str(name)), served, {"Arn": arn})

    def function_name(self, name: str) -> str:
        """The function's name once deployed: its ``name``, or the framework's
        ``<service>-<stage>-<function>``."""
        definition = self.functions.get(name)
        given = definition.get("name") if isinstance(definition, Mapping) else None
        if given is not None:
            text = self.text(given, f"functions.{name}.name")
            if text:
                return text
        service = self.text(self.document.get("service"), "service") or "service"
        return f"{service}-{self.v.stage or 'dev'}-{name}"

    def _memory_size(self, raw: Any, key: str) -> int | None:
        if raw is None:
            return None
        value = self.v.resolve(raw)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be a whole number of MB, got {value!r}", key)
        return value

    def _environment(self, raw: Any, where: str) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise self.error("must be a mapping of variable names to values", where)
        environment = {}
        for name, value in raw.items():
            text = self._environment_value(value, f"{where}.{name}")
            if text is not None:
                environment[str(name)] = text
        return environment

    def _environment_value(self, raw: Any, key: str) -> str | None:
        def resolve(raw: Any) -> Any:
            value = self.resolver.resolve(self.v.resolve(raw))
            # A null value (`FOO: ~`) leaves the variable unset, without a warning.
            return NO_VALUE if value is None else value

        return environment_value(resolve, raw, key, self.warnings)

    def _authorizer(self, raw: Any, where: str) -> AuthorizerSpec | None:
        if not isinstance(raw, Mapping):
            raw = {"arn": raw} if str(raw).startswith("arn:") else {"name": raw}
        identity: Any = self.v.resolve(raw.get("identitySource", list(_DEFAULT_IDENTITY_SOURCE)))
        if isinstance(identity, str):
            identity = [identity]
        if not isinstance(identity, list) or not all(isinstance(i, str) for i in identity):
            raise self.error(
                f"must be a list of strings, got {identity!r}", f"{where}.identitySource"
            )
        name = self.text(raw.get("name"), f"{where}.name")
        if name is None:
            arn = self.text(raw.get("arn"), f"{where}.arn")
            self.warnings.append(
                f"{where}: the authorizer {arn!r} is not a function of this service;"
                " connections are not authorized locally"
            )
            return None
        if name not in self.functions:
            raise self.error(f"names no function of this service: {name!r}", f"{where}.name")
        spec = self.function(name)
        if isinstance(spec, str):
            self.warnings.append(f"{where}: {spec}; connections are not authorized locally")
            return None
        return AuthorizerSpec(
            name=name,
            function=name,
            handler=spec.handler,
            code_uri=spec.code_uri,
            identity_source=tuple(identity),
            environment=spec.environment,
            timeout=spec.timeout,
            spec=spec,
        )


def _logical_id(name: str) -> str:
    """The framework's logical id of function ``name``'s resource: ``GreeterLambdaFunction``."""
    normalized = name[:1].upper() + name[1:]
    return normalized.replace("-", "Dash").replace("_", "Underscore") + "LambdaFunction"
