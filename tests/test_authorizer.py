"""Lambda REQUEST authorizers (emulator/authorizer.py, spec §6), table-driven, no event loop.

The event is rebuilt from the capture quoted in §6.2; every row of §6.3's outcome
table has a case below, and §6.4's stringification example is reproduced exactly.
"""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
from typing import Any

import pytest

from emulator.errors import ConfigError
from emulator.gateway.access import authorizer
from emulator.gateway.access.authorizer import (
    AuthorizerDecision,
    AuthorizerOutcome,
    authorizer_event,
    context_variables,
    decide,
    method_arn,
    missing_identity,
    rejection_body,
)
from emulator.gateway.events import ConnectionInfo, connect_event
from emulator.model import identity
from emulator.model.identity import IdentitySource, IdentitySourceKind, parse_identity_sources

ARN = "arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connect"

ALLOWED = AuthorizerOutcome.ALLOWED
MISSING_IDENTITY = AuthorizerOutcome.MISSING_IDENTITY
UNAUTHORIZED = AuthorizerOutcome.UNAUTHORIZED
DENIED = AuthorizerOutcome.DENIED
NOT_ALLOWED = AuthorizerOutcome.NOT_ALLOWED
FUNCTION_ERROR = AuthorizerOutcome.FUNCTION_ERROR
MALFORMED = AuthorizerOutcome.MALFORMED
TOO_LARGE = AuthorizerOutcome.TOO_LARGE


def statement(effect: Any = "Allow", resource: Any = ARN, **extra: Any) -> dict[str, Any]:
    return {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource, **extra}


def policy(*statements: Any, principal: Any = "user123", **extra: Any) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"principalId": principal, "policyDocument": document, **extra}


def outcome_of(result: object, raised: BaseException | None = None) -> AuthorizerOutcome:
    return decide(result, raised=raised, method_arn=ARN, integration_latency_ms=3).outcome


# --- identity sources (§6.1) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "name"),
    [
        ("route.request.header.Auth", IdentitySourceKind.HEADER, "Auth"),
        ("route.request.header.X-Api-Token", IdentitySourceKind.HEADER, "X-Api-Token"),
        ("route.request.querystring.token", IdentitySourceKind.QUERY_STRING, "token"),
        ("stageVariables.authEnabled", IdentitySourceKind.STAGE_VARIABLE, "authEnabled"),
        ("context.identity.sourceIp", IdentitySourceKind.CONTEXT, "identity.sourceIp"),
    ],
    ids=["header", "header-with-dashes", "querystring", "stage-variable", "context-dotted"],
)
def test_parse_identity_source(value: str, kind: IdentitySourceKind, name: str) -> None:
    assert parse_identity_sources([value]) == (IdentitySource(kind, name, value),)


@pytest.mark.parametrize(
    "value",
    [
        "method.request.header.Auth",  # REST's form, not WebSocket's
        "$request.header.Auth",  # HTTP API's form
        "route.request.header.",
        "route.request.body.token",
        "route.request.Header.Auth",
        "stagevariables.x",
        "Auth",
        "",
    ],
    ids=[
        "rest-method-request",
        "http-api-dollar",
        "header-without-name",
        "body",
        "wrong-case-prefix",
        "stagevariables-lowercase",
        "bare-name",
        "empty",
    ],
)
def test_unknown_identity_source_is_a_config_error_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match="unknown identity source") as caught:
        parse_identity_sources(["route.request.header.Auth", value])
    assert repr(value) in str(caught.value)


def test_non_string_identity_source_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        parse_identity_sources([42])  # type: ignore[list-item]


def test_no_identity_sources() -> None:
    assert parse_identity_sources([]) == ()
    assert missing_identity((), [], None, {}, {}) is None


HEADERS = [("Host", "h"), ("Auth", "secret"), ("X-Empty", ""), ("X-Twice", "a"), ("X-Twice", "")]
QUERY = [("token", "t"), ("blank", ""), ("Token", "")]
STAGE = {"env": "dev", "none": ""}
CONTEXT = {"identity.sourceIp": "1.2.3.4", "connectionId": "abc="}


