"""What a route calls: its integration (spec §A.0).

A pure module of frozen dataclasses and enums. ``AWS_PROXY`` is the Lambda
proxy integration (:class:`LambdaIntegration`, a routes.yaml ``handler:``);
``HTTP_PROXY``, ``HTTP``, ``AWS`` and ``MOCK`` are :class:`IntegrationConfig`
(a routes.yaml ``integration:``). Names follow the AWS properties they stand
for (botocore ``apigatewayv2`` ``CreateIntegration``,
``CreateIntegrationResponse``), in snake_case.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from emulator.model.function import FunctionConfig
from emulator.model.template_selection import TemplateSelection

__all__ = [
    "ContentHandling",
    "Integration",
    "IntegrationConfig",
    "IntegrationResponseConfig",
    "IntegrationType",
    "LambdaIntegration",
    "PassthroughBehavior",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})


class IntegrationType(enum.Enum):
    """botocore ``apigatewayv2`` ``IntegrationType``."""

    AWS_PROXY = "AWS_PROXY"
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
class LambdaIntegration:
    """``AWS_PROXY``: the route invokes ``function`` with a proxy event (spec §2).

    ``timeout`` is how long API Gateway waits (the integration timeout, 29 s
    at most); ``own_timeout`` is the route's own ``timeout`` if it has one
    (else ``limits.integrationTimeout`` applies).
    """

    function: FunctionConfig
    timeout: float
    own_timeout: float | None = field(default=None, compare=False)

    type: ClassVar[IntegrationType] = IntegrationType.AWS_PROXY

    def describe(self) -> str:
        """The handler, ``handlers.chat.on_connect``, for logs."""
        return self.function.handler


@dataclass(frozen=True)
class IntegrationResponseConfig:
    """One integration response: ``key`` is ``$default`` or ``/regex/`` (spec §A.4.5)."""

    key: str
    template_selection_expression: TemplateSelection | None = None
    response_templates: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    content_handling: ContentHandling | None = None


@dataclass(frozen=True)
class IntegrationConfig:
    """A ``HTTP_PROXY``, ``HTTP``, ``AWS`` or ``MOCK`` integration.

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


Integration = LambdaIntegration | IntegrationConfig
