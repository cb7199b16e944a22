"""``AWS`` integrations: SigV4-signed calls to an AWS service endpoint (spec §A.4.3).

An adapter. It imports botocore (as :mod:`emulator.runtime.boto` and
:mod:`emulator.gateway.access.sigv4` do) for its SigV4 signer only, so that a request is
signed exactly as an AWS SDK would sign it. Requests are sent by :class:`~.http.HttpClient`.

API Gateway calls the service in the integration URI,
``arn:aws:apigateway:{region}:{service}:action/{Action}`` or
``...:{service}:path/{path}``. Locally that is the endpoint the user
configures: ``awsEndpoints.<service>`` in routes.yaml, else the SDKs'
``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL`` variables (a LocalStack,
moto or ElasticMQ server); with none the call fails as a configuration error
(``Internal server error``). It is signed with the process's
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (``test``/``test`` if unset),
the credentials local servers accept; ``CredentialsArn`` is not assumed.

* ``action/X`` on a JSON-protocol service (Kinesis, DynamoDB, Step Functions,
  EventBridge...) posts the rendered template to ``/`` with
  ``X-Amz-Target: <prefix>.X`` (as LocalStack's legacy integration does);
  on a query-protocol service (SNS, SQS...) it adds ``Action=X`` to the URL.
* ``path/P`` sends the request to ``/P`` (SQS: ``path/{account}/{queue}``).

AWS answers API Gateway in JSON even for query-protocol services
(``{"SendMessageResponse": {...}}``, spec §A.4.3): an XML answer from a local
server is converted to that JSON shape.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.gateway.integrations.backend import BackendError, BackendRequest, BackendResponse
from emulator.gateway.integrations.http import HttpClient

__all__ = ["ServiceTarget", "call_service", "endpoint_for", "json_from_xml", "parse_service_uri"]

_URI: Final = re.compile(r"arn:[a-z-]+:apigateway:([a-z0-9-]*):([A-Za-z0-9.-]+):(action|path)/(.*)")
# JSON-protocol services: target prefix and JSON version (botocore service models).
_JSON_TARGETS: Final = {
    "kinesis": ("Kinesis_20131202", "1.1"),
    "dynamodb": ("DynamoDB_20120810", "1.0"),
    "states": ("AWSStepFunctions", "1.0"),
    "events": ("AWSEvents", "1.1"),
    "firehose": ("Firehose_20150804", "1.1"),
    "logs": ("Logs_20140328", "1.1"),
}
# The SDKs' service ids for AWS_ENDPOINT_URL_<ID>, where not the upper-cased name.
_ENDPOINT_IDS: Final = {"states": "SFN", "events": "EVENTBRIDGE", "logs": "CLOUDWATCH_LOGS"}


@dataclass(frozen=True)
class ServiceTarget:
    """What an integration URI names: ``kind`` is ``action`` or ``path``."""

    region: str
    service: str
    kind: str
    value: str


def parse_service_uri(uri: str) -> ServiceTarget | None:
    match = _URI.fullmatch(uri)
    if match is None:
        return None
    region, service, kind, value = match.groups()
    # `{subdomain}.{service}` (e.g. `bucket.s3`): the service is the last part.
    return ServiceTarget(region, service.rpartition(".")[2], kind, value)


def endpoint_for(
    service: str, configured: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """The local endpoint URL for ``service``, or None."""
    if service in configured:
        return configured[service]
    name = _ENDPOINT_IDS.get(service, service.upper().replace("-", "_"))
    return environ.get(f"AWS_ENDPOINT_URL_{name}") or environ.get("AWS_ENDPOINT_URL")


def service_request(
    target: ServiceTarget, request: BackendRequest, endpoint: str
) -> BackendRequest:
    """The HTTP request for a service call (unsigned)."""
    base = endpoint.rstrip("/")
    headers = [(n, v) for n, v in request.headers if n.lower() != "accept"]
    headers.append(("Accept", "application/json"))
    if target.kind == "path":
        url = f"{base}/{target.value.lstrip('/')}"
    elif target.service in _JSON_TARGETS:
        prefix, version = _JSON_TARGETS[target.service]
        url = f"{base}/"
        headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
        headers += [
            ("X-Amz-Target", f"{prefix}.{target.value}"),
            ("Content-Type", f"application/x-amz-json-{version}"),
        ]
    else:
        url = f"{base}/?Action={target.value}"
    return replace(request, url=url, headers=tuple(headers))


def sign(
    request: BackendRequest, *, region: str, service: str, environ: Mapping[str, str]
) -> BackendRequest:
    """``request`` with SigV4 headers added (botocore's signer)."""
    credentials = Credentials(
        environ.get("AWS_ACCESS_KEY_ID") or "test",
        environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        environ.get("AWS_SESSION_TOKEN") or None,
    )
    aws_request = AWSRequest(
        method=request.method, url=request.url, data=request.body, headers=dict(request.headers)
    )
    SigV4Auth(credentials, service, region).add_auth(aws_request)
    return replace(request, headers=tuple((str(n), str(v)) for n, v in aws_request.headers.items()))


async def call_service(
    client: HttpClient,
    request: BackendRequest,
    *,
    endpoints: Mapping[str, str],
    environ: Mapping[str, str],
    default_region: str,
) -> BackendResponse:
    """Call the service ``request.url`` names; raises :class:`BackendError`."""
    target = parse_service_uri(request.url)
    if target is None:
        raise BackendError(f"not an AWS service integration URI: {request.url!r}")
    endpoint = endpoint_for(target.service, endpoints, environ)
    if endpoint is None:
        name = _ENDPOINT_IDS.get(target.service, target.service.upper())
        raise BackendError(
            f"no local endpoint for {target.service!r}: set awsEndpoints.{target.service} in"
            f" routes.yaml or AWS_ENDPOINT_URL_{name} (e.g. a LocalStack or moto server)"
        )
    region = target.region or default_region
    signed = sign(
        service_request(target, request, endpoint),
        region=region,
        service=target.service,
        environ=environ,
    )
    response = await client.send(signed)
    content_type = next((v for n, v in response.headers if n.lower() == "content-type"), "")
    if "xml" in content_type:
        converted = json_from_xml(response.body)
        if converted is not None:
            headers = [(n, v) for n, v in response.headers if n.lower() != "content-type"]
            headers.append(("Content-Type", "application/json"))
            return BackendResponse(response.status, tuple(headers), converted)
    return response


def json_from_xml(body: bytes) -> bytes | None:
    """``<A><B>x</B></A>`` as ``{"A": {"B": "x"}}``: how AWS answers in JSON; None if not XML."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    return json.dumps({_local(root.tag): _element(root)}, separators=(",", ":")).encode()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _element(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return element.text
    value: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        item = _element(child)
        if name in value:
            existing = value[name]
            value[name] = [*existing, item] if isinstance(existing, list) else [existing, item]
        else:
            value[name] = item
    return value