@pytest.mark.parametrize(
    ("sources", "missing"),
    [
        (["route.request.header.Auth"], None),
        (["route.request.header.auth"], None),
        (["route.request.header.AUTH"], None),
        (["route.request.header.Authorization"], "route.request.header.Authorization"),
        (["route.request.header.X-Empty"], "route.request.header.X-Empty"),
        (["route.request.header.X-Twice"], "route.request.header.X-Twice"),
        (["route.request.querystring.token"], None),
        (["route.request.querystring.Token"], "route.request.querystring.Token"),
        (["route.request.querystring.blank"], "route.request.querystring.blank"),
        (["route.request.querystring.absent"], "route.request.querystring.absent"),
        (["stageVariables.env"], None),
        (["stageVariables.none"], "stageVariables.none"),
        (["stageVariables.absent"], "stageVariables.absent"),
        (["context.identity.sourceIp"], None),
        (["context.authorizer.principalId"], "context.authorizer.principalId"),
        (
            ["route.request.header.Auth", "route.request.querystring.x", "stageVariables.y"],
            "route.request.querystring.x",
        ),
        (
            [
                "route.request.header.auth",
                "route.request.querystring.token",
                "context.connectionId",
            ],
            None,
        ),
    ],
    ids=[
        "header-present",
        "header-lowercase-name",
        "header-uppercase-name",
        "header-absent",
        "header-empty",
        "repeated-header-last-empty",
        "query-present",
        "query-name-case-sensitive",
        "query-empty",
        "query-absent",
        "stage-variable-present",
        "stage-variable-empty",
        "stage-variable-absent",
        "context-present",
        "context-absent",
        "first-missing-of-several",
        "all-present",
    ],
)
def test_missing_identity(sources: list[str], missing: str | None) -> None:
    parsed = parse_identity_sources(sources)
    assert missing_identity(parsed, HEADERS, QUERY, STAGE, CONTEXT) == missing


def test_query_source_without_a_query_string_is_missing() -> None:
    parsed = parse_identity_sources(["route.request.querystring.token"])
    assert missing_identity(parsed, HEADERS, None, {}, {}) == "route.request.querystring.token"


def test_missing_identity_answers_401_without_calling_the_function() -> None:
    decision = AuthorizerDecision(MISSING_IDENTITY, reason="route.request.header.Auth")
    assert (decision.status, decision.allowed, decision.context) == (401, False, None)


def test_context_variables_flatten_the_request_context() -> None:
    context = {
        "routeKey": "$connect",
        "connectedAt": 1737995987617,
        "identity": {"sourceIp": "93.108.161.96", "userAgent": None},
        "flag": True,
    }
    assert context_variables(context) == {
        "routeKey": "$connect",
        "connectedAt": "1737995987617",
        "identity.sourceIp": "93.108.161.96",
        "flag": "true",
    }


# --- the event (§6.2) ------------------------------------------------------------------


def test_method_arn() -> None:
    assert method_arn("us-east-1", "533568316194", "c5jwxq709g", "production") == ARN
    assert (
        method_arn("eu-west-1", "000000000000", "api", "dev", "sendmessage")
        == "arn:aws:execute-api:eu-west-1:000000000000:api/dev/sendmessage"
    )


