"""Verify a SigV4-signed request: ``AWS_IAM`` on ``$connect``, and the HTTP APIs.

Clients sign the upgrade ``GET`` for service ``execute-api`` (spec §6.6,
DG:apigateway-websocket-control-access-iam), and so do callers of the
@connections API (lambda-runtime spec §7); other services' APIs are signed
for their own service name. Either form of "Signature Version 4 signing"
(AWS General Reference) is read:

* headers: ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/execute-api/
  aws4_request, SignedHeaders=..., Signature=...`` with ``X-Amz-Date`` (and
  optionally ``X-Amz-Security-Token``), as SDK and awscurl-style clients send it;
* a presigned URL: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires``, ``X-Amz-SignedHeaders`` and ``X-Amz-Signature`` query
  parameters, as browsers must (they cannot set headers on a WebSocket).

The signature is recomputed with botocore's own signer (``SigV4Auth``: canonical
request, string to sign, signing key) over exactly the headers named in
``SignedHeaders`` with the values the client sent, and the path and query exactly
as sent, so canonicalisation is never written twice (botocore is imported
here, by :mod:`emulator.runtime.boto` and by :mod:`emulator.gateway.integrations.aws`).

What is deliberately not emulated: session tokens are accepted unchecked (there
is no STS), and no IAM policy is evaluated: a known key with a valid signature
is allowed. Without ``credentials`` (None), any key is accepted and its
signature is not recomputed (there is no secret to compute it with); the
rest (the form, the service, the region, the time) is still checked.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPMessage
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from emulator.gateway.access.signed import EXECUTE_API
from emulator.model.resources import ACCOUNT_ID

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "EXECUTE_API",
    "SigV4Identity",
    "SignatureError",
    "SignatureProblem",
    "verify_sigv4",
]

DEFAULT_ACCOUNT_ID: Final = ACCOUNT_ID  # the emulator's one account
_ALGORITHM: Final = "AWS4-HMAC-SHA256"
# AWS: a header signature is refused when X-Amz-Date is more than 15 minutes
# from the server's clock (AWS General Reference, "Elements of a SigV4 request").
_MAX_SKEW: Final = timedelta(minutes=15)
# AWS: X-Amz-Expires is 1 to 604800 seconds (seven days).
_MAX_EXPIRES: Final = 604800
_AMZ_DATE: Final = re.compile(r"\d{8}T\d{6}Z")
_DIGITS: Final = re.compile(r"[0-9]+")
_PRESIGN_KEYS: Final = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_PRESIGN_PARAMS: Final = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


class SignatureProblem(enum.Enum):
    """Why a signature was refused."""

    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN_ACCESS_KEY = "unknown-access-key"
    WRONG_SERVICE = "wrong-service"
    WRONG_REGION = "wrong-region"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    MISMATCH = "mismatch"


class SignatureError(ValueError):
    """A SigV4 signature API Gateway would refuse (the handshake answers 403).

    ``details`` holds what AWS's answer names: the ``service`` and ``region``
    signed for, the ``amz_date``, and for a mismatch the ``canonical_request``
    and ``string_to_sign`` the emulator computed.
    """

    def __init__(
        self, problem: SignatureProblem, reason: str, details: Mapping[str, str] | None = None
    ) -> None:
        self.problem = problem
        self.reason = reason
        self.details = dict(details or {})
        super().__init__(reason)


@dataclass(frozen=True)
class SigV4Identity:
    """Who signed: the fields of ``requestContext.identity`` under IAM (spec §2.1).

    ``caller`` and ``user`` are both the IAM user's unique id, as for an IAM user
    signing on AWS; it is derived from the access key (``AIDA`` and 17 base32
    characters), so it is stable. ``user_arn`` names the user given for the key
    in ``users``, else the access key itself.
    """

    access_key: str
    account_id: str
    caller: str
    user: str
    user_arn: str


@dataclass(frozen=True)
class _Signed:
    access_key: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None  # presigned only
    target: str  # what was signed: the target without X-Amz-Signature when presigned


def verify_sigv4(
    *,
    method: str,
    host: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    credentials: Mapping[str, str] | None,
    now: datetime,
    region: str | None = None,
    users: Mapping[str, str] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    service: str = EXECUTE_API,
    body: bytes = b"",
) -> SigV4Identity:
    """Check a request's signature; return who signed it or raise :class:`SignatureError`.

    ``target`` is the request target as sent (path and query), ``headers`` the
    request headers in order, ``body`` its body, ``credentials`` maps access key
    ids to secret keys (None: any key, unverified), ``users`` optionally maps
    access key ids to IAM user names. ``region``, when given, must be the one
    the client signed for, and ``service`` the service. A naive ``now`` is UTC.
    """
    signed = _parse(target, headers)
    scope = {"service": signed.service, "region": signed.region, "amz_date": signed.amz_date}
    if signed.service != service:
        raise SignatureError(
            SignatureProblem.WRONG_SERVICE,
            f"credential should be scoped to service {service!r}, not {signed.service!r}",
            scope,
        )
    if region is not None and signed.region != region:
        raise SignatureError(
            SignatureProblem.WRONG_REGION,
            f"credential should be scoped to region {region!r}, not {signed.region!r}",
            scope,
        )
    _check_time(signed, now if now.tzinfo else now.replace(tzinfo=UTC))
    if credentials is not None:
        secret = credentials.get(signed.access_key)
        if secret is None:
            raise SignatureError(
                SignatureProblem.UNKNOWN_ACCESS_KEY,
                f"unknown access key {signed.access_key!r}",
                scope,
            )
        given = signed.signature.encode()
        expected = _signatures(method, host, headers, signed, secret, body)
        if not any([hmac.compare_digest(e[0].encode(), given) for e in expected]):
            _, canonical_request, string_to_sign = expected[0]
            raise SignatureError(
                SignatureProblem.MISMATCH,
                "the request signature we calculated does not match the signature provided",
                {
                    **scope,
                    "canonical_request": canonical_request,
                    "string_to_sign": string_to_sign,
                },
            )
    return _identity(signed.access_key, account_id, (users or {}).get(signed.access_key))


def _malformed(reason: str) -> SignatureError:
    return SignatureError(SignatureProblem.MALFORMED, reason)


def _parse(target: str, headers: Sequence[tuple[str, str]]) -> _Signed:
    if not target.startswith("/"):
        raise _malformed(f"the request target must start with '/', got {target!r}")
    _, _, query = target.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    authorization = [value for name, value in headers if name.lower() == "authorization"]
    presigned = any(name in _PRESIGN_KEYS for name, _ in params)
    if presigned and any(value.startswith("AWS4-") for value in authorization):
        raise _malformed("only one auth mechanism allowed: Authorization header and query")
    if presigned:
        return _parse_query(target, params)
    if not authorization:
        raise SignatureError(
            SignatureProblem.MISSING,
            "missing authentication: no Authorization header and no X-Amz-Signature parameter",
        )
    if len(authorization) > 1:
        raise _malformed("more than one Authorization header")
    return _parse_header(target, authorization[0], headers)


def _parse_header(target: str, authorization: str, headers: Sequence[tuple[str, str]]) -> _Signed:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise _malformed(f"unsupported authorization algorithm {algorithm!r}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals or name in fields:
            raise _malformed(f"malformed Authorization header component {part.strip()!r}")
        fields[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise _malformed(f"Authorization header lacks {', '.join(missing)}")
    dates = [value for name, value in headers if name.lower() == "x-amz-date"]
    if len(dates) != 1:
        raise _malformed("a header signature needs exactly one X-Amz-Date header")
    return _signed(
        fields["Credential"], fields["SignedHeaders"], fields["Signature"], dates[0], None, target
    )


def _parse_query(target: str, params: Sequence[tuple[str, str]]) -> _Signed:
    values: dict[str, str] = {}
    for name, value in params:
        if name.startswith("X-Amz-"):
            if name in values:
                raise _malformed(f"query parameter {name} given twice")
            values[name] = value
    missing = [name for name in _PRESIGN_PARAMS if name not in values]
    if missing:
        raise _malformed(f"presigned URL lacks {', '.join(missing)}")
    if values["X-Amz-Algorithm"] != _ALGORITHM:
        raise _malformed(f"unsupported X-Amz-Algorithm {values['X-Amz-Algorithm']!r}")
    expires = values["X-Amz-Expires"]
    if not _DIGITS.fullmatch(expires) or not 1 <= int(expires) <= _MAX_EXPIRES:
        raise _malformed(f"X-Amz-Expires must be 1 to {_MAX_EXPIRES} seconds, got {expires!r}")
    # AWS: the canonical query string holds every parameter but X-Amz-Signature.
    path, _, query = target.partition("?")
    kept = [
        pair for pair in query.split("&") if unquote(pair.partition("=")[0]) != "X-Amz-Signature"
    ]
    return _signed(
        values["X-Amz-Credential"],
        values["X-Amz-SignedHeaders"],
        values["X-Amz-Signature"],
        values["X-Amz-Date"],
        int(expires),
        f"{path}?{'&'.join(kept)}" if kept else path,
    )


def _signed(
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: str,
    expires: int | None,
    target: str,
) -> _Signed:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _malformed(
            f"credential should be AKID/DATE/REGION/SERVICE/aws4_request, got {credential!r}"
        )
    if not _AMZ_DATE.fullmatch(amz_date):
        raise _malformed(f"X-Amz-Date must look like 20240101T000000Z, got {amz_date!r}")
    if scope[1] != amz_date[:8]:
        raise _malformed(f"credential date {scope[1]!r} is not the date of X-Amz-Date {amz_date!r}")
    names = tuple(name for name in signed_headers.split(";") if name)
    # AWS: the host header must always be signed.
    if "host" not in names:
        raise _malformed(f"SignedHeaders must include host, got {signed_headers!r}")
    return _Signed(scope[0], scope[2], scope[3], names, signature, amz_date, expires, target)


def _check_time(signed: _Signed, now: datetime) -> None:
    try:
        signed_at = datetime.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _malformed(f"X-Amz-Date {signed.amz_date!r} is not a valid time") from None
    times = {"amz_date": signed.amz_date, "now": now.strftime("%Y%m%dT%H%M%SZ")}
    if signed_at - now > _MAX_SKEW:
        raise SignatureError(
            SignatureProblem.NOT_YET_VALID,
            f"signature not yet current: {signed.amz_date} is more than 15 minutes ahead",
            times,
        )
    if signed.expires is not None:
        if now > signed_at + timedelta(seconds=signed.expires):
            raise SignatureError(
                SignatureProblem.EXPIRED,
                f"presigned URL expired: signed {signed.amz_date} for {signed.expires} s",
                times,
            )
    elif now - signed_at > _MAX_SKEW:
        raise SignatureError(
            SignatureProblem.EXPIRED,
            f"signature expired: {signed.amz_date} is more than 15 minutes old",
            times,
        )


class _Canonical(SigV4Auth):
    """botocore's signer, told exactly which headers the client signed, and with
    ``path_as_sent`` the path as sent rather than normalised and encoded again."""

    def __init__(
        self,
        credentials: Credentials,
        service: str,
        region: str,
        headers: HTTPHeaders,
        path_as_sent: bool = False,
    ) -> None:
        super().__init__(credentials, service, region)
        self._headers = headers
        self._path_as_sent = path_as_sent

    def headers_to_sign(self, request: AWSRequest) -> HTTPMessage:
        return self._headers

    def _normalize_url_path(self, path: str) -> str:
        if self._path_as_sent:
            return path
        # botocore's own step (its stubs omit the private method).
        return str(super()._normalize_url_path(path))  # type: ignore[misc]


def _signatures(
    method: str,
    host: str,
    headers: Sequence[tuple[str, str]],
    signed: _Signed,
    secret: str,
    body: bytes,
) -> list[tuple[str, str, str]]:
    """The signatures the request may carry, each with its canonical request and
    string to sign: one per way clients canonicalise the path and the query."""
    to_sign = HTTPHeaders()
    for name in dict.fromkeys(signed.signed_headers):
        values = [value for sent, value in headers if sent.lower() == name]
        if not values and name == "host":
            values = [host]
        if not values:
            raise _malformed(f"signed header {name!r} is not in the request")
        for value in values:
            to_sign[name] = value  # HTTPMessage appends: repeated headers are kept
    credentials = Credentials(signed.access_key, secret)
    signers = [_Canonical(credentials, signed.service, signed.region, to_sign)]
    path, _, query = signed.target.partition("?")
    if "%" in path or "@" in path:
        # SigV4 encodes each path segment again (`%3D` in an id becomes `%253D`),
        # as botocore does; curl before 8 signs the path as sent. Both are taken.
        signers.append(_Canonical(credentials, signed.service, signed.region, to_sign, True))
    # The query exactly as sent (botocore canonicalises a URL's query verbatim),
    # and decoded then re-encoded as SigV4 prescribes (botocore's form for
    # ``params``), which is what clients that send ``+`` for a space signed.
    requests: list[tuple[str, Any]] = [(signed.target, None)]
    pairs = parse_qsl(query, keep_blank_values=True)
    if pairs:
        # A list of pairs keeps repeated keys; botocore accepts it (its stubs say Mapping).
        requests.append((path, pairs))
    signatures = []
    for signer, (target, params) in itertools.product(signers, requests):
        # The netloc is never read (headers_to_sign is ours); a fixed one keeps a
        # hostile Host header out of the URL parser.
        request = AWSRequest(
            method=method,
            url=f"https://emulator.invalid{target}",
            headers=dict(to_sign.items()),
            params=params,
            data=body,
        )
        request.context["timestamp"] = signed.amz_date
        canonical_request = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical_request)
        signatures.append(
            (signer.signature(string_to_sign, request), canonical_request, string_to_sign)
        )
    return signatures


def _identity(access_key: str, account_id: str, user_name: str | None) -> SigV4Identity:
    digest = hashlib.sha256(access_key.encode()).digest()
    unique_id = "AIDA" + base64.b32encode(digest).decode()[:17]
    return SigV4Identity(
        access_key=access_key,
        account_id=account_id,
        caller=unique_id,
        user=unique_id,
        user_arn=f"arn:aws:iam::{account_id}:user/{user_name or access_key}",
    )
