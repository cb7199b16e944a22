"""The @connections management API at the wire: paths in, statuses out (spec §4).

The operations themselves act on live connections and live in the app; this
module maps an HTTP request to an operation and an outcome to AWS's response,
for the HTTP endpoint and the botocore interceptor alike.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from emulator.errors import BadRequestError, ForbiddenError, ManagementApiError
from emulator.gateway.events import iso_time
from emulator.wire.messages import HttpResponse

__all__ = [
    "MAX_POST_BYTES",
    "ManagementRequest",
    "Operation",
    "aws_error",
    "check_connection_id",
    "error_response",
    "get_connection_response",
    "parse_management_request",
    "success_response",
]

# AWS: Data is capped at 131072 bytes (botocore model); boto3 does not check it.
MAX_POST_BYTES = 131072

# AWS: ids are 16 chars of URL-safe base64 ending in "="; other shapes get 400
# BadRequestException, well-formed unknown ids 410 (localstack#4694).
_CONNECTION_ID = re.compile(r"[A-Za-z0-9_-]{15}=")


class Operation(enum.Enum):
    POST_TO_CONNECTION = "PostToConnection"
    GET_CONNECTION = "GetConnection"
    DELETE_CONNECTION = "DeleteConnection"


_OPERATIONS = {
    "POST": Operation.POST_TO_CONNECTION,
    "GET": Operation.GET_CONNECTION,
    "DELETE": Operation.DELETE_CONNECTION,
}


@dataclass(frozen=True)
class ManagementRequest:
    operation: Operation
    connection_id: str


def is_management_path(path: str) -> bool:
    """Whether a request path (without query) addresses @connections."""
    return "/@connections" in path or "/%40connections" in path.lower()


def parse_management_request(method: str, path: str, stage: str) -> ManagementRequest:
    """Map ``METHOD /{stage}/@connections/{id}`` to an operation.

    The stage prefix is optional, as with moto; ``@`` may arrive as ``%40``
    (the Developer Guide shows it so), and the id is URL-decoded (botocore
    sends ``=`` as ``%3D``). Raises :class:`ForbiddenError` for a path or method
    that names no operation, :class:`BadRequestError` for a malformed id.
    """
    path = path.split("?", 1)[0]
    segments = path.split("/")
    # ['', stage, '@connections', id] or ['', '@connections', id]
    if len(segments) == 4 and segments[1] == stage:
        segments = ["", *segments[2:]]
    if len(segments) != 3 or unquote(segments[1]) != "@connections":
        raise ForbiddenError(
            f"No method found matching route {path.lstrip('/')} for http method {method}."
        )
    operation = _OPERATIONS.get(method.upper())
    if operation is None:
        raise ForbiddenError(
            f"No method found matching route {path.lstrip('/')} for http method {method}."
        )
    connection_id = unquote(segments[2])
    check_connection_id(connection_id)
    return ManagementRequest(operation, connection_id)


def check_connection_id(connection_id: str) -> None:
    """Raise :class:`BadRequestError` unless ``connection_id`` has AWS's shape."""
    if not _CONNECTION_ID.fullmatch(connection_id):
        raise BadRequestError(f"Invalid connectionId: {connection_id}")


def _json(
    status: int, payload: Any, request_id: str, extra: tuple[tuple[str, str], ...] = ()
) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = (
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        *extra,
    )
    return HttpResponse(status, headers, body)


def error_response(error: ManagementApiError, request_id: str) -> HttpResponse:
    """AWS's rest-json error: boto3 needs ``x-amzn-ErrorType`` to raise the
    modelled exception (spec §4.2)."""
    return aws_error(error.status, error.aws_type, error.message, request_id)


def aws_error(status: int, aws_type: str, message: str | None, request_id: str) -> HttpResponse:
    """A rest-json error response: ``{"message": ...}`` and ``x-amzn-ErrorType``."""
    return _json(status, {"message": message}, request_id, (("x-amzn-ErrorType", aws_type),))


def success_response(operation: Operation, request_id: str) -> HttpResponse:
    """200 with an empty body for Post, 204 for Delete (botocore model)."""
    status = 204 if operation is Operation.DELETE_CONNECTION else 200
    return HttpResponse(status, (("x-amzn-RequestId", request_id),), b"")


def get_connection_response(
    *,
    connected_at_ms: int,
    last_active_ms: int,
    source_ip: str,
    user_agent: str | None,
    request_id: str,
) -> HttpResponse:
    """GetConnection's body: ISO 8601 times, ``userAgent`` null when unknown."""
    return _json(
        200,
        {
            "connectedAt": iso_time(connected_at_ms),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "lastActiveAt": iso_time(last_active_ms),
        },
        request_id,
    )
