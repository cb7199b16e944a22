"""Choosing templates and integration responses (spec §A.4.1, §A.4.2, §A.4.5, §A.4.6).

A pure module.

* Request template: the integration's template selection expression picks a
  key of ``requestTemplates``; without an expression the key is the request's
  content type, ``application/json``; "All of them will fall back to the
  ``$default`` template if a matching template is not found"
  (DG:apigateway-websocket-api-routes-integrations).
* Passthrough: what happens when no template was selected (botocore
  ``PassthroughBehavior``): ``WHEN_NO_MATCH`` passes the body through,
  ``WHEN_NO_TEMPLATES`` only when there are no templates at all, ``NEVER``
  rejects (415).
* Integration response: the one whose ``/regex/`` key fully matches the
  selection value (the status code), else ``$default`` (regex semantics are
  [UNKNOWN]; Java's ``matches()`` is a full match).
* Response template: the response's expression picks a key, else ``$default``,
  else the first template; no templates at all passes the body through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from emulator.model.integration import IntegrationResponseConfig, PassthroughBehavior
from emulator.model.template_selection import SelectionInput, TemplateSelection

__all__ = [
    "DEFAULT_KEY",
    "passes_through",
    "select_integration_response",
    "select_request_template",
    "select_response_template",
]

DEFAULT_KEY = "$default"
_CONTENT_TYPE = "application/json"


def _normalised(templates: Mapping[str, str]) -> dict[str, str]:
    # A key written `\$default` (SP:apigw-websocket-api-fargate-cdk) means `$default`.
    return {(k[1:] if k.startswith("\\$") else k): v for k, v in templates.items()}


def select_request_template(
    templates: Mapping[str, str],
    expression: TemplateSelection | None,
    given: SelectionInput,
    content_type: str = _CONTENT_TYPE,
) -> tuple[str, str] | None:
    """The selected ``(key, template)``, or None when no template applies."""
    norm = _normalised(templates)
    key = expression.evaluate(given) if expression is not None else content_type
    if key in norm:
        return key, norm[key]
    if DEFAULT_KEY in norm:
        return DEFAULT_KEY, norm[DEFAULT_KEY]
    return None


def passes_through(behavior: PassthroughBehavior, has_templates: bool) -> bool:
    """Whether a request no template was selected for goes to the backend as is."""
    if behavior is PassthroughBehavior.WHEN_NO_MATCH:
        return True
    if behavior is PassthroughBehavior.WHEN_NO_TEMPLATES:
        return not has_templates
    return False


def select_integration_response(
    responses: Sequence[IntegrationResponseConfig], value: str
) -> IntegrationResponseConfig | None:
    """The integration response for a selection value (a status code); None if none."""
    default = None
    for response in responses:
        if response.key == DEFAULT_KEY:
            default = response
        elif re.fullmatch(response.key[1:-1], value):
            return response
    return default


def select_response_template(
    response: IntegrationResponseConfig, given: SelectionInput
) -> str | None:
    """The response template to render, or None to pass the body through."""
    norm = _normalised(response.response_templates)
    if not norm:
        return None
    expression = response.template_selection_expression
    if expression is not None:
        key = expression.evaluate(given)
        if key in norm:
            return norm[key]
    if DEFAULT_KEY in norm:
        return norm[DEFAULT_KEY]
    return next(iter(norm.values()))
