"""A Terraform configuration's WebSocket API, reduced to routes and functions.

A pure module but for checking that code folders exist. The API is an
``aws_apigatewayv2_api`` with ``protocol_type = "WEBSOCKET"``; its
``aws_apigatewayv2_route`` resources name an ``aws_apigatewayv2_integration``
by ``target = "integrations/${...id}"``, whose ``integration_uri`` names an
``aws_lambda_function`` (``AWS_PROXY``), or a backend (``HTTP_PROXY``,
``HTTP``, ``AWS``, ``MOCK``, with its ``aws_apigatewayv2_integration_response``
resources). ``$connect``'s ``aws_apigatewayv2_authorizer``, the
``aws_apigatewayv2_stage`` (its name and ``stage_variables``) and two-way
routes (``route_response_selection_expression`` or an
``aws_apigatewayv2_route_response``) are read too.

A function's code is the folder an ``archive_file`` data source zips
(``source_dir``, or the folder of its ``source_file``): the zip itself only
exists once ``terraform plan`` has run. Everything reduces to
:class:`~emulator.model.templates.model.RouteSpec` and
:class:`~emulator.model.templates.model.FunctionSpec` values, which
:func:`~emulator.model.templates.model.build` turns into an ``ApiConfig``.
What cannot be evaluated locally is reported with its file and line.
"""

from __future__ import annotations

from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.api import DEFAULT_ROUTE_SELECTION_EXPRESSION
from emulator.model.templates.intrinsics import ACCOUNT_ID, REGION
from emulator.model.templates.model import (
    AuthorizerSpec,
    FunctionSpec,
    ImportedApi,
    RouteSpec,
    build,
)
from emulator.model.templates.terraform.backends import NON_PROXY_TYPES, integration_document
from emulator.model.templates.terraform.configuration import Configuration, Instance
from emulator.model.templates.terraform.lambdas import Functions
from emulator.model.templates.terraform.reading import Reader, where
from emulator.model.templates.terraform.values import printable, references

__all__ = ["import_api"]


def import_api(
    configuration: Configuration, *, api: str | None, api_id: str | None, source: str
) -> ImportedApi:
    """The WebSocket API ``api`` (an address or a resource name); the only one if None."""
    return _Importer(configuration, source).run(api, api_id)


