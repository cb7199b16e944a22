"""The values routes.yaml's integration, validation and API-key settings become.

A pure module of frozen dataclasses and enums; :mod:`emulator.model.config` builds
them (and is where their keys are validated). Names follow the AWS properties
they stand for (botocore ``apigatewayv2`` ``CreateIntegration``,
``CreateIntegrationResponse``, ``CreateRoute``, ``CreateModel``), in snake_case.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from emulator.model.selection import SelectionExpression
from emulator.model.template_selection import TemplateSelection

__all__ = [
    "API_KEY_HEADER_SELECTION",
    "API_KEY_SELECTION_EXPRESSIONS",
    "ApiKeyConfig",
    "ContentHandling",
    "IntegrationConfig",
    "IntegrationResponseConfig",
    "IntegrationRoute",
    "IntegrationType",
    "ModelConfig",
    "PassthroughBehavior",
    "RouteRequest",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# AWS: "Currently the only two supported values"
# (DG:apigateway-websocket-api-selection-expressions).
API_KEY_HEADER_SELECTION = "$request.header.x-api-key"
API_KEY_SELECTION_EXPRESSIONS = (API_KEY_HEADER_SELECTION, "$context.authorizer.usageIdentifierKey")


class IntegrationType(enum.Enum):
    """The integration types other than ``AWS_PROXY`` (which is ``handler:``)."""

    HTTP_PROXY = "HTTP_PROXY"
    HTTP = "HTTP"
    AWS = "AWS"
    MOCK = "MOCK"


class PassthroughBehavior(enum.Enum):
    """What happens to a request no template matched (spec §A.4.2)."""

    WHEN_NO_MATCH = "WHEN_NO_MATCH"
    WHEN_NO_TEMPLATES = "WHEN_NO_TEMPLATES"
    NEVER = "NEVER"


class ContentHandling(enum.Enum):
    """``contentHandlingStrategy`` (spec §A.4.7)."""

    CONVERT_TO_TEXT = "CONVERT_TO_TEXT"
    CONVERT_TO_BINARY = "CONVERT_TO_BINARY"


@dataclass(frozen=True)
class IntegrationResponseConfig:
    """One integration response: ``key`` is ``$default`` or ``/regex/`` (spec §A.4.5)."""

    key: str
    template_selection_expression: TemplateSelection | None = None
    response_templates: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    content_handling: ContentHandling | None = None


@dataclass(frozen=True)
class IntegrationConfig:
    """A route's integration, as routes.yaml's ``integration:`` declares it.

    ``uri`` is a URL for ``HTTP_PROXY``/``HTTP``, an ``arn:aws:apigateway:...``
    service URI for ``AWS``, None for ``MOCK``. ``request_parameters`` maps
    destinations (``integration.request.header.x``) to sources
    (``context.connectionId``). ``timeout`` is in seconds.
    """

    type: IntegrationType
    uri: str | None
    method: str
    timeout: float
    request_parameters: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    request_templates: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    template_selection_expression: TemplateSelection | None = None
    passthrough_behavior: PassthroughBehavior = PassthroughBehavior.WHEN_NO_MATCH
    content_handling: ContentHandling | None = None
    responses: tuple[IntegrationResponseConfig, ...] = ()
    # The integration's own `timeout`, if it has one (else limits.integrationTimeout).
    own_timeout: float | None = field(default=None, compare=False)

    def describe(self) -> str:
        """``HTTP_PROXY POST http://127.0.0.1:8080/orders``, for logs."""
        if self.uri is None:
            return self.type.value
        return f"{self.type.value} {self.method} {self.uri}"


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
class IntegrationRoute:
    """A route whose integration is not a Lambda handler."""

    route_key: str
    integration: IntegrationConfig
    route_response: bool = False
    request: RouteRequest = field(default_factory=RouteRequest)


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
