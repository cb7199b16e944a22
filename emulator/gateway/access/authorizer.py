"""Lambda REQUEST authorizers on ``$connect``: the event in, the policy out.

Implements spec §6 after the AWS Developer Guide pages "Controlling access to
WebSocket APIs with AWS Lambda REQUEST authorizers"
(DG:apigateway-websocket-api-lambda-auth) and "Output from an API Gateway Lambda
authorizer" (DG:api-gateway-lambda-authorizer-output):

* identity sources are checked before the function runs: one that is absent,
  null or empty answers 401 without invoking it (:func:`missing_identity`);
* the function gets the REQUEST event of §6.2 (:func:`authorizer_event`);
* what it returned or raised becomes 401, 403, 500 or "allowed", with the
  ``requestContext.authorizer`` value every later event of the connection carries
  (:func:`decide`, §6.3 and §6.4); its policy is judged by :mod:`emulator.gateway.access.policy`.

Pure: plain values in and out; the caller measures the latency and runs the function.
"""

from __future__ import annotations

import copy
import decimal
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from emulator.gateway.access.policy import (
    PolicyDecision,
    PolicyError,
    Statement,
    evaluate,
    parse_statements,
)
from emulator.gateway.events import multi_value
from emulator.model.identity import IdentitySource

__all__ = [
    "AuthorizerDecision",
    "AuthorizerOutcome",
    "authorizer_event",
    "context_variables",
    "decide",
    "method_arn",
    "missing_identity",
    "rejection_body",
]

# AWS: "Lambda authorizer response size: 8 KB" (DG:limits, spec §5; 500 above it [INFER]).
MAX_RESULT_BYTES: Final = 8192
_INVOKE: Final = "execute-api:Invoke"


def missing_identity(
    sources: Sequence[IdentitySource],
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]] | None,
    stage_variables: Mapping[str, str],
    context: Mapping[str, str],
) -> str | None:
    """The expression of the first source that is absent, null or empty, else ``None``.

    AWS: "Only when this is true does the authorizer invoke the authorizer Lambda
    function. Otherwise, it returns a 401 Unauthorized response without calling
    the Lambda function." (botocore:v2 IdentitySource, spec §6.1). With no
    sources at all the function is always invoked.
    """
    for source in sources:
        if not source.lookup(headers, query, stage_variables, context):
            return source.expression
    return None


def context_variables(request_context: Mapping[str, Any]) -> dict[str, str]:
    """The ``context.NAME`` values of a request context: dotted paths to strings.

    ``{"identity": {"sourceIp": "1.2.3.4"}}`` gives ``{"identity.sourceIp": "1.2.3.4"}``,
    the names ``$context`` variables use (DG:apigateway-websocket-api-mapping-template-reference).
    Null values are left out: they count as missing.
    """
    flat: dict[str, str] = {}
    for key, value in request_context.items():
        if isinstance(value, Mapping):
            for inner, text in context_variables(value).items():
                flat[f"{key}.{inner}"] = text
        elif value is not None:
            flat[key] = _stringify(value)
    return flat


def method_arn(
    region: str, account_id: str, api_id: str, stage: str, route_key: str = "$connect"
) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route}`` (spec §6.2, §6.6)."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{route_key}"


# AWS sets these itself on the authorizer event, whatever the client sent: the
# capture has "Connection": "upgrade" (clients send "Upgrade") and a lower-case
# "content-length": "0" that no WebSocket client sends (spec §6.2) [INFER].
_UPGRADE_HEADERS: Final = {
    "connection": ("Connection", "upgrade"),
    "content-length": ("content-length", "0"),
    "upgrade": ("Upgrade", "websocket"),
}


def _authorizer_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    emitted: set[str] = set()

    def emit(lower: str) -> None:
        if lower not in emitted:
            emitted.add(lower)
            out.append(_UPGRADE_HEADERS[lower])

    for name, value in headers:
        lower = name.lower()
        if lower not in _UPGRADE_HEADERS:
            out.append((name, value))
            continue
        emit(lower)
        if lower == "connection":
            emit("content-length")  # beside Connection, as in the (sorted) capture
    for lower in _UPGRADE_HEADERS:
        emit(lower)
    return out


def authorizer_event(
    *,
    method_arn: str,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]] | None,
    stage_variables: Mapping[str, str] | None,
    request_context: Mapping[str, Any],
) -> dict[str, Any]:
    """The REQUEST authorizer event (spec §6.2, DG:apigateway-websocket-api-lambda-auth).

    ``headers`` are the client's upgrade headers in order with AWS's additions
    appended, as for :func:`emulator.gateway.events.connect_event`; unlike that event,
    ``Connection``, ``Upgrade`` and ``content-length`` are kept (normalised to
    AWS's values, ``content-length: 0`` added when absent). The query and stage
    variable maps are ``{}`` when empty, and there is no ``isBase64Encoded``.
    ``request_context`` is the ``$connect`` event's, copied (without any
    ``authorizer`` key, which does not exist yet).
    """
    single, multi = multi_value(_authorizer_headers(headers))
    query_single, query_multi = multi_value(query or ())
    context = {key: copy.deepcopy(value) for key, value in request_context.items()}
    context.pop("authorizer", None)
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "stageVariables": dict(stage_variables or {}),
        "requestContext": context,
    }


class AuthorizerOutcome(enum.Enum):
    """Every row of spec §6.3, with the handshake status it answers."""

    ALLOWED = "allowed"
    MISSING_IDENTITY = "missing-identity"
    UNAUTHORIZED = "unauthorized"
    DENIED = "denied"  # an explicit Deny matches methodArn
    NOT_ALLOWED = "not-allowed"  # no Allow matches methodArn
    FUNCTION_ERROR = "function-error"
    MALFORMED = "malformed"
    TOO_LARGE = "too-large"

    @property
    def status(self) -> int | None:
        """The HTTP status of the rejected handshake; ``None`` when allowed."""
        return _STATUS[self]