class _Importer(Reader):
    def __init__(self, configuration: Configuration, source: str) -> None:
        super().__init__(configuration, source)
        self.functions = Functions(self)
        self.routes: list[RouteSpec] = []
        self.skipped: list[str] = []
        self.authorizer: AuthorizerSpec | None = None
        self.authorization_type = "NONE"
        self.top_locations: dict[str, str] = {}

    # The API

    def run(self, wanted: str | None, api_id: str | None) -> ImportedApi:
        api = self._choose(wanted)
        stages = self.of_api("aws_apigatewayv2_stage", api)
        stage = self._stage(api, stages)
        if api_id is not None:
            endpoint = f"wss://{api_id}.execute-api.{REGION}.amazonaws.com"
            execution = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}"
            for name, bound in (
                ("id", api_id),
                ("api_endpoint", endpoint),
                ("execution_arn", execution),
            ):
                self.c.bound[(api.address, name)] = bound
            for instance in stages:
                self.c.bound[(instance.address, "invoke_url")] = f"{endpoint}/{stage}"
        expression = self.text(api, "route_selection_expression")
        self.top_locations["routeSelectionExpression"] = where(api, "route_selection_expression")
        if expression is None:
            self.warnings.append(
                f"{where(api)}: no route_selection_expression (AWS requires one);"
                f" using {DEFAULT_ROUTE_SELECTION_EXPRESSION!r}"
            )
            expression = DEFAULT_ROUTE_SELECTION_EXPRESSION
        two_way: set[str] = set()
        for response in self.of_api("aws_apigatewayv2_route_response", api):
            if self.text(response, "route_response_key") == "$default":
                route_id = self.text(response, "route_id", references_ok=True) or ""
                two_way.update(address for address, _ in references(route_id))
        for route in self.of_api("aws_apigatewayv2_route", api):
            self._route(route, route.address in two_way)
        top: dict[str, object] = {}
        if stages:
            variables = self.strings(stages[0], "stage_variables")
            if variables:
                top["stageVariables"] = variables
        config = build(
            self.routes,
            api=api.address,
            route_selection_expression=expression,
            stage=stage,
            common_environment={},
            base_dir=self.c.directory.absolute(),
            source=self.source,
            top_locations=self.top_locations,
            warnings=self.warnings,
            authorizer=self.authorizer,
            authorization_type=self.authorization_type,
            skipped=self.skipped,
            top=top,
        )
        return ImportedApi(
            config=config,
            api=api.address,
            name=self.text(api, "name"),
            functions=MappingProxyType(
                {r.route_key: r.function.name for r in self.routes if r.function is not None}
            ),
            skipped=tuple(self.skipped),
            warnings=tuple(dict.fromkeys(self.warnings)),
            authorizer=self.authorizer,
        )

    def _choose(self, wanted: str | None) -> Instance:
        apis = [
            instance
            for instance in self.c.instances("aws_apigatewayv2_api")
            if (self.text(instance, "protocol_type") or "").upper() == "WEBSOCKET"
        ]
        listed = ", ".join(api.address for api in apis) or "none"
        if wanted is not None:
            for api in apis:
                if wanted in (api.address, api.name):
                    return api
            raise ConfigError(
                f"no WebSocket API {wanted!r} (its WebSocket APIs: {listed})", source=self.source
            )
        if not apis:
            problem = (
                "no WebSocket API: expected an aws_apigatewayv2_api"
                ' with protocol_type = "WEBSOCKET"'
            )
            raise ConfigError(problem, source=self.source)
        if len(apis) > 1:
            problem = f"{len(apis)} WebSocket APIs ({listed}); choose one with --api ADDRESS"
            raise ConfigError(problem, source=self.source)
        return apis[0]

    def _stage(self, api: Instance, stages: list[Instance]) -> str | None:
        if not stages:
            self.warnings.append(
                f"{where(api)}: no aws_apigatewayv2_stage; serving at stage 'local'"
            )
            return None
        if len(stages) > 1:
            names = ", ".join(stage.address for stage in stages)
            self.warnings.append(
                f"{where(api)}: {len(stages)} stages ({names}); serving {stages[0].address} only"
            )
        self.top_locations["stage"] = where(stages[0], "name")
        name = self.text(stages[0], "name")
        if name is None:
            raise self.error("is required", stages[0], "name")
        return name

    # Routes

    def _route(self, route: Instance, has_route_response: bool) -> None:
        route_key = self.text(route, "route_key")
        if route_key is None:
            raise self.error("is required", route, "route_key")
        target = self.text(route, "target", references_ok=True)
        integration = self.referenced(target, "aws_apigatewayv2_integration")
        if integration is None:
            reason = (
                "has no target"
                if target is None
                else f"target {printable(target)!r} names no integration of this configuration"
            )
            self.skipped.append(f"{route_key}: {route.address} {reason}")
            return
        kind = (self.text(integration, "integration_type") or "").upper()
        two_way = (
            bool(self.text(route, "route_response_selection_expression")) or has_route_response
        )
        request = self._request(route, route_key)
        location = where(route)
        if kind in NON_PROXY_TYPES:
            document = integration_document(self, integration, kind)
            if isinstance(document, str):
                self.skipped.append(f"{route_key}: {document}")
                return
            spec = RouteSpec(
                route_key, None, location, two_way=two_way, integration=document, request=request
            )
        elif kind != "AWS_PROXY":
            self.skipped.append(
                f"{route_key}: {integration.address} is {kind!r}:"
                " not an integration type of WebSocket APIs"
            )
            return
        else:
            function = self.functions.invoked_by(integration, "integration_uri")
            if isinstance(function, str):
                self.skipped.append(f"{route_key}: {function}")
                return
            millis = self.millis(integration)
            spec = RouteSpec(
                route_key,
                function,
                location,
                two_way=two_way,
                integration_timeout=millis,
                request=request,
            )
        self.routes.append(spec)
        self._authorization(route, route_key)

    def _request(self, route: Instance, route_key: str) -> dict[str, object]:
        """The route's routes.yaml request settings: API key, required parameters."""
        settings: dict[str, object] = {}
        if self.value(route, "api_key_required") is True:
            if route_key == "$connect":
                settings["apiKeyRequired"] = True
            else:
                self.warnings.append(
                    f"{where(route, 'api_key_required')}: AWS checks API keys on $connect only;"
                    " it is ignored"
                )
        parameters = {}
        for block in route.nested("request_parameter"):
            values = {name: route.evaluate(a.value) for name, a in block.body.attributes.items()}
            key = str(values.get("request_parameter_key"))
            parameters[key] = {"required": values.get("required") is True}
        if parameters:
            settings["requestParameters"] = parameters
        for name in ("model_selection_expression", "request_models"):
            if route.attribute(name) is not None:
                self.warnings.append(
                    f"{where(route, name)}: request models are not imported from Terraform;"
                    " requests are not validated"
                )
        return settings

    def _authorization(self, route: Instance, route_key: str) -> None:
        authorization = (self.text(route, "authorization_type") or "NONE").upper()
        if authorization not in ("NONE", "AWS_IAM", "CUSTOM"):
            raise self.error(
                f"must be NONE, AWS_IAM or CUSTOM, got {authorization!r}",
                route,
                "authorization_type",
            )
        if authorization != "NONE" and route_key != "$connect":
            self.warnings.append(
                f"{where(route, 'authorization_type')}: AWS only authorizes $connect;"
                f" {authorization} is ignored"
            )
        elif authorization == "AWS_IAM":
            self.authorization_type = authorization
        elif authorization == "CUSTOM":
            authorizer_id = self.text(route, "authorizer_id", references_ok=True)
            authorizer = self.referenced(authorizer_id, "aws_apigatewayv2_authorizer")
            if authorizer is None:
                raise self.error(
                    "names no aws_apigatewayv2_authorizer of this configuration",
                    route,
                    "authorizer_id",
                )
            self._authorizer(authorizer)

    def _authorizer(self, authorizer: Instance) -> None:
        kind = (self.text(authorizer, "authorizer_type") or "").upper()
        if kind != "REQUEST":
            raise self.error(
                f"must be REQUEST for a WebSocket API, got {kind!r}", authorizer, "authorizer_type"
            )
        function = self.functions.invoked_by(authorizer, "authorizer_uri")
        if not isinstance(function, FunctionSpec):
            self.warnings.append(
                f"{where(authorizer)}: {function}; connections are not authorized locally"
            )
            return
        sources = self.value(authorizer, "identity_sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise self.error(
                f"must be a list of strings, got {sources!r}", authorizer, "identity_sources"
            )
        self.top_locations["authorizer"] = where(authorizer)
        self.authorizer = AuthorizerSpec(
            name=self.text(authorizer, "name") or authorizer.address,
            function=function.name,
            handler=function.handler,
            code_uri=function.code_uri,
            identity_source=tuple(sources),
            environment=function.environment,
            timeout=function.timeout,
            spec=function,
        )
