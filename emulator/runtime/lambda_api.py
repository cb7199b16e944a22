"""Lambda's ``Invoke`` API, requests in and responses out (lambda-runtime-spec §5).

A pure module: what boto3's ``lambda.invoke`` sends, and what Lambda answers.
``POST /2015-03-31/functions/{FunctionName}/invocations`` with the
invocation type in ``X-Amz-Invocation-Type`` (``RequestResponse``, ``Event``,
``DryRun``). A function's result is marshalled as the Python runtime does it
(simplejson: ``Decimal`` as a number, a namedtuple as an object), a function
that failed gives its error object with ``X-Amz-Function-Error: Unhandled``,
and API errors carry ``x-amzn-ErrorType`` so that boto3 raises the modelled
exception. :mod:`.lambda_service` runs the invocations.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import simplejson

from emulator.runtime.context import ACCOUNT_ID, ClientContext
from emulator.runtime.invocation import Invocation, InvocationOutcome
from emulator.wire.messages import HttpResponse

__all__ = [
    "INVOKE_PATH",
    "InvokeRequest",
    "LambdaApiError",
    "accepted",
    "error_object",
    "event_of",
    "function_error_response",
    "invoke_path",
    "log_tail",
    "marshal",
    "not_found",
    "parse_invoke",
    "resolve_name",
    "result_response",
]

INVOKE_PATH: Final = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
# AWS: 6 MB synchronous, 1 MB asynchronous payloads (spec §5.3; UNKNOWN which async
# limit applies today: the spec recommends the API model's 1 MB).
MAX_SYNC_PAYLOAD: Final = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD: Final = 1024 * 1024
_TYPES: Final = ("RequestResponse", "Event", "DryRun")
# name, name:qualifier, 123456789012:function:name[:q], arn:aws:lambda:r:a:function:name[:q]
_ARN: Final = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[^:]+))?"
)
_LOG_TAIL: Final = 4096


class LambdaApiError(Exception):
    """An answer of the Invoke API other than the function's (spec §5.3)."""

    def __init__(self, status: int, error_type: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.extra = extra

    def response(self, request_id: str) -> HttpResponse:
        body = {"Type": "User", "message": self.message, **self.extra}
        if self.error_type == "ResourceNotFoundException":
            body = {"Message": self.message, "Type": "User"}
        return HttpResponse(
            self.status,
            (
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", self.error_type),
            ),
            json.dumps(body).encode(),
        )


@dataclass(frozen=True)
class InvokeRequest:
    """One ``Invoke``: which function, how, with what."""

    function_name: str  # as given, for messages
    name: str  # the function's name
    qualifier: str | None
    invocation_type: str
    payload: bytes
    tail: bool = False  # LogType: Tail
    client_context: ClientContext | None = None


def invoke_path(target: str) -> str | None:
    """The ``FunctionName`` of an Invoke API path (with or without a query), or None."""
    match = INVOKE_PATH.fullmatch(urlsplit(target).path)
    return unquote(match.group(1)) if match else None


def resolve_name(
    function_name: str, qualifier: str | None, *, region: str
) -> tuple[str, str | None]:
    """The function's name and qualifier, from any of the ``FunctionName`` forms.

    Raises :class:`LambdaApiError` (404) for another region or account, and
    (400) for a qualifier given twice and different.
    """
    match = _ARN.fullmatch(function_name)
    if match is None:
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{function_name}' at 'functionName'"
            " failed to satisfy constraint: Member must satisfy regular expression pattern",
        )
    name, own = match.group("name"), match.group("qualifier")
    if own and qualifier and own != qualifier:
        # UNKNOWN on AWS; the spec recommends this (§5.1).
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    qualifier = own or qualifier
    elsewhere = (match.group("region") or region) != region or (
        match.group("account") or ACCOUNT_ID
    ) != ACCOUNT_ID
    if elsewhere:
        raise not_found(name, qualifier, region, match.group("account"), match.group("region"))
    return name, qualifier


def not_found(
    name: str,
    qualifier: str | None,
    region: str,
    account: str | None = None,
    in_region: str | None = None,
) -> LambdaApiError:
    arn = f"arn:aws:lambda:{in_region or region}:{account or ACCOUNT_ID}:function:{name}"
    if qualifier:
        arn += f":{qualifier}"
    return LambdaApiError(404, "ResourceNotFoundException", f"Function not found: {arn}")