CAPTURE_INFO = ConnectionInfo(
    connection_id="FDmBIeapIAMCIQg=",
    connected_at=1737995987617,
    source_ip="93.108.161.96",
    user_agent=None,
    domain_name="c5jwxq709g.execute-api.us-east-1.amazonaws.com",
    api_id="c5jwxq709g",
    stage="production",
)
# What a `ws`/wscat client sends, then what AWS appends (spec §2.2 rule 3).
CLIENT_HEADERS = [
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "CYZZrfNgEcgzzzwL44qytQ=="),
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Authorization", "Leo"),
    ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
    ("Host", "c5jwxq709g.execute-api.us-east-1.amazonaws.com"),
    ("X-Amzn-Trace-Id", "Root=1-6797b6d3-64f9c928577f3ac56f5368ce"),
    ("X-Forwarded-For", "93.108.161.96"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Proto", "https"),
]
CAPTURE_HEADERS = {
    "Authorization": "Leo",
    "Connection": "upgrade",
    "content-length": "0",
    "Host": "c5jwxq709g.execute-api.us-east-1.amazonaws.com",
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    "Sec-WebSocket-Key": "CYZZrfNgEcgzzzwL44qytQ==",
    "Sec-WebSocket-Version": "13",
    "Upgrade": "websocket",
    "X-Amzn-Trace-Id": "Root=1-6797b6d3-64f9c928577f3ac56f5368ce",
    "X-Forwarded-For": "93.108.161.96",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def connect_context(headers: list[tuple[str, str]] = CLIENT_HEADERS) -> dict[str, Any]:
    event = connect_event(
        CAPTURE_INFO,
        headers=headers,
        query=None,
        request_id="FDmBIG3EoAMEqYA=",
        request_time_ms=1737995987617,
    )
    context: dict[str, Any] = event["requestContext"]
    return context


def make_event(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method_arn": ARN,
        "headers": CLIENT_HEADERS,
        "query": None,
        "stage_variables": {},
        "request_context": connect_context(),
    }
    arguments.update(overrides)
    return authorizer_event(**arguments)


def test_authorizer_event_matches_the_capture() -> None:
    event = make_event()
    assert list(event) == [
        "type",
        "methodArn",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "stageVariables",
        "requestContext",
    ]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == ARN
    assert event["headers"] == CAPTURE_HEADERS
    assert event["multiValueHeaders"] == {name: [v] for name, v in CAPTURE_HEADERS.items()}
    assert event["queryStringParameters"] == {}
    assert event["multiValueQueryStringParameters"] == {}
    assert event["stageVariables"] == {}
    assert event["requestContext"] == {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "FDmBIG3EoAMEqYA=",
        "requestTime": "27/Jan/2025:16:39:47 +0000",
        "messageDirection": "IN",
        "stage": "production",
        "connectedAt": 1737995987617,
        "requestTimeEpoch": 1737995987617,
        "identity": {"sourceIp": "93.108.161.96"},
        "requestId": "FDmBIG3EoAMEqYA=",
        "domainName": "c5jwxq709g.execute-api.us-east-1.amazonaws.com",
        "connectionId": "FDmBIeapIAMCIQg=",
        "apiId": "c5jwxq709g",
    }
    assert "isBase64Encoded" not in event
    assert "pathParameters" not in event


def test_content_length_sits_beside_connection() -> None:
    names = list(make_event()["headers"])
    assert names[names.index("Connection") + 1] == "content-length"


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (
            [("Host", "h"), ("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket")],
            [
                ("Host", "h"),
                ("Connection", "upgrade"),
                ("content-length", "0"),
                ("Upgrade", "websocket"),
            ],
        ),
        (
            [
                ("Host", "h"),
                ("Content-Length", "0"),
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
            ],
            [
                ("Host", "h"),
                ("content-length", "0"),
                ("Connection", "upgrade"),
                ("Upgrade", "websocket"),
            ],
        ),
        (
            [("Host", "h")],
            [
                ("Host", "h"),
                ("Connection", "upgrade"),
                ("content-length", "0"),
                ("Upgrade", "websocket"),
            ],
        ),
        (
            [("connection", "Upgrade"), ("connection", "Upgrade"), ("upgrade", "websocket")],
            [("Connection", "upgrade"), ("content-length", "0"), ("Upgrade", "websocket")],
        ),
    ],
    ids=["firefox-connection", "client-content-length", "none-sent", "lowercase-and-repeated"],
)
def test_upgrade_headers_take_aws_values(
    client: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    event = make_event(headers=client)
    assert list(event["headers"].items()) == expected
    assert event["multiValueHeaders"] == {name: [value] for name, value in expected}


def test_authorizer_event_with_query_and_stage_variables() -> None:
    event = make_event(
        query=[("QueryString1", "queryValue1"), ("tag", "a"), ("tag", "b")],
        stage_variables={"env": "dev"},
        headers=[
            ("Host", "h"),
            ("HeaderAuth1", "headerValue1"),
            ("X-Multi", "1"),
            ("X-Multi", "2"),
        ],
    )
    assert event["queryStringParameters"] == {"QueryString1": "queryValue1", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {
        "QueryString1": ["queryValue1"],
        "tag": ["a", "b"],
    }
    assert event["stageVariables"] == {"env": "dev"}
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]


@pytest.mark.parametrize("stage_variables", [None, {}], ids=["None", "empty"])
def test_empty_maps_are_present(stage_variables: dict[str, str] | None) -> None:
    event = make_event(query=[], stage_variables=stage_variables)
    assert event["queryStringParameters"] == event["stageVariables"] == {}


def test_request_context_is_the_connect_events_and_a_copy() -> None:
    context = connect_context()
    context["authorizer"] = {"principalId": "stale"}
    event = make_event(request_context=context)
    assert "authorizer" not in event["requestContext"]
    assert event["requestContext"]["connectionId"] == context["connectionId"]
    event["requestContext"]["identity"]["sourceIp"] = "changed"
    assert context["identity"]["sourceIp"] == "93.108.161.96"
    assert "authorizer" in context


def test_authorizer_event_is_json() -> None:
    event = make_event(query=[("a", "1")], stage_variables={"s": "v"})
    assert json.loads(json.dumps(event)) == event


# --- outcomes (§6.3) -------------------------------------------------------------------


class Unauthorized(Exception):
    pass


@pytest.mark.parametrize(
    ("result", "raised", "outcome"),
    [
        # Function raises the error "Unauthorized" → 401
        (None, Exception("Unauthorized"), UNAUTHORIZED),
        (None, Unauthorized("Unauthorized"), UNAUTHORIZED),
        (None, ValueError("Unauthorized"), UNAUTHORIZED),
        (None, Exception("unauthorized"), FUNCTION_ERROR),
        (None, Exception("Unauthorized "), FUNCTION_ERROR),
        (None, Exception("Unauthorized", "x"), FUNCTION_ERROR),
        (None, Unauthorized(), FUNCTION_ERROR),
        # Any other exception → 500
        (None, RuntimeError("boom"), FUNCTION_ERROR),
        (None, KeyError("Authorization"), FUNCTION_ERROR),
        (None, SystemExit("Unauthorized"), FUNCTION_ERROR),
        # Malformed responses → 500
        ("Unauthorized", None, MALFORMED),
        (None, None, MALFORMED),
        ([policy(statement())], None, MALFORMED),
        ({"statusCode": 401}, None, MALFORMED),
        ({"policyDocument": policy(statement())["policyDocument"]}, None, MALFORMED),
        (policy(statement(), principal=None), None, MALFORMED),
        (policy(statement(), principal=123), None, MALFORMED),
        ({"principalId": "u"}, None, MALFORMED),
        ({"principalId": "u", "policyDocument": "Allow"}, None, MALFORMED),
        ({"principalId": "u", "policyDocument": {"Version": "2012-10-17"}}, None, MALFORMED),
        ({"principalId": "u", "policyDocument": {"Statement": "Allow"}}, None, MALFORMED),
        (policy("Allow"), None, MALFORMED),
        (policy(statement(effect="allow")), None, MALFORMED),
        (policy(statement(effect="Permit")), None, MALFORMED),
        (policy(statement(effect=None)), None, MALFORMED),
        (policy(statement(effect=["Allow", "Deny"])), None, MALFORMED),
        (policy({"Effect": "Allow", "Resource": ARN}), None, MALFORMED),
        (policy({"Effect": "Allow", "Action": "execute-api:Invoke"}), None, MALFORMED),
        (policy(statement(NotResource="x")), None, MALFORMED),
        (policy(statement(resource=42)), None, MALFORMED),
        (policy(statement(resource=[ARN, None])), None, MALFORMED),
        (policy(statement(), context={"user": {"id": 1}}), None, MALFORMED),
        (policy(statement(), context={"roles": ["admin"]}), None, MALFORMED),
        (policy(statement(), context={"roles": ()}), None, MALFORMED),
        (policy(statement(), context="user=1"), None, MALFORMED),
        (policy(statement(), context={"when": object()}), None, MALFORMED),
        (policy(statement(), context={"ratio": float("nan")}), None, MALFORMED),
        # Deny, or no Allow matching methodArn → 403
        (policy(statement(effect="Deny")), None, DENIED),
        (policy(statement(), statement(effect="Deny")), None, DENIED),
        (policy(statement(effect="Deny", resource="*"), statement()), None, DENIED),
        (policy(statement(resource=ARN.replace("production", "dev"))), None, NOT_ALLOWED),
        (policy(), None, NOT_ALLOWED),
        (
            policy(statement(effect="Deny", resource="arn:aws:execute-api:*:*:*/dev/*")),
            None,
            NOT_ALLOWED,
        ),
        (policy(statement(Action="execute-api:ManageConnections")), None, NOT_ALLOWED),
        (policy(statement(Action="s3:*")), None, NOT_ALLOWED),
        (policy(statement(Action=[])), None, NOT_ALLOWED),
        # Allow matching methodArn → proceed
        (policy(statement()), None, ALLOWED),
        (policy(statement(), principal=""), None, ALLOWED),
        (policy(statement(), context=None), None, ALLOWED),
        (policy(statement(), usageIdentifierKey="key", extra="ignored"), None, ALLOWED),
    ],
    ids=[
        "raise-Unauthorized",
        "raise-subclass-Unauthorized",
        "raise-ValueError-Unauthorized",
        "raise-lowercase-unauthorized",
        "raise-Unauthorized-trailing-space",
        "raise-Unauthorized-two-args",
        "raise-Unauthorized-class-no-message",
        "raise-RuntimeError",
        "raise-KeyError",
        "SystemExit-is-not-Unauthorized",
        "return-string-Unauthorized",
        "return-None",
        "return-list",
        "return-statusCode-401-examples557",
        "no-principalId",
        "principalId-null",
        "principalId-number",
        "no-policyDocument",
        "policyDocument-string",
        "no-Statement",
        "Statement-string",
        "Statement-item-string",
        "Effect-lowercase",
        "Effect-unknown",
        "Effect-missing",
        "Effect-list-of-two",
        "no-Action",
        "no-Resource",
        "Resource-and-NotResource",
        "Resource-number",
        "Resource-list-with-null",
        "context-object-value",
        "context-array-value",
        "context-tuple-value",
        "context-not-object",
        "not-json-serializable",
        "NaN",
        "Deny",
        "Allow-then-Deny",
        "Deny-star-wins-over-Allow",
        "Allow-wrong-stage",
        "no-statements",
        "Deny-elsewhere-no-Allow",
        "Allow-other-action",
        "Allow-other-service",
        "Allow-empty-action-list",
        "Allow",
        "Allow-empty-principalId",
        "Allow-context-null",
        "Allow-extra-keys-ignored",
    ],
)
def test_outcome(result: object, raised: BaseException | None, outcome: AuthorizerOutcome) -> None:
    decision = decide(result, raised=raised, method_arn=ARN, integration_latency_ms=3)
    assert decision.outcome is outcome, decision.reason
    assert decision.allowed is (outcome is ALLOWED)
    assert (decision.context is not None) is decision.allowed
    assert decision.reason


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (ALLOWED, None),
        (MISSING_IDENTITY, 401),
        (UNAUTHORIZED, 401),
        (DENIED, 403),
        (NOT_ALLOWED, 403),
        (FUNCTION_ERROR, 500),
        (MALFORMED, 500),
        (TOO_LARGE, 500),
    ],
    ids=lambda value: str(getattr(value, "value", value)),
)
def test_status_of_each_outcome(outcome: AuthorizerOutcome, status: int | None) -> None:
    assert outcome.status == status
    assert AuthorizerDecision(outcome).status == status


