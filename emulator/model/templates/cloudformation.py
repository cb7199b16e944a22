"""Importing a WebSocket API from a CloudFormation or SAM template (spec §8.1, §8.2).

Two forms of API are read:

* the raw resources: ``AWS::ApiGatewayV2::Api`` (``ProtocolType: WEBSOCKET``),
  its ``Route``, ``Integration``, ``RouteResponse``, ``Authorizer`` and
  ``Stage`` resources, following spec §8.1's resolution algorithm (route →
  ``Target: integrations/<id>`` → ``IntegrationUri`` → function);
* SAM's ``AWS::Serverless::WebSocketApi``, whose ``Routes`` name functions by
  ``FunctionArn`` (SAM developer guide, ``sam-resource-websocketapi``).

Functions are ``AWS::Serverless::Function`` (with ``Globals``) or
``AWS::Lambda::Function``; see :mod:`emulator.model.templates.functions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.api import DEFAULT_ROUTE_SELECTION_EXPRESSION
from emulator.model.templates.functions import FUNCTION_TYPES, Template
from emulator.model.templates.integrations import NON_PROXY_TYPES, IntegrationImporter
from emulator.model.templates.intrinsics import (
    REGION,
    STACK_NAME,
    OtherStacks,
    Unresolvable,
    printable,
)
from emulator.model.templates.model import (
    MILLIS_PROBLEM,
    AuthorizerSpec,
    FunctionSpec,
    ImportedApi,
    RouteSpec,
    build,
    wait_seconds,
)
from emulator.model.templates.resources import declare_resources

__all__ = ["import_cloudformation"]

_API = "AWS::ApiGatewayV2::Api"
_SAM_API = "AWS::Serverless::WebSocketApi"
# SAM: "If StageName is not specified, the default value is default."
_SAM_DEFAULT_STAGE = "default"


def import_cloudformation(
    document: Mapping[str, Any],
    *,
    base_dir: Path,
    source: str,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    api_id: str | None = None,
    stack_name: str = STACK_NAME,
    other_stacks: OtherStacks | None = None,
    region: str | None = None,
) -> ImportedApi:
    """The WebSocket API ``api`` (a logical id) of a template; the only one if None.

    ``api_id``, the id the emulator serves the API under, resolves references
    to the API itself (``!Ref Api``, ``${Api}``, ``!GetAtt Api.ApiId``,
    ``Api.ApiEndpoint``); without it they are only known once deployed.
    ``stack_name`` is ``AWS::StackName``; ``other_stacks`` resolves references
    to the outputs of the stacks deployed with it (a CDK app's other stacks).
    """
    template = _Importer(
        Template(
            document,
            base_dir=base_dir,
            source=source,
            parameters=parameters,
            stack_name=stack_name,
            other_stacks=other_stacks,
            region=region or REGION,
        )
    )
    return template.run(api, api_id, region)


class _Importer:
    def __init__(self, template: Template) -> None:
        self.t = template
        self.routes: list[RouteSpec] = []
        self.skipped: list[str] = []
        self.authorizer: AuthorizerSpec | None = None
        self.authorization_type = "NONE"
        self.top_locations: dict[str, str] = {}

    def run(
        self, wanted: str | None, api_id: str | None = None, region: str | None = None
    ) -> ImportedApi:
        api = self._choose(wanted)
        if api_id is not None:
            endpoint = f"wss://{api_id}.execute-api.{self.t.resolver.region}.amazonaws.com"
            self.t.resolver.bind(api, api_id, {"ApiId": api_id, "ApiEndpoint": endpoint})
        self.t.bind_functions()
        resources = declare_resources(
            self.t.resources, self.t.resolver, exists=self._exists, warnings=self.t.warnings
        )
        self.top_locations["resources"] = "Resources"
        self.integrations = IntegrationImporter(self.t, api)
        if self.t.type_of(api) == _SAM_API:
            name, expression, stage = self._sam_api(api)
        else:
            name, expression, stage = self._raw_api(api)
        config = build(
            self.routes,
            api=api,
            route_selection_expression=expression,
            stage=stage,
            common_environment=self._common_environment(),
            base_dir=self.t.base_dir,
            source=self.t.source,
            top_locations=self.top_locations,
            warnings=self.t.warnings,
            authorizer=self.authorizer,
            authorization_type=self.authorization_type,
            skipped=self.skipped,
            top=self.integrations.top(stage),
            others=self._other_functions(),
            region=region,
            resources=resources,
        )
        return ImportedApi(
            config=config,
            api=api,
            name=name,
            functions=MappingProxyType(
                {r.route_key: r.function.name for r in self.routes if r.function is not None}
            ),
            skipped=tuple(self.skipped),
            warnings=tuple(dict.fromkeys(self.t.warnings)),  # Globals warn once per function
            authorizer=self.authorizer,
        )

    def _exists(self, logical_id: str) -> bool:
        try:
            return self.t.resolver.resource_exists(logical_id)
        except Unresolvable:
            return False  # the condition's error is reported where it matters

    def _other_functions(self) -> list[FunctionSpec]:
        """Every Python function of the template with local code, route or not."""
        specs = []
        for logical_id in self.t.of_type(*FUNCTION_TYPES):
            spec = self.t.function(logical_id)
            if isinstance(spec, FunctionSpec):
                specs.append(spec)
        return specs

    def _choose(self, wanted: str | None) -> str:
        apis = [
            logical_id
            for logical_id in self.t.of_type(_API, _SAM_API)
            if self.t.type_of(logical_id) == _SAM_API
            or (self.t.prop(logical_id, "ProtocolType") or "").upper() == "WEBSOCKET"
        ]
        if wanted is not None:
            if wanted in apis:
                return wanted
            listed = ", ".join(apis) or "none"
            problem = f"no WebSocket API {wanted!r} in the template (its WebSocket APIs: {listed})"
            raise ConfigError(problem, source=self.t.source)
        if not apis:
            problem = (
                f"no WebSocket API in the template: expected an {_API} with"
                f" ProtocolType: WEBSOCKET or an {_SAM_API}"
            )
            raise ConfigError(problem, source=self.t.source)
        if len(apis) > 1:
            problem = (
                f"the template defines {len(apis)} WebSocket APIs ({', '.join(apis)});"
                " choose one with --api LOGICAL_ID"
            )
            raise ConfigError(problem, source=self.t.source)
        return apis[0]

    def _common_environment(self) -> dict[str, str]:
        """The variables of SAM's Globals, which every Serverless function shares."""
        return self.t.globals_environment()

    # AWS::ApiGatewayV2::* resources

    def _raw_api(self, api: str) -> tuple[str | None, str, str | None]:
        t = self.t
        expression = t.prop(api, "RouteSelectionExpression")
        self.top_locations["routeSelectionExpression"] = (
            f"Resources.{api}.Properties.RouteSelectionExpression"
        )
        if expression is None:
            t.warnings.append(
                f"Resources.{api}: no RouteSelectionExpression (AWS requires one);"
                f" using {DEFAULT_ROUTE_SELECTION_EXPRESSION!r}"
            )
            expression = DEFAULT_ROUTE_SELECTION_EXPRESSION
        two_way_routes = set()
        for response in self._of_api("AWS::ApiGatewayV2::RouteResponse", api):
            if t.prop(response, "RouteResponseKey") == "$default":
                route_id = t.prop(response, "RouteId", references_ok=True) or ""
                two_way_routes.add(t.referenced(route_id, "AWS::ApiGatewayV2::Route"))
        for route in self._of_api("AWS::ApiGatewayV2::Route", api):
            self._raw_route(route, route in two_way_routes)
        return t.prop(api, "Name"), expression, self._stage(api)

    def _of_api(self, kind: str, api: str) -> list[str]:
        return [
            logical_id
            for logical_id in self.t.of_type(kind)
            if self.t.refers_to(self.t.prop(logical_id, "ApiId", references_ok=True), api)
        ]

    def _raw_route(self, route: str, has_route_response: bool) -> None:
        t = self.t
        route_key = t.prop(route, "RouteKey")
        if route_key is None:
            raise t.error("is required", route, "RouteKey")
        target = t.prop(route, "Target", references_ok=True)
        if target is None:
            self.skipped.append(f"{route_key}: route {route} has no Target (no integration)")
            return
        integration = t.referenced(target, "AWS::ApiGatewayV2::Integration")
        if integration is None:
            self.skipped.append(
                f"{route_key}: the Target {printable(target)!r} of route {route}"
                " names no AWS::ApiGatewayV2::Integration of this template"
            )
            return
        kind = t.prop(integration, "IntegrationType")
        expression = t.prop(route, "RouteResponseSelectionExpression")
        request = self.integrations.route_request(
            t.raw_properties(route),
            route_key,
            f"Resources.{route}",
            f"Resources.{route}.Properties",
        )
        if kind in NON_PROXY_TYPES:
            document = self.integrations.integration(integration, kind)
            if isinstance(document, str):
                self.skipped.append(f"{route_key}: {document}")
                return
            spec = RouteSpec(
                route_key,
                None,
                location=f"Resources.{route}",
                two_way=bool(expression) or has_route_response,
                integration=document,
                request=request,
            )
        elif kind != "AWS_PROXY":
            self.skipped.append(
                f"{route_key}: integration {integration} is {kind!r}:"
                " not an integration type of WebSocket APIs"
            )
            return
        else:
            uri = t.prop(integration, "IntegrationUri", references_ok=True)
            if uri is None:
                raise t.error("is required", integration, "IntegrationUri")
            function = self._function(route_key, uri, f"integration {integration}")
            if function is None:
                return
            timeout = self._millis(
                t.raw(integration, "TimeoutInMillis"),
                f"Resources.{integration}.Properties.TimeoutInMillis",
            )
            spec = RouteSpec(
                route_key,
                function,
                location=f"Resources.{route}",
                two_way=bool(expression) or has_route_response,
                integration_timeout=timeout,
                request=request,
            )
        self.routes.append(spec)
        authorization = (t.prop(route, "AuthorizationType") or "NONE").upper()
        if authorization not in ("NONE", "AWS_IAM", "CUSTOM"):
            raise t.error(
                f"must be NONE, AWS_IAM or CUSTOM, got {authorization!r}",
                route,
                "AuthorizationType",
            )
        if authorization != "NONE" and route_key != "$connect":
            t.warnings.append(
                f"Resources.{route}: AWS only authorizes $connect;"
                f" AuthorizationType {authorization} is ignored"
            )
        elif authorization == "AWS_IAM":
            self.authorization_type = authorization
        elif authorization == "CUSTOM":
            authorizer_id = t.prop(route, "AuthorizerId", references_ok=True) or ""
            authorizer = t.referenced(authorizer_id, "AWS::ApiGatewayV2::Authorizer")
            if authorizer is None:
                raise t.error(
                    "names no AWS::ApiGatewayV2::Authorizer of this template", route, "AuthorizerId"
                )
            self._raw_authorizer(authorizer)

    def _raw_authorizer(self, authorizer: str) -> None:
        t = self.t
        kind = (t.prop(authorizer, "AuthorizerType") or "").upper()
        if kind != "REQUEST":
            raise t.error(
                f"must be REQUEST for a WebSocket API, got {kind!r}", authorizer, "AuthorizerType"
            )
        uri = t.prop(authorizer, "AuthorizerUri", references_ok=True)
        if uri is None:
            raise t.error("is required", authorizer, "AuthorizerUri")
        key = f"Resources.{authorizer}.Properties.IdentitySource"
        identity = _strings(t.resolve(t.raw(authorizer, "IdentitySource"), key), key, t.source)
        name = t.prop(authorizer, "Name") or authorizer
        self._authorizer(name, uri, identity, f"Resources.{authorizer}")

    def _stage(self, api: str) -> str | None:
        stages = self._of_api("AWS::ApiGatewayV2::Stage", api)
        if not stages:
            self.t.warnings.append(
                f"Resources.{api}: no AWS::ApiGatewayV2::Stage; serving at stage 'local'"
            )
            return None
        self.top_locations["stage"] = f"Resources.{stages[0]}.Properties.StageName"
        if len(stages) > 1:
            self.t.warnings.append(
                f"Resources.{api}: {len(stages)} stages ({', '.join(stages)});"
                f" serving {stages[0]} only"
            )
        stage = self.t.prop(stages[0], "StageName")
        if stage is None:
            raise self.t.error("is required", stages[0], "StageName")
        return stage

    # AWS::Serverless::WebSocketApi

    def _sam_api(self, api: str) -> tuple[str | None, str, str | None]:
        t = self.t
        where = f"Resources.{api}.Properties"
        self.top_locations.update(
            routeSelectionExpression=f"{where}.RouteSelectionExpression",
            stage=f"{where}.StageName",
        )
        expression = t.prop(api, "RouteSelectionExpression")
        if expression is None:
            raise t.error("is required", api, "RouteSelectionExpression")
        routes = t.raw(api, "Routes")
        if not isinstance(routes, Mapping) or not routes:
            raise t.error("must be a mapping of route keys to routes", api, "Routes")
        for route_key, route in routes.items():
            key = f"{where}.Routes.{route_key}"
            if not isinstance(route, Mapping):
                raise ConfigError("must be a mapping with a FunctionArn", key=key, source=t.source)
            arn = t.text(route.get("FunctionArn"), f"{key}.FunctionArn", references_ok=True)
            if arn is None:
                raise ConfigError("is required", key=f"{key}.FunctionArn", source=t.source)
            function = self._function(str(route_key), arn, f"route {route_key}")
            if function is None:
                continue
            expression_rr = t.text(
                route.get("RouteResponseSelectionExpression"),
                f"{key}.RouteResponseSelectionExpression",
            )
            timeout = self._millis(route.get("IntegrationTimeout"), f"{key}.IntegrationTimeout")
            self.routes.append(
                RouteSpec(
                    str(route_key),
                    function,
                    location=key,
                    two_way=bool(expression_rr),
                    integration_timeout=timeout,
                    request=self.integrations.route_request(route, str(route_key), key, key),
                )
            )
        self._sam_auth(api)
        return t.prop(api, "Name"), expression, t.prop(api, "StageName") or _SAM_DEFAULT_STAGE

    def _sam_auth(self, api: str) -> None:
        t = self.t
        key = f"Resources.{api}.Properties.Auth"
        auth = t.resolve(t.raw(api, "Auth"), key)
        if not isinstance(auth, Mapping):
            return
        kind = str(auth.get("AuthType", "NONE")).upper()
        if kind == "AWS_IAM":
            self.authorization_type = kind
        elif kind == "CUSTOM":
            arn = t.text(auth.get("AuthArn"), f"{key}.AuthArn", references_ok=True)
            if arn is None:
                raise ConfigError("is required", key=f"{key}.AuthArn", source=t.source)
            identity = _strings(auth.get("IdentitySource"), f"{key}.IdentitySource", t.source)
            name = str(auth.get("Name") or f"{api}Authorizer")
            self._authorizer(name, arn, identity, key)
        elif kind != "NONE":
            problem = f"must be NONE, AWS_IAM or CUSTOM, got {kind!r}"
            raise ConfigError(problem, key=f"{key}.AuthType", source=t.source)

    # Shared

    def _function(self, route_key: str, uri: str, via: str) -> FunctionSpec | None:
        logical_id = self.t.function_for(uri)
        if logical_id is None:
            self.skipped.append(
                f"{route_key}: {via} invokes {printable(uri)!r}, not a function of this template"
            )
            return None
        function = self.t.function(logical_id)
        if isinstance(function, str):
            self.skipped.append(f"{route_key}: {function}")
            return None
        return function

    def _authorizer(self, name: str, uri: str, identity: tuple[str, ...], via: str) -> None:
        logical_id = self.t.function_for(uri)
        function = self.t.function(logical_id) if logical_id is not None else None
        if not isinstance(function, FunctionSpec):
            reason = function or f"it invokes {printable(uri)!r}, not a function of this template"
            self.t.warnings.append(f"{via}: {reason}; connections are not authorized locally")
            return
        self.top_locations["authorizer"] = via
        self.authorizer = AuthorizerSpec(
            name=name,
            function=function.name,
            handler=function.handler,
            code_uri=function.code_uri,
            identity_source=identity,
            environment=function.environment,
            timeout=function.timeout,
            spec=function,
        )

    def _millis(self, raw: Any, key: str) -> float | None:
        value = self.t.resolve(raw, key)
        if value is None:
            return None
        seconds = wait_seconds(value)
        if seconds is None:
            raise ConfigError(f"{MILLIS_PROBLEM}, got {value!r}", key=key, source=self.t.source)
        return seconds


def _strings(value: Any, key: str, source: str) -> tuple[str, ...]:
    """IdentitySource: a list of strings, or one comma-separated string."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"must be a list of strings, got {value!r}", key=key, source=source)
    return tuple(item.strip() for item in value)