_STATUS: Final[Mapping[AuthorizerOutcome, int | None]] = {
    AuthorizerOutcome.ALLOWED: None,
    AuthorizerOutcome.MISSING_IDENTITY: 401,
    AuthorizerOutcome.UNAUTHORIZED: 401,
    AuthorizerOutcome.DENIED: 403,
    AuthorizerOutcome.NOT_ALLOWED: 403,
    AuthorizerOutcome.FUNCTION_ERROR: 500,
    AuthorizerOutcome.MALFORMED: 500,
    AuthorizerOutcome.TOO_LARGE: 500,
}


@dataclass(frozen=True)
class AuthorizerDecision:
    """What the handshake does after the authorizer."""

    outcome: AuthorizerOutcome
    context: dict[str, Any] | None = None  # requestContext.authorizer, when allowed
    reason: str = ""  # for logs

    @property
    def status(self) -> int | None:
        """401, 403 or 500 to reject the handshake with; ``None`` when allowed."""
        return self.outcome.status

    @property
    def allowed(self) -> bool:
        return self.outcome is AuthorizerOutcome.ALLOWED


class _Malformed(ValueError):
    pass


def decide(
    result: object,
    *,
    raised: BaseException | None,
    method_arn: str,
    integration_latency_ms: int,
) -> AuthorizerDecision:
    """Turn what the authorizer returned (or raised) into a decision (spec §6.3, §6.4).

    The result is judged after a JSON round trip, as API Gateway receives it
    from Lambda: tuples are lists, Decimals are floats (the Python runtime's
    serializer), and a result that does not serialize (or holds NaN) is malformed.
    """
    if raised is not None:
        # AWS: the error message "Unauthorized" means 401 (DG:apigateway-use-lambda-authorizer).
        if isinstance(raised, Exception) and str(raised) == "Unauthorized":
            return AuthorizerDecision(AuthorizerOutcome.UNAUTHORIZED, reason="raised Unauthorized")
        return AuthorizerDecision(
            AuthorizerOutcome.FUNCTION_ERROR, reason=f"raised {type(raised).__name__}: {raised}"
        )
    try:
        text = json.dumps(
            result, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_decimal
        )
    except (TypeError, ValueError) as exc:
        return AuthorizerDecision(AuthorizerOutcome.MALFORMED, reason=f"not JSON: {exc}")
    size = len(text.encode())
    if size > MAX_RESULT_BYTES:
        return AuthorizerDecision(
            AuthorizerOutcome.TOO_LARGE, reason=f"result is {size} bytes, over 8 KB"
        )
    output = json.loads(text)
    try:
        principal_id, statements, context = _parse_output(output)
    except (_Malformed, PolicyError) as exc:
        return AuthorizerDecision(AuthorizerOutcome.MALFORMED, reason=str(exc))
    policy = evaluate(statements, _INVOKE, method_arn)
    if policy is PolicyDecision.EXPLICIT_DENY:
        return AuthorizerDecision(AuthorizerOutcome.DENIED, reason=f"Deny matches {method_arn}")
    if policy is PolicyDecision.IMPLICIT_DENY:
        return AuthorizerDecision(
            AuthorizerOutcome.NOT_ALLOWED, reason=f"no Allow matches {method_arn}"
        )
    # AWS: context values stringified, then principalId and integrationLatency (§6.4);
    # the latter two win over context keys of the same name [INFER].
    authorizer: dict[str, Any] = {
        key: None if value is None else _stringify(value) for key, value in context.items()
    }
    authorizer["principalId"] = principal_id
    authorizer["integrationLatency"] = integration_latency_ms
    return AuthorizerDecision(
        AuthorizerOutcome.ALLOWED, authorizer, reason=f"allowed {principal_id}"
    )


def _decimal(value: object) -> float:
    # AWS: the Lambda Python runtime serializes Decimal as a float (awslambdaric).
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _stringify(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _parse_output(output: object) -> tuple[str, list[Statement], Mapping[str, Any]]:
    if not isinstance(output, dict):
        raise _Malformed(f"the result must be an object, got {type(output).__name__}")
    principal_id = output.get("principalId")
    # AWS's output model types principalId as a string; other JSON types [UNKNOWN] → 500.
    if not isinstance(principal_id, str):
        raise _Malformed(f"principalId must be a string, got {principal_id!r}")
    policy = output.get("policyDocument")
    if not isinstance(policy, dict):
        raise _Malformed(f"policyDocument must be an object, got {policy!r}")
    statements = parse_statements(policy)
    context = output.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise _Malformed(f"context must be an object, got {context!r}")
    for key, value in context.items():
        # AWS: AuthorizerConfigurationException for non-scalar values (serverless-offline#1376).
        if isinstance(value, dict | list):
            raise _Malformed(f"context.{key} must be a string, number, boolean or null")
    return principal_id, statements, context


# Spec §6.3: [UNKNOWN] for WebSocket; REST's bodies are recommended.
_REJECTION_BODIES: Final[Mapping[int, bytes]] = {
    401: b'{"message":"Unauthorized"}',
    403: b'{"message":"Forbidden"}',
    500: b'{"message":null}',
}


def rejection_body(status: int) -> bytes:
    """The JSON body of a handshake the authorizer rejected with ``status`` (401, 403, 500)."""
    try:
        return _REJECTION_BODIES[status]
    except KeyError:
        raise ValueError(f"no authorizer rejection has status {status!r}") from None