# IAM forms: Statement as one object, Effect/Action/Resource as strings or lists.
@pytest.mark.parametrize(
    "document",
    [
        {"Statement": {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}},
        {"Statement": [{"Effect": ["Allow"], "Action": ["execute-api:Invoke"], "Resource": [ARN]}]},
        {
            "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["x", ARN]}
            ]
        },
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:Get*", "execute-api:*"], "Resource": ARN}
            ]
        },
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ARN}]},
        {"Statement": [{"Effect": "Allow", "Action": "Execute-API:invoke", "Resource": ARN}]},
        {"Statement": [{"Effect": "Allow", "Action": "execute-api:Inv?ke", "Resource": ARN}]},
        {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": ARN}]},
        {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": "x"}]},
        {
            "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                {"Effect": "Deny", "NotAction": "execute-api:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": "*"},
            ]
        },
        {
            "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN},
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "x", "Sid": "a"},
            ]
        },
    ],
    ids=[
        "Statement-object",
        "all-lists",
        "Resource-list-second",
        "Action-service-wildcard",
        "Action-star",
        "Action-case-insensitive",
        "Action-question-mark",
        "NotAction",
        "NotResource",
        "Deny-not-applying",
        "Allow-and-irrelevant-Allow",
    ],
)
def test_iam_forms_allow(document: dict[str, Any]) -> None:
    assert outcome_of({"principalId": "u", "policyDocument": document}) is ALLOWED


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        (ARN, True),
        ("arn:aws:execute-api:us-east-1:*:c5jwxq709g/*/$connect", True),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/*", True),
        ("arn:aws:execute-api:us-east-1:533568316194:*", True),
        ("arn:aws:execute-api:*", True),
        ("arn:aws:execute-api:*:*:*", True),
        ("*", True),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/producti?n/$connect", True),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/*/*", True),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/dev/$connect", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/dev/*", False),
        ("arn:aws:execute-api:us-east-1:*:api/*/$connect", False),
        ("arn:aws:execute-api:us-west-2:*:c5jwxq709g/*/$connect", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$default", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production", False),
        ("arn:aws:execute-api:us-east-1:533568316194:C5JWXQ709G/production/$connect", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connec?", True),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connect?", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/.connect", False),
        ("arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/(production)/$connect", False),
        ("", False),
    ],
    ids=[
        "exact",
        "any-account-any-stage",
        "api-star",
        "account-star",
        "service-star",
        "all-parts-star",
        "star",
        "question-mark",
        "stage-star-route-star",
        "wrong-stage",
        "wrong-stage-any-route",
        "other-api",
        "other-region",
        "other-route",
        "no-route",
        "case-sensitive",
        "question-mark-last-char",
        "question-mark-needs-a-char",
        "dot-is-literal",
        "parens-are-literal",
        "empty",
    ],
)
def test_resource_wildcards(resource: str, allowed: bool) -> None:
    expected = ALLOWED if allowed else NOT_ALLOWED
    assert outcome_of(policy(statement(resource=resource))) is expected


