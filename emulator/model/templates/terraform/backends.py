"""A Terraform configuration's non-Lambda integrations, as routes.yaml has them.

A pure module. An ``aws_apigatewayv2_integration`` of type ``HTTP_PROXY``,
``HTTP``, ``AWS`` or ``MOCK`` becomes the routes.yaml ``integration:``
mapping (its URI, method, request parameters and templates, template
selection expression, passthrough behaviour, timeout), with its
``aws_apigatewayv2_integration_response`` resources as ``responses``.
"""

from __future__ import annotations

from emulator.model.templates.terraform.configuration import Instance
from emulator.model.templates.terraform.reading import Reader
from emulator.model.templates.terraform.values import has_references, printable

__all__ = ["NON_PROXY_TYPES", "integration_document"]

NON_PROXY_TYPES = ("HTTP_PROXY", "HTTP", "AWS", "MOCK")


def integration_document(r: Reader, integration: Instance, kind: str) -> dict[str, object] | str:
    """The routes.yaml ``integration:`` mapping, or why it cannot be served."""
    if (r.text(integration, "payload_format_version") or "1.0") != "1.0":
        raise r.error("must be 1.0 for a WebSocket API", integration, "payload_format_version")
    document: dict[str, object] = {"type": kind}
    if kind != "MOCK":
        uri = r.text(integration, "integration_uri", references_ok=True)
        if uri is None:
            raise r.error("is required", integration, "integration_uri")
        if has_references(uri):
            shown = printable(uri)
            return f"{integration.address}'s integration_uri {shown!r} is only known once deployed"
        document["uri"] = uri
        document["method"] = (r.text(integration, "integration_method") or "POST").upper()
    for name, key in (
        ("request_parameters", "requestParameters"),
        ("request_templates", "requestTemplates"),
    ):
        strings = r.strings(integration, name)
        if strings:
            document[key] = strings
    for name, key in (
        ("template_selection_expression", "templateSelectionExpression"),
        ("passthrough_behavior", "passthroughBehavior"),
        ("content_handling_strategy", "contentHandlingStrategy"),
    ):
        value = r.text(integration, name)
        if value is not None:
            document[key] = value
    millis = r.millis(integration)
    if millis is not None:
        document["timeout"] = millis
    responses = []
    for response in r.c.instances("aws_apigatewayv2_integration_response"):
        target = r.text(response, "integration_id", references_ok=True)
        if r.referenced(target, "aws_apigatewayv2_integration") is not integration:
            continue
        entry: dict[str, object] = {"key": r.text(response, "integration_response_key")}
        expression = r.text(response, "template_selection_expression")
        if expression is not None:
            entry["templateSelectionExpression"] = expression
        templates = r.strings(response, "response_templates")
        if templates:
            entry["responseTemplates"] = templates
        handling = r.text(response, "content_handling_strategy")
        if handling is not None:
            entry["contentHandlingStrategy"] = handling
        responses.append(entry)
    if responses:
        document["responses"] = responses
    return document
