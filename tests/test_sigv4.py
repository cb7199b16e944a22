"""SigV4 verification of the upgrade (emulator/sigv4.py, spec §6.6), without a network.

Every request here is signed by botocore itself, in both forms (``SigV4Auth``
headers, ``SigV4QueryAuth`` presigned URL), then sent to the verifier the way
a WebSocket client would send it: the signed path and query verbatim, the
signed headers plus the client's own upgrade headers. ``now`` is derived from
the signature's own X-Amz-Date, so no clock is patched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.gateway.access import sigv4
from emulator.gateway.access.sigv4 import (
    DEFAULT_ACCOUNT_ID,
    SignatureError,
    SignatureProblem,
    SigV4Identity,
    verify_sigv4,
)

KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = {KEY: SECRET, "AKIDOTHER": "other-secret"}
URL = "https://abcdef123.execute-api.us-east-1.amazonaws.com/production"
LOCAL = "http://localhost:8765/prod"
UPGRADE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("User-Agent", "Python/3.11 websockets/14.1"),
]

MISSING = SignatureProblem.MISSING
MALFORMED = SignatureProblem.MALFORMED
UNKNOWN_ACCESS_KEY = SignatureProblem.UNKNOWN_ACCESS_KEY
WRONG_SERVICE = SignatureProblem.WRONG_SERVICE
WRONG_REGION = SignatureProblem.WRONG_REGION
EXPIRED = SignatureProblem.EXPIRED
NOT_YET_VALID = SignatureProblem.NOT_YET_VALID
MISMATCH = SignatureProblem.MISMATCH


@dataclass(frozen=True)
class Upgrade:
    """A signed upgrade request as the emulator's transport would see it."""

    host: str
    target: str
    headers: tuple[tuple[str, str], ...]
    now: datetime
    method: str = "GET"

    def verify(self, **overrides: object) -> SigV4Identity:
        arguments: dict[str, object] = {
            "method": self.method,
            "host": self.host,
            "target": self.target,
            "headers": self.headers,
            "credentials": CREDENTIALS,
            "now": self.now,
        }
        arguments.update(overrides)
        return verify_sigv4(**arguments)  # type: ignore[arg-type]

    def header(self, name: str) -> str:
        return next(value for key, value in self.headers if key.lower() == name.lower())

    def with_header(self, name: str, value: str) -> Upgrade:
        kept = [(key, v) for key, v in self.headers if key.lower() != name.lower()]
        return replace(self, headers=(*kept, (name, value)))

    def later(self, **delta: float) -> Upgrade:
        return replace(self, now=self.now + timedelta(**delta))


def signed_at(amz_date: str) -> datetime:
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def split_url(request: AWSRequest) -> tuple[str, str]:
    """The Host header and request target a client sends for the signed URL."""
    assert request.url is not None
    parts = urlsplit(request.url)
    return parts.netloc, parts.path + (f"?{parts.query}" if parts.query else "")


def by_header(
    url: str = URL,
    headers: dict[str, str] | None = None,
    *,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
    params: dict[str, str] | None = None,
) -> Upgrade:
    request = AWSRequest(method="GET", url=url, headers=headers or {}, params=params or {})
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    if params:
        request.url = request.prepare().url  # what goes on the wire
    host, target = split_url(request)
    sent = [("Host", host), *request.headers.items(), *UPGRADE]
    return Upgrade(host, target, tuple(sent), signed_at(request.headers["X-Amz-Date"]))


def presigned(
    url: str = URL,
    *,
    expires: int = 60,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
) -> Upgrade:
    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(Credentials(key, secret, token), service, region, expires=expires).add_auth(
        request
    )
    host, target = split_url(request)
    match = re.search(r"X-Amz-Date=(\w+)", target)
    assert match
    return Upgrade(host, target, (("Host", host), *UPGRADE), signed_at(match.group(1)))


# --- accepted --------------------------------------------------------------------------