def test_resource_wildcards_for_the_generic_arn() -> None:
    arn = method_arn("us-east-1", "123456789012", "api", "prod")
    result = policy(statement(resource="arn:aws:execute-api:us-east-1:*:api/*/$connect"))
    assert decide(result, raised=None, method_arn=arn, integration_latency_ms=0).allowed
    wrong_stage = method_arn("us-east-1", "123456789012", "api", "prod2")
    result = policy(statement(resource="arn:aws:execute-api:us-east-1:*:api/prod/$connect"))
    assert not decide(result, raised=None, method_arn=wrong_stage, integration_latency_ms=0).allowed


# --- context propagation (§6.4) --------------------------------------------------------


def test_context_is_stringified_as_in_the_spec_example() -> None:
    result = policy(
        statement(),
        principal="my-username",
        context={"str": "hello", "num": 123, "bool": True, "null": None},
    )
    decision = decide(result, raised=None, method_arn=ARN, integration_latency_ms=0)
    assert decision.context == {
        "str": "hello",
        "num": "123",
        "bool": "true",
        "null": None,
        "principalId": "my-username",
        "integrationLatency": 0,
    }
    assert list(decision.context)[-2:] == ["principalId", "integrationLatency"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("hello", "hello"),
        ("", ""),
        ("123", "123"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (123456789012345678901234567890, "123456789012345678901234567890"),
        (1.5, "1.5"),
        (1.0, "1.0"),
        (1e20, "1e+20"),
        (decimal.Decimal("2.5"), "2.5"),
        (None, None),
        ("é ✓", "é ✓"),
    ],
    ids=[
        "str",
        "empty-str",
        "numeric-str",
        "true",
        "false",
        "zero",
        "negative",
        "big-int",
        "float",
        "float-integral",
        "float-exponent",
        "Decimal-as-runtime",
        "null",
        "unicode",
    ],
)
def test_context_value_stringified(value: object, text: str | None) -> None:
    decision = decide(
        policy(statement(), context={"k": value}),
        raised=None,
        method_arn=ARN,
        integration_latency_ms=0,
    )
    assert decision.context is not None
    assert decision.context["k"] == text


