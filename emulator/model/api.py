"""The API model: one immutable value per thing routes.yaml (or a template) declares.

A pure module of frozen dataclasses. :mod:`emulator.model.config` builds them
from a document, validating every key; everything downstream reads them and
never changes them (a reload builds a new :class:`ApiConfig`).

::

    ApiConfig
    ├── routes: RouteConfig per route key, in file order
    │   ├── integration: LambdaIntegration (AWS_PROXY, a FunctionConfig)
    │   │                or IntegrationConfig (HTTP_PROXY, HTTP, AWS, MOCK)
    │   └── request: RouteRequest (models, required parameters, API key)
    ├── functions: FunctionConfig per function name
    ├── authorizer: AuthorizerConfig (a FunctionConfig) on $connect
    ├── resources: AwsResource per logical id (tables, queues, topics, buckets)
    └── limits, stage, environment, stage variables, models, API keys...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.function import FunctionConfig
from emulator.model.integration import Integration, LambdaIntegration
from emulator.model.resources import AwsResource
from emulator.model.selection import SelectionExpression

__all__ = [
    "API_KEY_HEADER_SELECTION",
    "API_KEY_SELECTION_EXPRESSIONS",
    "AUTHORIZATION_TYPES",
    "DEFAULT_ROUTE_SELECTION_EXPRESSION",
    "MAX_ROUTES",
    "PREDEFINED_ROUTES",
    "ApiConfig",
    "ApiKeyConfig",
    "AuthorizerConfig",
    "Limits",
    "ModelConfig",
    "RouteConfig",
    "RouteRequest",
]

# The Serverless Framework's default; the AWS API itself requires the property.
DEFAULT_ROUTE_SELECTION_EXPRESSION = "$request.body.action"
PREDEFINED_ROUTES = frozenset({"$connect", "$disconnect", "$default"})
# AWS quota "Routes per API" (Developer Guide, "Quotas for configuring and running a WebSocket").
MAX_ROUTES = 300
# AWS: the authorization of $connect (botocore apigatewayv2 AuthorizationType).
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM")
# AWS: "Currently the only two supported values"
# (DG:apigateway-websocket-api-selection-expressions).
API_KEY_HEADER_SELECTION = "$request.header.x-api-key"
API_KEY_SELECTION_EXPRESSIONS = (API_KEY_HEADER_SELECTION, "$context.authorizer.usageIdentifierKey")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Limits:
    """AWS's WebSocket quotas (spec §5); seconds and bytes, shrinkable for tests."""

    idle_timeout: float = 600.0
    max_connection_duration: float = 7200.0
    integration_timeout: float = 29.0
    frame_size: int = 32768
    message_size: int = 131072
    # Lambda's, not API Gateway's: an account's concurrent executions (1,000).
    concurrency: int = 1000


@dataclass(frozen=True)
class RouteRequest:
    """What a route asks of its requests, whatever its integration.

    ``request_parameters`` maps ``route.request.querystring.x`` (or ``header``)
    to whether it is required (spec §A.7.2); ``request_models`` maps a model
    selection key to a model name (§A.7.1).
    """

    model_selection_expression: SelectionExpression | None = None
    request_models: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    request_parameters: Mapping[str, bool] = field(default_factory=lambda: _EMPTY)
    api_key_required: bool = False

    @property
    def validates(self) -> bool:
        """Whether message bodies are validated against a model."""
        return self.model_selection_expression is not None


@dataclass(frozen=True)
class RouteConfig:
    """One route: its key, its integration, and how its result is treated."""

    route_key: str
    integration: Integration
    route_response: bool = False
    # Request validation, required parameters and the API key (spec §A.7, §A.8).
    request: RouteRequest = field(default_factory=RouteRequest)

    @property
    def timeout(self) -> float:
        """How long API Gateway waits for the integration, in seconds."""
        return self.integration.timeout

    @property
    def function(self) -> FunctionConfig | None:
        """The Lambda function of an ``AWS_PROXY`` route; None for other integrations."""
        integration = self.integration
        return integration.function if isinstance(integration, LambdaIntegration) else None


@dataclass(frozen=True)
class AuthorizerConfig:
    """A Lambda REQUEST authorizer on $connect (spec §6).

    ``timeout`` is how long API Gateway waits for it; ``own_timeout`` the
    authorizer's own ``timeout``, if it has one (else ``limits.integrationTimeout``).
    """

    function: FunctionConfig
    identity_source: tuple[str, ...] = ()
    timeout: float = 29.0
    own_timeout: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ModelConfig:
    """A request model: a JSON schema (draft 4 unless its ``$schema`` says otherwise)."""

    name: str
    schema: Mapping[str, Any]
    content_type: str = "application/json"


@dataclass(frozen=True)
class ApiKeyConfig:
    """An API key accepted on ``$connect`` (spec §A.8).

    ``stages`` None means every stage (the key's usage plan lists this API's).
    """

    id: str
    value: str
    name: str | None = None
    enabled: bool = True
    stages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ApiConfig:
    """A validated API: routes in file order and what applies to all of them."""

    routes: Mapping[str, RouteConfig]
    route_selection_expression: SelectionExpression
    stage: str = "local"
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    limits: Limits = Limits()
    base_dir: Path = Path(".")
    source: str = "routes.yaml"
    # Every Lambda function, by name: the routes' and the authorizer's.
    functions: Mapping[str, FunctionConfig] = field(default_factory=lambda: _EMPTY)
    # How $connect is authorized: NONE, AWS_IAM (SigV4) or CUSTOM (the authorizer).
    authorization_type: str = "NONE"
    authorizer: AuthorizerConfig | None = None
    # AWS_IAM: access key id -> secret key; empty means the process environment's.
    iam_credentials: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    stage_variables: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    models: Mapping[str, ModelConfig] = field(default_factory=lambda: _EMPTY)
    api_keys: tuple[ApiKeyConfig, ...] = ()
    api_key_selection_expression: str = API_KEY_HEADER_SELECTION
    # AWS integrations: service name (sqs, kinesis...) -> the endpoint URL called locally.
    aws_endpoints: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # The API's id and region, when the document pins them (else the emulator picks).
    api_id: str | None = None
    region: str | None = None
    # Keys as the source file writes them, for errors found after parsing (a
    # template's `Resources.Fn.Properties.Handler` for `functions.Fn.handler`).
    locations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def located(self, error: ConfigError) -> ConfigError:
        """``error`` at its key as the source file writes it, and with the source."""
        key = self.locations.get(error.key, error.key)
        located = ConfigError(error.problem, key=key, source=self.source)
        located.__cause__ = error.__cause__
        return located

    # Tables, queues, topics and buckets, by logical id: what --mock-aws creates.
    resources: Mapping[str, AwsResource] = field(default_factory=lambda: _EMPTY)
    # Whether the AWS services handlers call are mocked in-process (moto).
    mock_aws: bool = False

    @property
    def route_keys(self) -> tuple[str, ...]:
        """Every route key, in file order."""
        return tuple(self.routes)

    def route_request(self, route_key: str) -> RouteRequest | None:
        """The request settings of a route; None for an unknown key."""
        route = self.routes.get(route_key)
        return route.request if route is not None else None