ACCEPTED: list[tuple[str, Callable[[], Upgrade]]] = [
    ("header", lambda: by_header()),
    ("header-trailing-slash", lambda: by_header(URL + "/")),
    ("header-localhost-port", lambda: by_header(LOCAL)),
    ("header-session-token", lambda: by_header(token="FwoGZXIvYXdzEXAMPLE")),
    ("header-query", lambda: by_header(URL + "?token=abc&room=42")),
    ("header-query-encoded", lambda: by_header(URL + "?name=a%20b&path=%2Fx%2Fy&e=")),
    ("header-query-repeated", lambda: by_header(URL + "?b=2&a=2&a=1")),
    # botocore signs ``params`` as a%20b but sends a+b: verified in the re-encoded form.
    ("header-params-plus-for-space", lambda: by_header(params={"q": "a b/c", "z": "~"})),
    ("header-params-unicode", lambda: by_header(params={"b": "1", "a": "é"})),
    # A literal + signed verbatim: verified in the as-sent form.
    ("header-raw-plus", lambda: by_header(URL + "?q=a+b")),
    ("header-encoded-path", lambda: by_header(URL + "/a%20b")),
    ("header-extra-signed", lambda: by_header(headers={"X-Custom": "  spaced   value "})),
    (
        "header-content-sha256",
        lambda: by_header(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
    ),
    ("presigned", lambda: presigned()),
    ("presigned-localhost-port", lambda: presigned(LOCAL)),
    ("presigned-session-token", lambda: presigned(token="FwoGZXIvYXdzEXAMPLE/+=")),
    ("presigned-with-query", lambda: presigned(URL + "?token=a%2Fb&room=42")),
    ("presigned-max-expiry", lambda: presigned(expires=604800)),
    ("other-key", lambda: by_header(key="AKIDOTHER", secret="other-secret")),
]


@pytest.mark.parametrize("make", [make for _, make in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_botocore_signed_upgrade_is_accepted(make: Callable[[], Upgrade]) -> None:
    upgrade = make()
    identity = upgrade.verify()
    assert identity.access_key in CREDENTIALS
    assert identity == upgrade.verify(region="us-east-1")


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(0),
        timedelta(minutes=15),
        timedelta(minutes=-15),
        timedelta(minutes=14, seconds=59),
    ],
    ids=["at-signing", "15-min-later", "15-min-earlier", "just-under-15-min"],
)
def test_header_signature_within_15_minutes(delta: timedelta) -> None:
    upgrade = by_header()
    assert upgrade.verify(now=upgrade.now + delta).access_key == KEY


@pytest.mark.parametrize(
    "delta",
    [timedelta(0), timedelta(seconds=60), timedelta(minutes=-15)],
    ids=["at-signing", "at-expiry", "15-min-before-signing"],
)
def test_presigned_within_expiry(delta: timedelta) -> None:
    upgrade = presigned(expires=60)
    assert upgrade.verify(now=upgrade.now + delta).access_key == KEY


def test_naive_now_is_utc() -> None:
    upgrade = by_header()
    assert upgrade.verify(now=upgrade.now.replace(tzinfo=None)).access_key == KEY


def test_header_names_are_case_insensitive() -> None:
    upgrade = by_header(headers={"X-Custom": "v"})
    lowered = tuple((name.lower(), value) for name, value in upgrade.headers)
    assert replace(upgrade, headers=lowered).verify().access_key == KEY


def test_unsigned_headers_may_change() -> None:
    upgrade = by_header().with_header("User-Agent", "something else").with_header("X-New", "1")
    assert upgrade.verify().access_key == KEY


def test_missing_host_header_falls_back_to_host() -> None:
    upgrade = by_header()
    headers = tuple((name, value) for name, value in upgrade.headers if name != "Host")
    assert replace(upgrade, headers=headers).verify().access_key == KEY


# --- refused ---------------------------------------------------------------------------


def tampered_presigned_query() -> Upgrade:
    upgrade = presigned(URL + "?room=42")
    return replace(upgrade, target=upgrade.target.replace("room=42", "room=43"))


def tampered_date() -> Upgrade:
    upgrade = by_header()
    one_second_later = upgrade.now + timedelta(seconds=1)
    return upgrade.with_header("X-Amz-Date", one_second_later.strftime("%Y%m%dT%H%M%SZ"))


def impossible_date() -> Upgrade:
    upgrade = by_header().with_header("X-Amz-Date", "20241399T000000Z")
    authorization = re.sub(r"/\d{8}/", "/20241399/", upgrade.header("Authorization"))
    return upgrade.with_header("Authorization", authorization)


def swapped_signature() -> Upgrade:
    upgrade = by_header()
    authorization = re.sub(
        r"Signature=\w+", "Signature=" + "0" * 64, upgrade.header("Authorization")
    )
    return upgrade.with_header("Authorization", authorization)


def header(name: str, value: str) -> Callable[[], Upgrade]:
    return lambda: by_header().with_header(name, value)


def authorization(edit: Callable[[str], str]) -> Callable[[], Upgrade]:
    def make() -> Upgrade:
        upgrade = by_header()
        return upgrade.with_header("Authorization", edit(upgrade.header("Authorization")))

    return make


def target(
    edit: Callable[[str], str], make: Callable[[], Upgrade] = presigned
) -> Callable[[], Upgrade]:
    def build() -> Upgrade:
        upgrade = make()
        return replace(upgrade, target=edit(upgrade.target))

    return build


def without(name: str) -> Callable[[], Upgrade]:
    def make() -> Upgrade:
        upgrade = by_header()
        kept = tuple((key, value) for key, value in upgrade.headers if key != name)
        return replace(upgrade, headers=kept)

    return make


REFUSED: list[tuple[str, Callable[[], Upgrade], SignatureProblem]] = [
    # missing
    ("nothing-signed", lambda: replace(by_header(), headers=tuple(UPGRADE)), MISSING),
    # tampered
    ("tampered-path", target(lambda t: t.replace("/production", "/prod"), by_header), MISMATCH),
    ("tampered-query", target(lambda t: t + "?x=1", by_header), MISMATCH),
    ("presigned-tampered-path", target(lambda t: t.replace("/production", "/dev")), MISMATCH),
    ("presigned-tampered-query", tampered_presigned_query, MISMATCH),
    ("presigned-added-param", target(lambda t: t + "&admin=1"), MISMATCH),
    (
        "presigned-longer-expiry",
        target(lambda t: t.replace("X-Amz-Expires=60", "X-Amz-Expires=600")),
        MISMATCH,
    ),
    (
        "tampered-signed-header",
        lambda: by_header(headers={"X-Custom": "a"}).with_header("X-Custom", "b"),
        MISMATCH,
    ),
    ("tampered-host", header("Host", "evil.example.com"), MISMATCH),
    (
        "tampered-session-token",
        lambda: by_header(token="t1").with_header("X-Amz-Security-Token", "t2"),
        MISMATCH,
    ),
    ("tampered-date", tampered_date, MISMATCH),
    ("other-method", lambda: replace(by_header(), method="POST"), MISMATCH),
    ("wrong-secret", lambda: by_header(secret="not-the-secret"), MISMATCH),
    ("presigned-wrong-secret", lambda: presigned(secret="not-the-secret"), MISMATCH),
    ("zero-signature", swapped_signature, MISMATCH),
    # unknown key, wrong service
    ("unknown-key", lambda: by_header(key="AKIDUNKNOWN"), UNKNOWN_ACCESS_KEY),
    ("presigned-unknown-key", lambda: presigned(key="AKIDUNKNOWN"), UNKNOWN_ACCESS_KEY),
    ("wrong-service", lambda: by_header(service="apigateway"), WRONG_SERVICE),
    ("presigned-wrong-service", lambda: presigned(service="s3"), WRONG_SERVICE),
    # expired
    ("header-16-min-old", lambda: by_header().later(minutes=16), EXPIRED),
    ("header-a-day-old", lambda: by_header().later(days=1), EXPIRED),
    ("header-16-min-ahead", lambda: by_header().later(minutes=-16), NOT_YET_VALID),
    ("presigned-expired", lambda: presigned(expires=60).later(seconds=61), EXPIRED),
    ("presigned-16-min-ahead", lambda: presigned().later(minutes=-16), NOT_YET_VALID),
    # malformed
    ("no-x-amz-date", without("X-Amz-Date"), MALFORMED),
    (
        "two-x-amz-dates",
        lambda: replace(by_header(), headers=(*by_header().headers, ("x-amz-date", "x"))),
        MALFORMED,
    ),
    ("bad-x-amz-date", header("X-Amz-Date", "2024-01-01T00:00:00Z"), MALFORMED),
    ("impossible-x-amz-date", header("X-Amz-Date", "20241399T000000Z"), MALFORMED),
    ("impossible-date-in-both", impossible_date, MALFORMED),
    ("bearer-token", header("Authorization", "Bearer abc"), MALFORMED),
    (
        "sigv4a",
        authorization(lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")),
        MALFORMED,
    ),
    ("no-signature", authorization(lambda a: re.sub(r", Signature=\w+", "", a)), MALFORMED),
    (
        "no-signed-headers",
        authorization(lambda a: re.sub(r", SignedHeaders=[\w;-]+", "", a)),
        MALFORMED,
    ),
    ("component-without-equals", authorization(lambda a: a + ", junk"), MALFORMED),
    ("short-credential", authorization(lambda a: a.replace("/aws4_request", "")), MALFORMED),
    (
        "credential-date-differs",
        authorization(lambda a: re.sub(r"/\d{8}/", "/20000101/", a)),
        MALFORMED,
    ),
    (
        "host-not-signed",
        authorization(lambda a: a.replace("SignedHeaders=host;", "SignedHeaders=")),
        MALFORMED,
    ),
    (
        "signed-header-absent",
        authorization(lambda a: a.replace("SignedHeaders=", "SignedHeaders=a-b;")),
        MALFORMED,
    ),
    (
        "two-authorizations",
        lambda: replace(by_header(), headers=(*by_header().headers, ("authorization", "x"))),
        MALFORMED,
    ),
    ("both-forms", lambda: replace(presigned(), headers=by_header().headers), MALFORMED),
    ("presigned-no-expires", target(lambda t: re.sub(r"&X-Amz-Expires=\d+", "", t)), MALFORMED),
    ("presigned-no-signature", target(lambda t: re.sub(r"&X-Amz-Signature=\w+", "", t)), MALFORMED),
    (
        "presigned-zero-expires",
        target(lambda t: t.replace("X-Amz-Expires=60", "X-Amz-Expires=0")),
        MALFORMED,
    ),
    (
        "presigned-8-day-expires",
        target(lambda t: t.replace("X-Amz-Expires=60", "X-Amz-Expires=691200")),
        MALFORMED,
    ),
    (
        "presigned-text-expires",
        target(lambda t: t.replace("X-Amz-Expires=60", "X-Amz-Expires=soon")),
        MALFORMED,
    ),
    (
        "presigned-other-algorithm",
        target(lambda t: t.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")),
        MALFORMED,
    ),
    ("presigned-repeated-param", target(lambda t: t + "&X-Amz-Date=20240101T000000Z"), MALFORMED),
    ("absolute-target", target(lambda t: "https://x" + t), MALFORMED),
]


@pytest.mark.parametrize(
    ("make", "problem"),
    [(make, problem) for _, make, problem in REFUSED],
    ids=[i for i, _, _ in REFUSED],
)
def test_refused(make: Callable[[], Upgrade], problem: SignatureProblem) -> None:
    with pytest.raises(SignatureError) as caught:
        make().verify()
    assert caught.value.problem is problem, caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("make", [by_header, presigned], ids=["header", "presigned"])
def test_wrong_region(make: Callable[[], Upgrade]) -> None:
    with pytest.raises(SignatureError, match="region 'eu-west-1'") as caught:
        make().verify(region="eu-west-1")
    assert caught.value.problem is WRONG_REGION


def test_any_region_when_none_is_required() -> None:
    assert by_header(region="ap-northeast-1").verify().access_key == KEY


def test_messages_name_the_problem() -> None:
    with pytest.raises(SignatureError, match="unknown access key 'AKIDUNKNOWN'"):
        by_header(key="AKIDUNKNOWN").verify()
    with pytest.raises(SignatureError, match="service 'execute-api', not 'apigateway'"):
        by_header(service="apigateway").verify()
    with pytest.raises(SignatureError, match="does not match"):
        by_header(secret="nope").verify()
    with pytest.raises(SignatureError, match="expired"):
        presigned().later(minutes=2).verify()


# --- identity --------------------------------------------------------------------------


def test_identity_fields() -> None:
    identity = by_header().verify()
    assert identity.access_key == KEY
    assert identity.account_id == DEFAULT_ACCOUNT_ID == "000000000000"
    assert identity.caller == identity.user
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", identity.user)
    assert identity.user_arn == "arn:aws:iam::000000000000:user/AKIDEXAMPLE"


def test_identity_with_user_name_and_account() -> None:
    identity = by_header().verify(users={KEY: "alice"}, account_id="123456789012")
    assert identity.user_arn == "arn:aws:iam::123456789012:user/alice"
    assert identity.account_id == "123456789012"


def test_identity_is_stable_per_key() -> None:
    assert by_header().verify() == presigned().verify()
    other = by_header(key="AKIDOTHER", secret="other-secret").verify()
    assert other.user != by_header().verify().user


# --- the module ------------------------------------------------------------------------


def test_public_api() -> None:
    assert sorted(sigv4.__all__) == [
        "DEFAULT_ACCOUNT_ID",
        "EXECUTE_API",
        "SigV4Identity",
        "SignatureError",
        "SignatureProblem",
        "verify_sigv4",
    ]
    assert [problem.value for problem in SignatureProblem] == [
        "missing",
        "malformed",
        "unknown-access-key",
        "wrong-service",
        "wrong-region",
        "expired",
        "not-yet-valid",
        "mismatch",
    ]