def test_principal_id_and_latency_win_over_context_keys() -> None:
    result = policy(
        statement(), principal="real", context={"principalId": "fake", "integrationLatency": 9}
    )
    decision = decide(result, raised=None, method_arn=ARN, integration_latency_ms=42)
    assert decision.context == {"principalId": "real", "integrationLatency": 42}


def test_context_is_a_fresh_dict() -> None:
    context = {"k": "v"}
    decision = decide(
        policy(statement(), context=context), raised=None, method_arn=ARN, integration_latency_ms=0
    )
    assert decision.context is not None
    decision.context["k"] = "changed"
    assert context == {"k": "v"}


def test_tuples_and_int_keys_are_judged_after_a_json_round_trip() -> None:
    result = {
        "principalId": "u",
        "policyDocument": {"Statement": ({"Effect": "Allow", "Action": "*", "Resource": ("*",)},)},
        "context": {1: 2},
    }
    decision = decide(result, raised=None, method_arn=ARN, integration_latency_ms=0)
    assert decision.context == {"1": "2", "principalId": "u", "integrationLatency": 0}


# --- the 8 KB limit --------------------------------------------------------------------


def padded(size: int, char: str = "x") -> dict[str, Any]:
    """An allowing result whose compact UTF-8 JSON is exactly ``size`` bytes."""
    result = policy(statement(), context={"pad": ""})
    base = len(json.dumps(result, separators=(",", ":")).encode())
    width = len(char.encode())
    assert (size - base) % width == 0
    result["context"]["pad"] = char * ((size - base) // width)
    assert len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()) == size
    return result