def parse_invoke(
    function_name: str, query: str, headers: Sequence[tuple[str, str]], body: bytes, *, region: str
) -> InvokeRequest:
    """An Invoke request from its parts; raises :class:`LambdaApiError`."""
    values = {name.lower(): value for name, value in headers}
    qualifier = None
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        if key == "Qualifier":
            qualifier = unquote(value)
    name, qualifier = resolve_name(function_name, qualifier, region=region)
    kind = values.get("x-amz-invocation-type", "RequestResponse")
    if kind not in _TYPES:
        raise LambdaApiError(
            400,
            "InvalidParameterValueException",
            f"Invocation type {kind!r} is not one of {', '.join(_TYPES)}",
        )
    limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
    if len(body) > limit:
        if kind == "Event":
            message = f"{len(body)} byte payload is too large for the Event invocation type"
            message += f" (limit {limit} bytes)"
        else:
            message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        raise LambdaApiError(413, "RequestEntityTooLargeException", message)
    if body.strip():
        try:
            json.loads(body)
        except ValueError as exc:
            raise LambdaApiError(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {exc}",
            ) from None
    return InvokeRequest(
        function_name,
        name,
        qualifier,
        kind,
        body,
        values.get("x-amz-log-type") == "Tail",
        _client_context(values.get("x-amz-client-context")),
    )


def _client_context(header: str | None) -> ClientContext | None:
    if not header:
        return None
    try:
        document = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise LambdaApiError(
            400,
            "InvalidRequestContentException",
            f"Client context must be a valid Base64-encoded JSON object: {exc}",
        ) from None
    return ClientContext(document if isinstance(document, Mapping) else {})


def event_of(payload: bytes) -> Any:
    """The event the function gets: the payload's JSON, ``{}`` for none (spec §3.3)."""
    return json.loads(payload) if payload.strip() else {}


def marshal(value: Any) -> bytes:
    """A result as the Python runtime writes it (simplejson, spec §3.4).

    Raises ``TypeError`` for what it cannot write (a set, a datetime).
    """
    if isinstance(value, bytes):
        return value
    ensure_ascii = sys.version_info < (3, 12)  # AWS: UTF-8 from python3.12 on
    text: str = simplejson.dumps(
        value, use_decimal=True, namedtuple_as_object=True, ensure_ascii=ensure_ascii
    )
    return text.encode("utf-8")


def error_object(error: BaseException, request_id: str) -> dict[str, Any]:
    """What Lambda returns for a function that failed (spec §3.5-3.7)."""
    error_type = getattr(error, "error_type", None)
    if error_type == "Sandbox.Timedout":
        return {"errorType": error_type, "errorMessage": str(error)}
    if isinstance(error, SystemExit):
        status = error.code if isinstance(error.code, int) else 1
        exited = f"Runtime exited with error: exit status {status}"
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: {exited}",
        }
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def _headers(request_id: str, tail: str | None) -> list[tuple[str, str]]:
    headers = [("x-amzn-RequestId", request_id), ("X-Amz-Executed-Version", "$LATEST")]
    if tail is not None:
        headers.append(("X-Amz-Log-Result", tail))
    return headers


def log_tail(lines: Sequence[str]) -> str:
    """``X-Amz-Log-Result``: the last 4 KB of the invocation's log, base64."""
    text = "".join(f"{line}\n" for line in lines).encode("utf-8")[-_LOG_TAIL:]
    return base64.b64encode(text).decode("ascii")


def result_response(
    invocation: Invocation, request: InvokeRequest, request_id: str
) -> HttpResponse:
    """The answer to a ``RequestResponse`` invocation, whatever came of it.

    ``request_id`` is Lambda's (the function's ``context.aws_request_id``).
    """
    scope = invocation.scope
    tail = log_tail(scope.tail or []) if request.tail and scope is not None else None
    if invocation.outcome is InvocationOutcome.OK:
        try:
            body = marshal(invocation.value)
        except (TypeError, ValueError) as exc:
            failure = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "requestId": request_id,
                "stackTrace": [],
            }
            return function_error_response(failure, request_id, tail)
        return HttpResponse(200, tuple(_headers(request_id, tail)), body)
    error = invocation.error or TimeoutError("the function did not answer")
    if getattr(error, "error_type", None) == "TooManyRequestsException":
        # Refused before it ran: Lambda's API answers, not the function (spec §5.3).
        reason = str(getattr(error, "reason", "ConcurrentInvocationLimitExceeded"))
        throttled = LambdaApiError(429, "TooManyRequestsException", "Rate Exceeded.", Reason=reason)
        return throttled.response(request_id)
    return function_error_response(error_object(error, request_id), request_id, tail)


def function_error_response(
    failure: Mapping[str, Any], request_id: str, tail: str | None = None
) -> HttpResponse:
    headers = [*_headers(request_id, tail), ("X-Amz-Function-Error", "Unhandled")]
    return HttpResponse(200, tuple(headers), json.dumps(failure).encode())


def accepted(request: InvokeRequest, request_id: str) -> HttpResponse:
    """``Event``: 202, nothing else; ``DryRun``: 204 (spec §5.2)."""
    status = 202 if request.invocation_type == "Event" else 204
    return HttpResponse(status, (("x-amzn-RequestId", request_id),), b"")
