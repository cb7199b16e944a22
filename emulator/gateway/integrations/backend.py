"""A backend integration's run without the I/O: the request API Gateway sends, and what it
does with the answer (spec §A.1 steps 4-11, §A.3, §A.4, §A.6).

A pure module. :func:`request_data` reads a proxy event (the one a Lambda
would get, built by :mod:`emulator.gateway.events`, so that ``$context`` holds exactly
the event's values); :func:`prepare` selects and renders the request template,
applies passthrough and the parameter mapping and builds the backend request
(or, for ``MOCK``, reads the status); the caller sends it; :func:`finish`
turns the backend's answer into an :class:`Outcome`: the handshake status on
``$connect``, the frame of a two-way route, or a failure whose message is one
of AWS's error frames.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from emulator.errors import EmulatorError
from emulator.gateway.integrations.mapping import (
    RouteRequestData,
    map_parameters,
    stringify_context,
)
from emulator.gateway.integrations.mock import DEFAULT_MOCK_STATUS, mock_status
from emulator.gateway.integrations.outcome import Failure, Outcome, failed
from emulator.gateway.integrations.select import (
    passes_through,
    select_integration_response,
    select_request_template,
    select_response_template,
)
from emulator.gateway.integrations.vtl import TemplateError, VtlVariables, params_of, render
from emulator.model.integration import ContentHandling, IntegrationConfig, IntegrationType
from emulator.model.selection import parse_body
from emulator.model.template_selection import SelectionInput

__all__ = [
    "BackendError",
    "BackendRequest",
    "BackendResponse",
    "Prepared",
    "finish",
    "prepare",
    "request_data",
]

# Not forwarded to an HTTP backend: hop-by-hop, and what the client computes itself.
_NOT_FORWARDED: Final = frozenset(
    {"connection", "upgrade", "content-length", "host", "transfer-encoding", "keep-alive", "te"}
)
_PATH_PARAMETER: Final = re.compile(r"\{([a-zA-Z0-9._$-]+)\}")
_STAGE_VARIABLE: Final = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


class BackendError(EmulatorError):
    """The backend could not be reached or did not answer in time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class BackendRequest:
    """An HTTP request to a backend; for ``AWS`` the ``url`` is the service URI."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class BackendResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Prepared:
    """The request side: a request to send, a ``MOCK`` status, or a failure."""

    request: BackendRequest | None = None
    mock_status: int | None = None
    failure: Failure | None = None
    reason: str = ""


def request_data(event: Mapping[str, Any], stage_variables: Mapping[str, str]) -> RouteRequestData:
    """What mappings and templates read, from a CONNECT, MESSAGE or DISCONNECT event."""
    context = dict(event["requestContext"])
    authorizer = context.get("authorizer")
    if isinstance(authorizer, Mapping):
        # AWS: authorizer context values reach templates as strings (spec §A.5.1).
        context["authorizer"] = {k: stringify_context(v) for k, v in authorizer.items()}
    body = event.get("body") or ""
    document: object = None
    is_json = False
    if context.get("eventType") == "MESSAGE":
        with contextlib.suppress(ValueError):
            document, is_json = parse_body(body), True
    return RouteRequestData(
        body=body,
        document=document,
        is_json=is_json,
        headers=event.get("multiValueHeaders") or {},
        query=event.get("multiValueQueryStringParameters") or {},
        context=context,
        stage_variables=stage_variables,
    )


def _variables(data: RouteRequestData) -> VtlVariables:
    return VtlVariables(
        body=data.body,
        document=data.document,
        is_json=data.is_json,
        context=data.context,
        stage_variables=data.stage_variables,
        params=params_of(data.headers, data.query),
    )


def prepare(
    integration: IntegrationConfig,
    data: RouteRequestData,
    *,
    api_id: str,
    port: int,
    trace: str,
    raw_query: str | None = None,
    proto: str = "http",
) -> Prepared:
    """Steps 4-7 of spec §A.1, then the request to send."""
    event_type = data.context.get("eventType")
    kind = integration.type
    payload = data.body
    if kind is not IntegrationType.HTTP_PROXY:
        given = SelectionInput(document=data.document if data.is_json else None)
        chosen = select_request_template(
            integration.request_templates, integration.template_selection_expression, given
        )
        if chosen is None:
            if not passes_through(
                integration.passthrough_behavior, bool(integration.request_templates)
            ):
                reason = (
                    "no request template matched and passthroughBehavior is"
                    f" {integration.passthrough_behavior.value}"
                )
                return Prepared(failure=Failure.UNSUPPORTED_MEDIA_TYPE, reason=reason)
        else:
            try:
                payload = render(chosen[1], _variables(data))
            except TemplateError as exc:
                return Prepared(failure=Failure.INTERNAL, reason=f"request template {exc}")
        if kind is IntegrationType.MOCK:
            status = DEFAULT_MOCK_STATUS if chosen is None else mock_status(payload)
            if status is None:
                reason = (
                    "Unable to parse statusCode. It should be an integer that is defined"
                    f" in the request template, got {payload[:200]!r}"
                )
                return Prepared(failure=Failure.INTERNAL, reason=reason)
            return Prepared(mock_status=status)
    elif event_type != "MESSAGE":
        payload = ""  # AWS: no body on $connect and $disconnect (localstack#5851)
    body = payload.encode("utf-8")
    if integration.content_handling is ContentHandling.CONVERT_TO_BINARY:
        try:
            body = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            return Prepared(failure=Failure.INTERNAL, reason=f"CONVERT_TO_BINARY: {exc}")
    mapped = map_parameters(integration.request_parameters, data)
    assert integration.uri is not None  # only MOCK has none
    url = _STAGE_VARIABLE.sub(
        lambda m: quote(data.stage_variables.get(m.group(1), ""), safe=""), integration.uri
    )
    url = _PATH_PARAMETER.sub(lambda m: quote(mapped.path.get(m.group(1), ""), safe=""), url)
    queries = []
    if kind is IntegrationType.HTTP_PROXY and event_type == "CONNECT" and raw_query:
        queries.append(raw_query)  # AWS passes the client's query string through (§A.3.1)
    if mapped.querystring:
        queries.append(urlencode(mapped.querystring))
    if queries:
        url += ("&" if "?" in url else "?") + "&".join(queries)
    headers = _gateway_headers(data, kind, api_id=api_id, port=port, proto=proto, trace=trace)
    if body or event_type == "MESSAGE":
        # UNKNOWN on AWS; the spec recommends application/json unless mapped (§A.11 #4).
        headers.append(("Content-Type", "application/json"))
    mapped_names = {name.lower() for name, _ in mapped.headers}
    headers = [(n, v) for n, v in headers if n.lower() not in mapped_names]
    headers.extend(mapped.headers)
    return Prepared(BackendRequest(integration.method, url, tuple(headers), body))


def _gateway_headers(
    data: RouteRequestData,
    kind: IntegrationType,
    *,
    api_id: str,
    port: int,
    proto: str,
    trace: str,
) -> list[tuple[str, str]]:
    event_type = data.context.get("eventType")
    if kind is IntegrationType.HTTP_PROXY and event_type == "CONNECT":
        # The client's handshake headers, passed through, with API Gateway's
        # own (X-Forwarded-*, X-Amzn-Trace-Id are among them already).
        forwarded = [
            (name, value)
            for name, values in data.headers.items()
            if name.lower() not in _NOT_FORWARDED
            for value in values
        ]
        return [*forwarded, ("X-Amzn-Apigateway-Api-Id", api_id)]
    identity = data.context.get("identity")
    source_ip = identity.get("sourceIp", "") if isinstance(identity, Mapping) else ""
    return [
        ("User-Agent", f"AmazonAPIGateway_{api_id}"),
        ("X-Amzn-Apigateway-Api-Id", api_id),
        ("X-Amzn-Trace-Id", trace),
        ("X-Forwarded-For", source_ip),
        # AWS: 443 and https; here the port and scheme clients use (spec §2.2 rule 3).
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", proto),
    ]


def finish(
    integration: IntegrationConfig,
    data: RouteRequestData,
    response: BackendResponse,
    *,
    two_way: bool,
) -> Outcome:
    """Steps 9-11 of spec §A.1 for a backend (or ``MOCK``) answer."""
    event_type = data.context.get("eventType")
    status = response.status
    if integration.type is IntegrationType.HTTP_PROXY:
        if event_type == "CONNECT":
            # AWS: only Sec-WebSocket-Protocol reaches the 101 (spec §3.1).
            subprotocol = _header(response.headers, "sec-websocket-protocol")
            return Outcome(status, subprotocol=subprotocol)
        if event_type == "MESSAGE" and two_way:
            # AWS: the body, unchanged; status and headers are dropped (§A.3.2).
            return Outcome(status, frame=response.body.decode("utf-8", "replace"))
        return Outcome(status)
    if event_type == "CONNECT":
        reason = ""
        if not integration.responses:
            # UNKNOWN on AWS, which wants one; accepted with a warning (§A.4.4).
            reason = "no integration response is configured (AWS needs one on $connect)"
        return Outcome(status, reason=reason)
    if event_type != "MESSAGE" or not two_way:
        return Outcome(status)
    selected = select_integration_response(integration.responses, str(status))
    if selected is None:
        reason = "No match for output mapping and no default output mapping configured"
        return failed(Failure.INTERNAL, f"{reason} (status {status})")
    text = _response_text(response.body, selected.content_handling)
    document: object = None
    is_json = False
    with contextlib.suppress(ValueError):
        document, is_json = json.loads(text), True
    given = SelectionInput(
        document=data.document if data.is_json else None,
        status_code=status,
        headers=response.headers,
    )
    template = select_response_template(selected, given)
    frame = text
    if template is not None:
        variables = VtlVariables(
            body=text,
            document=document,
            is_json=is_json,
            context=data.context,
            stage_variables=data.stage_variables,
            params=params_of(data.headers, data.query),
        )
        try:
            frame = render(template, variables)
        except TemplateError as exc:
            return failed(Failure.INTERNAL, f"response template {exc}")
    if selected.content_handling is ContentHandling.CONVERT_TO_BINARY:
        try:
            return Outcome(status, frame=base64.b64decode(frame, validate=True))
        except binascii.Error as exc:
            return failed(Failure.INTERNAL, f"CONVERT_TO_BINARY: {exc}")
    return Outcome(status, frame=frame)


def _response_text(body: bytes, handling: ContentHandling | None) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        if handling is ContentHandling.CONVERT_TO_TEXT:
            return base64.b64encode(body).decode("ascii")
        return body.decode("utf-8", "replace")


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for header, value in headers:
        if header.lower() == name:
            return value
    return None