@pytest.mark.parametrize(
    ("size", "char", "outcome"),
    [
        (8192, "x", ALLOWED),
        (8193, "x", TOO_LARGE),
        (20000, "x", TOO_LARGE),
        (8192, "\u00e9", ALLOWED),
        (8194, "\u00e9", TOO_LARGE),
    ],
    ids=["exactly-8192", "8193", "20000", "utf8-exactly-8192", "utf8-8194"],
)
def test_result_size_limit(size: int, char: str, outcome: AuthorizerOutcome) -> None:
    assert outcome_of(padded(size - size % len(char.encode()), char)) is outcome


def test_too_large_wins_over_an_unparseable_policy() -> None:
    assert outcome_of({"padding": "x" * 9000}) is TOO_LARGE


# --- rejection bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"message": "Unauthorized"}), (403, {"message": "Forbidden"}), (500, {"message": None})],
    ids=["401", "403", "500"],
)
def test_rejection_body(status: int, body: dict[str, Any]) -> None:
    assert json.loads(rejection_body(status)) == body


def test_rejection_body_for_every_rejecting_outcome() -> None:
    for outcome in AuthorizerOutcome:
        if outcome.status is not None:
            assert rejection_body(outcome.status)


@pytest.mark.parametrize("status", [200, 502, 0], ids=["200", "502", "0"])
def test_rejection_body_of_other_status_is_an_error(status: int) -> None:
    with pytest.raises(ValueError, match="no authorizer rejection"):
        rejection_body(status)


# --- the module ------------------------------------------------------------------------


def test_public_api() -> None:
    assert sorted(authorizer.__all__) == [
        "AuthorizerDecision",
        "AuthorizerOutcome",
        "authorizer_event",
        "context_variables",
        "decide",
        "method_arn",
        "missing_identity",
        "rejection_body",
    ]
    assert sorted(identity.__all__) == [
        "IdentitySource",
        "IdentitySourceKind",
        "parse_identity_sources",
    ]


def test_pure_core_imports_no_io() -> None:
    code = (
        "import sys, emulator.gateway.access.authorizer; "
        "print(sorted({'asyncio', 'websockets', 'socket'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
