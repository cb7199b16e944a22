"""Who may call the emulator's HTTP APIs: a SigV4 signature, checked as AWS checks it.

A pure module (botocore's signer is imported only for a signed request). On
AWS, @connections requests need a SigV4 signature for service
``execute-api`` in the API's region (lambda-runtime spec §7, aws-websocket
spec §4.1), and the Lambda Invoke API one for service ``lambda``: an unsigned
call from a web page in the developer's browser must not reach them.
:func:`authenticate` answers either with the :class:`Caller` or with AWS's
refusal, for any service:

* no ``Authorization`` header and no presigned query: 403
  ``MissingAuthenticationTokenException`` (spec §7, UNKNOWN for @connections;
  its recommendation, API Gateway's answer on IAM-protected routes);
* signed for another service or region: 403 ``InvalidSignatureException``
  with AWS's wording (spec §7);
* a signature that does not match: 403 ``InvalidSignatureException``, with the
  canonical request and string to sign, as AWS shows them (spec §7);
* a key that is not among the accepted ones: 403
  ``UnrecognizedClientException`` (INFER: AWS's answer to an unknown key);
* a malformed ``Authorization``: 403 ``IncompleteSignatureException`` (INFER).

Without accepted credentials, any key is accepted and the signature is not
recomputed; the form, the service, the region and the time still are.
``allow_unsigned`` lets an unsigned request through (a teaching convenience,
off by default; the CLI allows it only on a loopback address).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from emulator.gateway.management import aws_error
from emulator.wire.messages import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from emulator.gateway.access.sigv4 import SignatureError

__all__ = ["EXECUTE_API", "Caller", "authenticate", "is_signed"]

# The service @connections requests (and AWS_IAM upgrades) are signed for.
EXECUTE_API: Final = "execute-api"

_SKEW = timedelta(minutes=15)
_UNKNOWN_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Caller:
    """Who made a request: the access key it was signed with, or None when unsigned."""

    access_key: str | None
    verified: bool  # the signature was recomputed with the key's secret


def is_signed(request: HttpRequest) -> bool:
    """Whether the request carries a signature at all (header or presigned query)."""
    if any(name.lower() == "authorization" for name, _ in request.headers):
        return True
    _, _, query = request.target.partition("?")
    return "X-Amz-Signature=" in query or "X-Amz-Credential=" in query


def authenticate(
    request: HttpRequest,
    *,
    service: str,
    region: str,
    credentials: Mapping[str, str] | None,
    now: datetime,
    request_id: str,
    allow_unsigned: bool = False,
) -> Caller | HttpResponse:
    """The caller of ``request``, or the 403 AWS answers it with.

    ``credentials`` maps the accepted access key ids to their secrets; empty or
    None accepts any key without recomputing the signature.
    """
    if not is_signed(request):
        if allow_unsigned:
            return Caller(None, False)
        return _refusal(
            "MissingAuthenticationTokenException", "Missing Authentication Token", request_id
        )
    # botocore's signer loads here, for the first signed request: not at start-up.
    from emulator.gateway.access import sigv4

    host = next((value for name, value in request.headers if name.lower() == "host"), "")
    try:
        identity = sigv4.verify_sigv4(
            method=request.method,
            host=host,
            target=request.target,
            headers=request.headers,
            credentials=credentials or None,
            now=now,
            region=region,
            service=service,
            body=request.body,
        )
    except sigv4.SignatureError as exc:
        aws_type, message = _answer(exc, service, now)
        return _refusal(aws_type, message, request_id)
    return Caller(identity.access_key, bool(credentials))


def _answer(error: SignatureError, service: str, now: datetime) -> tuple[str, str]:
    """AWS's error type and message for a refused signature."""
    from emulator.gateway.access.sigv4 import SignatureProblem

    problem, details = error.problem, error.details
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    if problem is SignatureProblem.MISSING:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    if problem is SignatureProblem.WRONG_SERVICE:
        # AWS (spec §7): the trailing space is AWS's own.
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    if problem is SignatureProblem.WRONG_REGION:
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{details['region']}'. ",
        )
    if problem is SignatureProblem.UNKNOWN_ACCESS_KEY:
        return "UnrecognizedClientException", _UNKNOWN_KEY
    if problem is SignatureProblem.EXPIRED:
        earliest = (now - _SKEW).strftime("%Y%m%dT%H%M%SZ")
        return (
            "InvalidSignatureException",
            f"Signature expired: {details['amz_date']} is now earlier than {earliest} "
            f"({stamp} - 15 min.)",
        )
    if problem is SignatureProblem.NOT_YET_VALID:
        latest = (now + _SKEW).strftime("%Y%m%dT%H%M%SZ")
        return (
            "InvalidSignatureException",
            f"Signature not yet current: {details['amz_date']} is still later than {latest} "
            f"({stamp} + 15 min.)",
        )
    if problem is SignatureProblem.MISMATCH:
        # AWS (spec §7, okigan/awscurl#61): the message shows what was expected.
        return (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\nThe Canonical String for this request should have "
            f"been\n'{details['canonical_request']}'\n\nThe String-to-Sign should have been\n"
            f"'{details['string_to_sign']}'\n",
        )
    reason = error.reason
    return "IncompleteSignatureException", reason[:1].upper() + reason[1:] + "."


def _refusal(aws_type: str, message: str, request_id: str) -> HttpResponse:
    return aws_error(403, aws_type, message, request_id)
