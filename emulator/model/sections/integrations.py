"""A route's ``integration:`` mapping: ``HTTP_PROXY``, ``HTTP``, ``AWS`` or ``MOCK`` (spec §A).

The Lambda proxy (``AWS_PROXY``) is written as the route's ``handler:`` instead
(:mod:`.routes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.api import Limits
from emulator.model.integration import (
    ContentHandling,
    IntegrationConfig,
    IntegrationResponseConfig,
    IntegrationType,
    PassthroughBehavior,
)
from emulator.model.mapping import mapping_problem
from emulator.model.sections.checks import (
    MAX_WAIT,
    MIN_WAIT,
    check_keys,
    choice,
    mapping,
    seconds,
    show,
    strings,
)
from emulator.model.template_selection import TemplateSelection, compile_template_selection

__all__ = ["parse_integration", "wait"]

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
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
# The types an `integration:` mapping may have; AWS_PROXY is a route's `handler`.
_TYPES = ("HTTP_PROXY", "HTTP", "AWS", "MOCK")


def wait(
    document: Mapping[object, object], where: str, limits: Limits
) -> tuple[float, float | None]:
    """The integration timeout of ``document``, and its own (None: ``limits`` decides)."""
    if "timeout" not in document:
        return limits.integration_timeout, None
    timeout = seconds(document["timeout"], f"{where}.timeout", MIN_WAIT, MAX_WAIT)
    return timeout, timeout


def parse_integration(data: object, where: str, limits: Limits) -> IntegrationConfig:
    document = mapping(data, where, "a mapping with a 'type' key")
    check_keys(document, _INTEGRATION_KEYS, where)
    value = document.get("type")
    hint = " (a Lambda proxy integration is a route's 'handler')" if value == "AWS_PROXY" else ""
    kind = choice(value, IntegrationType, f"{where}.type", required=True, names=_TYPES, hint=hint)
    assert kind is not None
    uri = document.get("uri")
    if kind is IntegrationType.MOCK:
        if uri is not None:
            raise ConfigError(
                "a MOCK integration calls no backend: remove 'uri'", key=f"{where}.uri"
            )
    elif not isinstance(uri, str) or not uri:
        raise ConfigError(f"is required for {kind.value}, got {show(uri)}", key=f"{where}.uri")
    elif kind is IntegrationType.AWS and not uri.startswith("arn:"):
        problem = "must be an AWS service URI such as 'arn:aws:apigateway:us-east-1:sqs:path/"
        raise ConfigError(f"{problem}000000000000/queue', got {uri!r}", key=f"{where}.uri")
    elif kind is not IntegrationType.AWS and not uri.startswith(("http://", "https://")):
        problem = f"must be an http:// or https:// URL, got {uri!r}"
        raise ConfigError(problem, key=f"{where}.uri")
    method = document.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in _HTTP_METHODS:
        problem = f"must be one of {', '.join(_HTTP_METHODS)}, got {show(method)}"
        raise ConfigError(problem, key=f"{where}.method")
    parameters = strings(document.get("requestParameters"), f"{where}.requestParameters")
    for destination, source in parameters.items():
        invalid = mapping_problem(destination, source)
        if invalid is not None:
            raise ConfigError(invalid, key=f"{where}.requestParameters.{destination}")
    timeout, own_timeout = wait(document, where, limits)
    responses = document.get("responses")
    if responses is None:
        responses = []
    if not isinstance(responses, list):
        problem = "must be a list of integration responses, each with a 'key'"
        raise ConfigError(f"{problem}, got {show(responses)}", key=f"{where}.responses")
    passthrough = choice(
        document.get("passthroughBehavior"), PassthroughBehavior, f"{where}.passthroughBehavior"
    )
    return IntegrationConfig(
        type=kind,
        uri=uri if isinstance(uri, str) else None,
        method=method.upper(),
        timeout=timeout,
        request_parameters=MappingProxyType(parameters),
        request_templates=MappingProxyType(
            _templates(document.get("requestTemplates"), f"{where}.requestTemplates")
        ),
        template_selection_expression=_template_selection(
            document.get("templateSelectionExpression"), f"{where}.templateSelectionExpression"
        ),
        passthrough_behavior=passthrough or PassthroughBehavior.WHEN_NO_MATCH,
        content_handling=choice(
            document.get("contentHandlingStrategy"),
            ContentHandling,
            f"{where}.contentHandlingStrategy",
        ),
        responses=tuple(
            _response(item, f"{where}.responses[{index}]") for index, item in enumerate(responses)
        ),
        own_timeout=own_timeout,
    )


def _response(data: object, where: str) -> IntegrationResponseConfig:
    document = mapping(data, where, "a mapping with a 'key' such as '$default' or '/2\\d\\d/'")
    check_keys(document, _RESPONSE_KEYS, where)
    key = document.get("key")
    if not isinstance(key, str) or not key:
        problem = "is required: '$default' or a /regular expression/ of status codes"
        raise ConfigError(f"{problem}, got {show(key)}", key=f"{where}.key")
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
            document.get("templateSelectionExpression"), f"{where}.templateSelectionExpression"
        ),
        MappingProxyType(
            _templates(document.get("responseTemplates"), f"{where}.responseTemplates")
        ),
        choice(
            document.get("contentHandlingStrategy"),
            ContentHandling,
            f"{where}.contentHandlingStrategy",
        ),
    )


def _templates(data: object, key: str) -> dict[str, str]:
    templates = strings(data, key)
    for name, text in templates.items():
        # AWS: mapping templates are at most 300 KB (spec §5).
        if len(text.encode("utf-8")) > 300 * 1024:
            raise ConfigError("is over 300 KB, AWS's limit for a template", key=f"{key}.{name}")
    return templates


def _template_selection(data: object, key: str) -> TemplateSelection | None:
    if data is None:
        return None
    if not isinstance(data, str):
        raise ConfigError(f"must be a string such as '\\$default', got {show(data)}", key=key)
    try:
        return compile_template_selection(data)
    except ConfigError as exc:
        raise exc.at(key) from exc
