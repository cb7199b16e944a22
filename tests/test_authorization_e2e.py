"""Authorization on ``$connect`` through a live server: Lambda authorizers and AWS_IAM (spec §6).

The authorizer is a real handler in ``tests/handlers/auth_probe.py``; tests
plan what it returns or raises by setting ``auth_probe.plan`` on the module the
emulator imported (by its bare name, as Lambda would). IAM upgrades are signed
by botocore's own SigV4 signer, headers or presigned URL, as real clients sign them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from emulator.errors import ConfigError
from emulator.model.config import parse_config
from emulator.tools.testing import Client, Harness
from tests.conftest import StartApi, handler_module

auth_probe = handler_module("auth_probe")

STAGE = "dev"
ACCOUNT = "000000000000"  # the emulator's account id, in methodArn and IAM identities
ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
}
AUTHORIZER: dict[str, Any] = {
    "handler": "auth_probe.authorize",
    "identitySource": ["route.request.header.Auth"],
}
TOKEN = {"Auth": "let-me-in"}
# What the authorizer event has, and nothing else (spec §6.2).
AUTHORIZER_EVENT_KEYS = {
    "type",
    "methodArn",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "stageVariables",
    "requestContext",
}
# Kept on the authorizer event, dropped from the $connect event (spec §6.2).
UPGRADE_HEADERS = {"Connection": "upgrade", "Upgrade": "websocket", "content-length": "0"}


async def start_custom(
    start_api: StartApi, authorizer: dict[str, Any] | None = None, **top: Any
) -> Harness:
    return await start_api(ROUTES, stage=STAGE, authorizer=authorizer or AUTHORIZER, **top)


def method_arn(api: Harness) -> str:
    return f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api.emulator.api_id}/{STAGE}/$connect"


def use_plan(monkeypatch: pytest.MonkeyPatch, plan: Callable[[dict[str, Any]], Any]) -> None:
    """Make the authorizer run ``plan(event)`` (undone at the end of the test)."""
    monkeypatch.setattr(auth_probe, "plan", plan)


async def closed(api: Harness, client: Client) -> dict[str, Any]:
    """Close ``client``; its DISCONNECT event."""
    await client.close(1000, "bye")
    count = 1
    while True:  # until this connection's $disconnect is among those seen
        invocations = await api.record.wait_for_invocations("$disconnect", count)
        for invocation in invocations:
            if invocation.event["requestContext"]["connectionId"] == client.connection_id:
                return invocation.event
        count = len(invocations) + 1


# --- the authorizer event (spec §6.2) ----------------------------------------------------


async def test_authorizer_event_without_a_query_string(start_api: StartApi) -> None:
    api = await start_custom(start_api)
    client = await api.connect(headers=TOKEN)
    [event] = api.record.events("$authorizer")
    [connect] = api.record.events("$connect")

    assert set(event) == AUTHORIZER_EVENT_KEYS  # no isBase64Encoded, no pathParameters
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == method_arn(api)
    # AWS: the maps are there, empty, when the URL has none (capture).
    assert event["queryStringParameters"] == {}
    assert event["multiValueQueryStringParameters"] == {}
    assert event["stageVariables"] == {}

    headers = event["headers"]
    assert headers["Auth"] == "let-me-in"
    assert {name: headers[name] for name in UPGRADE_HEADERS} == UPGRADE_HEADERS
    assert event["multiValueHeaders"] == {name: [value] for name, value in headers.items()}
    # Otherwise the headers are the $connect event's: the client's and AWS's additions.
    others = {n: v for n, v in headers.items() if n not in UPGRADE_HEADERS}
    assert others == connect["headers"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"

    # The same connection: the $connect integration then sees the same connectionId.
    context = event["requestContext"]
    connect_context = connect["requestContext"]
    assert context["connectionId"] == connect_context["connectionId"] == client.connection_id
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    for key in ("connectedAt", "identity", "apiId", "domainName", "stage"):
        assert context[key] == connect_context[key], key
    # No authorizer context yet: it is what this call decides.
    assert set(context) == set(connect_context) - {"authorizer"}
    assert "authorizer" in connect_context


async def test_authorizer_event_with_a_query_string(start_api: StartApi) -> None:
    api = await start_custom(
        start_api, {**AUTHORIZER, "identitySource": ["route.request.querystring.token"]}
    )
    await api.connect(query=[("token", "abc"), ("tag", "1"), ("tag", "2")])
    [event] = api.record.events("$authorizer")
    # AWS: the last value in the single-value map, all of them in the multi-value map.
    assert event["queryStringParameters"] == {"token": "abc", "tag": "2"}
    assert event["multiValueQueryStringParameters"] == {"token": ["abc"], "tag": ["1", "2"]}
    assert event["stageVariables"] == {}
    [connect] = api.record.events("$connect")
    assert connect["queryStringParameters"] == event["queryStringParameters"]


# --- identity sources: checked before the authorizer runs (spec §6.1) -----------------------


@pytest.mark.parametrize(
    ("sources", "headers", "query"),
    [
        pytest.param(["route.request.header.Auth"], None, None, id="header-absent"),
        pytest.param(["route.request.header.Auth"], {"Auth": ""}, None, id="header-empty"),
        pytest.param(["route.request.header.Auth"], None, {"Auth": "x"}, id="header-in-query"),
        pytest.param(["route.request.querystring.token"], None, None, id="query-absent"),
        pytest.param(["route.request.querystring.token"], None, {"token": ""}, id="query-empty"),
        pytest.param(["route.request.querystring.token"], None, {"t": "x"}, id="query-other"),
        pytest.param(
            ["route.request.querystring.token"], {"token": "x"}, None, id="query-in-header"
        ),
        pytest.param(
            ["route.request.header.Auth", "route.request.querystring.token"],
            {"Auth": "x"},
            None,
            id="second-of-two-absent",
        ),
    ],
)
async def test_missing_identity_source_is_401_without_invoking(
    start_api: StartApi,
    sources: list[str],
    headers: dict[str, str] | None,
    query: dict[str, str] | None,
) -> None:
    # AWS: absent, null or empty → 401 "without calling the Lambda function" (spec §6.1).
    api = await start_custom(start_api, {**AUTHORIZER, "identitySource": sources})
    assert await api.connect_rejected(headers=headers, query=query) == 401
    await api.stop()
    assert api.record.invocations == []  # no authorizer, no $connect, no $disconnect


@pytest.mark.parametrize(
    ("sources", "headers", "query"),
    [
        pytest.param(["route.request.header.Auth"], {"Auth": "x"}, None, id="header"),
        # Header names match case-insensitively (spec §6.1, HTTP semantics).
        pytest.param(
            ["route.request.header.Authorization"],
            {"authorization": "x"},
            None,
            id="header-lower-case-sent",
        ),
        pytest.param(["route.request.header.auth"], {"AUTH": "x"}, None, id="header-upper-sent"),
        pytest.param(["route.request.querystring.token"], None, {"token": "x"}, id="query"),
        pytest.param(
            ["route.request.header.Auth", "route.request.querystring.token"],
            {"Auth": "x"},
            {"token": "y"},
            id="header-and-query",
        ),
        # AWS: no identity sources → the authorizer is always invoked (spec §6.1).
        pytest.param([], None, None, id="no-sources"),
        pytest.param(["context.identity.sourceIp"], None, None, id="context-variable"),
    ],
)
async def test_present_identity_sources_invoke_the_authorizer(
    start_api: StartApi,
    sources: list[str],
    headers: dict[str, str] | None,
    query: dict[str, str] | None,
) -> None:
    api = await start_custom(start_api, {**AUTHORIZER, "identitySource": sources})
    client = await api.connect(headers=headers, query=query)
    [authorizer] = api.record.invocations[:1]
    assert authorizer.route_key == "$authorizer"
    assert authorizer.event["requestContext"]["connectionId"] == client.connection_id
    assert [i.route_key for i in api.record.invocations] == ["$authorizer", "$connect"]


async def test_browser_token_in_the_subprotocol_header(start_api: StartApi) -> None:
    # Browsers cannot set headers on a WebSocket: a token offered as a subprotocol
    # is a common identity source.
    sources = ["route.request.header.Sec-WebSocket-Protocol"]
    api = await start_custom(start_api, {**AUTHORIZER, "identitySource": sources})
    assert await api.connect_rejected() == 401
    await api.connect(subprotocols=["token-abc"])
    [event] = api.record.events("$authorizer")
    assert event["headers"]["Sec-WebSocket-Protocol"] == "token-abc"


# --- outcomes (spec §6.3) -----------------------------------------------------------------


def allow(resource: Callable[[str], str]) -> Callable[[dict[str, Any]], Any]:
    """A plan allowing the resource ``resource(methodArn)``."""
    return lambda event: auth_probe.allow("me", resource(event["methodArn"]))


def policy(*statements: tuple[str, str], principal: Any = "me", **extra: Any) -> Any:
    """A plan returning a policy of ``(effect, resource)`` statements; ``{arn}`` is methodArn."""

    def plan(event: dict[str, Any]) -> Any:
        arn = event["methodArn"]
        result: dict[str, Any] = {
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": effect,
                        "Resource": resource.format(arn=arn),
                    }
                    for effect, resource in statements
                ],
            },
            **extra,
        }
        if principal is not None:
            result["principalId"] = principal
        return result

    return plan


def returns(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda event: value


def raises(error: type[BaseException], message: str) -> Callable[[dict[str, Any]], Any]:
    def plan(event: dict[str, Any]) -> Any:
        raise error(message)

    return plan


ALLOWED = None  # the status column of an accepted handshake

OUTCOMES = [
    pytest.param(allow(lambda arn: arn), ALLOWED, id="allow-method-arn"),
    pytest.param(allow(lambda arn: "*"), ALLOWED, id="allow-star"),
    pytest.param(
        allow(lambda arn: "arn:aws:execute-api:*:*:*/*/$connect"), ALLOWED, id="allow-wildcards"
    ),
    pytest.param(allow(lambda arn: arn.rsplit("/", 2)[0] + "/*"), ALLOWED, id="allow-api-star"),
    pytest.param(
        allow(lambda arn: arn.replace("$connect", "$conn?ct")), ALLOWED, id="allow-question-mark"
    ),
    # AWS: the error message "Unauthorized" means 401.
    pytest.param(raises(Exception, "Unauthorized"), 401, id="raise-Unauthorized"),
    pytest.param(policy(("Deny", "{arn}")), 403, id="deny"),
    # IAM: an explicit Deny wins over an Allow.
    pytest.param(policy(("Allow", "{arn}"), ("Deny", "*")), 403, id="deny-beats-allow"),
    pytest.param(
        allow(lambda arn: arn.replace(f"/{STAGE}/", "/prod/")), 403, id="allow-other-stage"
    ),
    pytest.param(
        allow(lambda arn: arn.replace("$connect", "$default")), 403, id="allow-other-route"
    ),
    pytest.param(
        allow(lambda arn: re.sub(r":\w+/", ":otherapi01/", arn)), 403, id="allow-other-api"
    ),
    pytest.param(
        allow(lambda arn: arn.replace("us-east-1", "eu-west-1")), 403, id="allow-other-region"
    ),
    # IAM: resources (ARNs) are case-sensitive.
    pytest.param(allow(lambda arn: arn.replace("$connect", "$CONNECT")), 403, id="allow-case"),
    pytest.param(policy(), 403, id="no-statements"),
    pytest.param(raises(RuntimeError, "boom"), 500, id="raise-other"),
    # Only the exact message "Unauthorized" is special [INFER from REST's authorizers].
    pytest.param(raises(Exception, "unauthorized"), 500, id="raise-lower-case-unauthorized"),
    pytest.param(raises(ValueError, "Unauthorized"), 401, id="raise-ValueError-Unauthorized"),
    pytest.param(policy(("Allow", "{arn}"), principal=None), 500, id="missing-principalId"),
    pytest.param(
        policy(("Allow", "{arn}"), context={"nested": {"a": 1}}), 500, id="context-value-dict"
    ),
    pytest.param(policy(("Allow", "{arn}"), context={"list": [1]}), 500, id="context-value-list"),
    # serverless/examples#557: returning an HTTP response instead of a policy gives 500.
    pytest.param(returns({"statusCode": 401}), 500, id="statusCode-401"),
    pytest.param(returns(None), 500, id="returns-None"),
    pytest.param(returns("Allow"), 500, id="returns-a-string"),
    # AWS quota: 8 KB for the authorizer result (spec §5; 500 is INFER).
    pytest.param(
        policy(("Allow", "{arn}"), context={"pad": "x" * 9000}), 500, id="result-over-8KB"
    ),
    pytest.param(
        policy(("Allow", "{arn}"), context={"pad": "x" * 7000}), ALLOWED, id="result-of-7KB"
    ),
]


@pytest.mark.parametrize("handler", ["auth_probe.authorize", "auth_probe.async_authorize"])
@pytest.mark.parametrize(("plan", "status"), OUTCOMES)
async def test_authorizer_outcome(
    start_api: StartApi,
    monkeypatch: pytest.MonkeyPatch,
    handler: str,
    plan: Callable[[dict[str, Any]], Any],
    status: int | None,
) -> None:
    use_plan(monkeypatch, plan)
    api = await start_custom(start_api, {**AUTHORIZER, "handler": handler})
    if status is ALLOWED:
        client = await api.connect(headers=TOKEN)
        await client.send_text("hello")
        assert await client.receive_text() == "hello"
        await client.close()
        await api.record.wait_for_invocations("$disconnect")
        await api.stop()
        assert [i.route_key for i in api.record.invocations] == [
            "$authorizer",
            "$connect",
            "$default",
            "$disconnect",
        ]
        return
    assert await api.connect_rejected(headers=TOKEN) == status
    await api.stop()  # waits for any $disconnect a refused connection would have run
    # A refused connect runs neither $connect nor $disconnect (spec §3.1).
    assert [i.route_key for i in api.record.invocations] == ["$authorizer"]
    assert api.emulator.connection_ids() == []


async def test_authorizer_timeout_is_500(start_api: StartApi) -> None:
    # Spec §6.5: authorizers run like integrations, under their own timeout.
    api = await start_custom(
        start_api, {**AUTHORIZER, "handler": "auth_probe.blocks", "timeout": 0.2}
    )
    auth_probe.gate.clear()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        assert await api.connect_rejected(headers=TOKEN) == 500
        elapsed = loop.time() - started
    finally:
        auth_probe.gate.set()
    assert 0.19 <= elapsed < auth_probe.GATE_TIMEOUT / 2  # at the deadline, not the release
    [invocation] = api.record.invocations
    assert (invocation.route_key, invocation.outcome) == ("$authorizer", "timeout")
    await api.stop()
    assert [i.route_key for i in api.record.invocations] == ["$authorizer"]


@pytest.mark.parametrize(
    ("plan", "status", "body"),
    [
        pytest.param(raises(Exception, "Unauthorized"), 401, {"message": "Unauthorized"}, id="401"),
        pytest.param(policy(("Deny", "{arn}")), 403, {"message": "Forbidden"}, id="403"),
        pytest.param(raises(RuntimeError, "boom"), 500, {"message": None}, id="500"),
    ],
)
async def test_rejection_bodies(
    start_api: StartApi,
    monkeypatch: pytest.MonkeyPatch,
    plan: Callable[[dict[str, Any]], Any],
    status: int,
    body: dict[str, Any],
) -> None:
    # Spec §6.3: [UNKNOWN] for WebSocket; REST's bodies are the recommendation.
    use_plan(monkeypatch, plan)
    api = await start_custom(start_api)
    with pytest.raises(InvalidStatus) as raised:
        await asyncio.wait_for(ws_connect(api.url, additional_headers=TOKEN, open_timeout=None), 5)
    response = raised.value.response
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == body


async def test_authorizer_sees_its_own_environment(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plan(event: dict[str, Any]) -> Any:
        names = ("SHARED", "AUTH_ONLY", "ROUTE_ONLY")
        return auth_probe.allow(
            "me", event["methodArn"], {name: os.environ.get(name) for name in names}
        )

    use_plan(monkeypatch, plan)
    routes = {**ROUTES, "$connect": {"handler": "probe.ok", "environment": {"ROUTE_ONLY": "r"}}}
    api = await start_api(
        routes,
        stage=STAGE,
        environment={"SHARED": "top"},
        authorizer={**AUTHORIZER, "environment": {"AUTH_ONLY": "a"}},
    )
    await api.connect(headers=TOKEN)
    [connect] = api.record.events("$connect")
    authorizer = connect["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("SHARED", "AUTH_ONLY", "ROUTE_ONLY")} == {
        "SHARED": "top",
        "AUTH_ONLY": "a",
        "ROUTE_ONLY": None,
    }


async def test_server_keeps_serving_after_a_failing_authorizer(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, raises(RuntimeError, "boom"))
    api = await start_custom(start_api)
    assert await api.connect_rejected(headers=TOKEN) == 500
    use_plan(monkeypatch, allow(lambda arn: arn))
    client = await api.connect(headers=TOKEN)
    await client.send_text("still serving")
    assert await client.receive_text() == "still serving"


async def test_no_caching_the_authorizer_runs_on_every_connect(start_api: StartApi) -> None:
    # AWS: result caching is HTTP-API only; WebSocket authorizers run on every $connect.
    api = await start_custom(start_api)
    first = await api.connect(headers=TOKEN)
    second = await api.connect(headers=TOKEN)
    events = api.record.events("$authorizer")
    assert [e["requestContext"]["connectionId"] for e in events] == [
        first.connection_id,
        second.connection_id,
    ]
    await first.close()
    third = await api.connect(headers=TOKEN)
    assert len(api.record.events("$authorizer")) == 3
    assert third.connection_id not in (first.connection_id, second.connection_id)


# --- context propagation (spec §6.4) ------------------------------------------------------


def expected_context(token: str, latency: int) -> dict[str, Any]:
    """``auth_probe.by_token``'s context as AWS passes it on: every value a string."""
    return {
        "user": token,
        "number": "123",
        "ratio": "1.5",
        "yes": "true",
        "no": "false",
        "nothing": None,  # null stays null
        "length": str(len(token)),
        "principalId": token,
        "integrationLatency": latency,
    }


async def test_context_rides_on_every_event_of_the_connection(start_api: StartApi) -> None:
    api = await start_custom(start_api, {**AUTHORIZER, "handler": "auth_probe.by_token"})
    alice = await api.connect(headers={"Auth": "alice"})
    bob = await api.connect(headers={"Auth": "bob-the-builder"})
    for client in (alice, bob, alice):
        await client.send_text("hi")
        assert await client.receive_text() == "hi"

    for client, token in ((alice, "alice"), (bob, "bob-the-builder")):
        [connect] = [
            e
            for e in api.record.events("$connect")
            if e["requestContext"]["connectionId"] == client.connection_id
        ]
        authorizer = connect["requestContext"]["authorizer"]
        latency = authorizer["integrationLatency"]
        assert type(latency) is int
        assert latency >= 0
        assert authorizer == expected_context(token, latency)
        messages = [
            e
            for e in api.record.events("$default")
            if e["requestContext"]["connectionId"] == client.connection_id
        ]
        assert len(messages) == (2 if client is alice else 1)
        for message in messages:
            # Evaluated once at connect: the same object, latency included.
            assert message["requestContext"]["authorizer"] == authorizer
        disconnect = await closed(api, client)
        assert disconnect["requestContext"]["authorizer"] == authorizer


async def test_integration_latency_is_the_authorizers_duration(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(event: dict[str, Any]) -> Any:
        time.sleep(0.1)  # the authorizer's own work, not synchronisation
        return auth_probe.allow("me", event["methodArn"])

    use_plan(monkeypatch, slow)
    api = await start_custom(start_api)
    await api.connect(headers=TOKEN)
    [connect] = api.record.events("$connect")
    latency = connect["requestContext"]["authorizer"]["integrationLatency"]
    assert type(latency) is int
    assert 100 <= latency < 5000


async def test_no_authorizer_no_authorizer_context(start_api: StartApi) -> None:
    api = await start_api(ROUTES, stage=STAGE)
    client = await api.connect(headers=TOKEN)
    await client.send_text("hi")
    assert await client.receive_text() == "hi"
    disconnect = await closed(api, client)
    assert api.record.events("$authorizer") == []
    for event in [*api.record.events("$connect"), *api.record.events("$default"), disconnect]:
        assert "authorizer" not in event["requestContext"]


# --- AWS_IAM: SigV4-signed upgrades (spec §6.6) -------------------------------------------

KEY, SECRET = "AKIDEXAMPLE", "secret"
IAM = {"authorizationType": "AWS_IAM", "iamCredentials": {KEY: SECRET}}


@dataclass(frozen=True)
class Upgrade:
    """How a client asks to connect: extra headers and the path with its query."""

    headers: dict[str, str]
    path: str


def _request(port: int, path: str) -> AWSRequest:
    # Host as the websockets client sends it: the signature covers it.
    return AWSRequest(
        method="GET", url=f"http://127.0.0.1:{port}{path}", headers={"Host": f"127.0.0.1:{port}"}
    )


def signed(
    port: int,
    *,
    key: str = KEY,
    secret: str = SECRET,
    service: str = "execute-api",
    region: str = "us-east-1",
    path: str = f"/{STAGE}",
    sent_path: str | None = None,
    token: str | None = None,
) -> Upgrade:
    """An upgrade signed in headers (Authorization, X-Amz-Date...) by botocore."""
    request = _request(port, path)
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    names = ["Authorization", "X-Amz-Date"] + (["X-Amz-Security-Token"] if token else [])
    headers = {name: request.headers[name] for name in names}
    return Upgrade(headers, sent_path or path)


def presigned(
    port: int, *, key: str = KEY, secret: str = SECRET, path: str = f"/{STAGE}"
) -> Upgrade:
    """A presigned URL, as browsers (which cannot set headers) connect."""
    request = _request(port, path)
    SigV4QueryAuth(Credentials(key, secret), "execute-api", "us-east-1", expires=60).add_auth(
        request
    )
    split = urlsplit(request.url)
    assert "X-Amz-Signature=" in split.query
    return Upgrade({}, f"{split.path}?{split.query}")


def assert_iam_identity(identity: dict[str, Any], access_key: str, user_agent: str) -> None:
    # Spec §2.1: IAM-authorized events carry the caller's fields [INFER].
    caller = identity["caller"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", caller), caller  # an IAM user's unique id
    assert identity == {
        "accountId": ACCOUNT,
        "caller": caller,
        "user": caller,
        "userArn": f"arn:aws:iam::{ACCOUNT}:user/{access_key}",
        "accessKey": access_key,
        "principalOrgId": None,
        "userAgent": user_agent,
        "sourceIp": "127.0.0.1",
    }


ACCEPTED: list[Any] = [
    pytest.param(signed, id="signed-headers"),
    pytest.param(presigned, id="presigned-url"),
    pytest.param(
        lambda port: signed(port, path=f"/{STAGE}?room=42&name=a%20b&e="), id="signed-with-query"
    ),
    pytest.param(lambda port: presigned(port, path=f"/{STAGE}?room=a%2Fb"), id="presigned-query"),
    pytest.param(lambda port: signed(port, path=f"/{STAGE}/"), id="signed-trailing-slash"),
    # Session tokens are accepted unchecked: there is no STS (emulator/sigv4.py).
    pytest.param(lambda port: signed(port, token="FwoGZXIvYXdzEXAMPLE"), id="session-token"),
]


@pytest.mark.parametrize("make", ACCEPTED)
async def test_iam_signed_upgrade_is_accepted_with_the_callers_identity(
    start_api: StartApi, make: Callable[[int], Upgrade]
) -> None:
    api = await start_api(ROUTES, stage=STAGE, **IAM)
    upgrade = make(api.emulator.port)
    client = await api.connect(headers=upgrade.headers, path=upgrade.path)
    await client.send_text("hi")
    assert await client.receive_text() == "hi"
    disconnect = await closed(api, client)
    [connect] = api.record.events("$connect")
    [message] = api.record.events("$default")
    user_agent = connect["headers"]["User-Agent"]
    identity = connect["requestContext"]["identity"]
    assert_iam_identity(identity, KEY, user_agent)
    # The same identity on every event of the connection (spec §2.1).
    assert message["requestContext"]["identity"] == identity
    assert disconnect["requestContext"]["identity"] == identity
    assert "authorizer" not in connect["requestContext"]
    assert api.record.events("$authorizer") == []


def _flip_signature(upgrade: Upgrade) -> Upgrade:
    authorization = upgrade.headers["Authorization"]
    last = authorization[-1]
    flipped = authorization[:-1] + ("0" if last != "0" else "1")
    return Upgrade({**upgrade.headers, "Authorization": flipped}, upgrade.path)


def _edit_path(upgrade: Upgrade, old: str, new: str) -> Upgrade:
    assert old in upgrade.path
    return Upgrade(upgrade.headers, upgrade.path.replace(old, new))


REFUSED: list[Any] = [
    pytest.param(lambda port: Upgrade({}, f"/{STAGE}"), id="no-signature"),
    pytest.param(lambda port: _flip_signature(signed(port)), id="tampered-signature"),
    pytest.param(lambda port: signed(port, secret="not-the-secret"), id="wrong-secret"),
    pytest.param(lambda port: signed(port, key="AKIDUNKNOWN"), id="unknown-access-key"),
    pytest.param(lambda port: signed(port, service="lambda"), id="wrong-service"),
    pytest.param(lambda port: signed(port, region="eu-west-1"), id="wrong-region"),
    pytest.param(
        lambda port: signed(port, path=f"/{STAGE}?room=1", sent_path=f"/{STAGE}?room=2"),
        id="tampered-query",
    ),
    pytest.param(
        lambda port: signed(port, path=f"/{STAGE}/", sent_path=f"/{STAGE}"), id="tampered-path"
    ),
    pytest.param(
        lambda port: Upgrade(
            signed(port).headers | {"X-Amz-Date": "20200101T000000Z"}, f"/{STAGE}"
        ),
        id="tampered-date",
    ),
    pytest.param(
        lambda port: presigned(port, secret="not-the-secret"), id="presigned-wrong-secret"
    ),
    pytest.param(
        lambda port: _edit_path(presigned(port), "X-Amz-Expires=60", "X-Amz-Expires=600"),
        id="presigned-tampered-expiry",
    ),
    pytest.param(
        lambda port: Upgrade({}, presigned(port).path + "&room=1"), id="presigned-extra-param"
    ),
    pytest.param(
        lambda port: Upgrade({}, re.sub(r"&?X-Amz-Signature=[0-9a-f]+", "", presigned(port).path)),
        id="presigned-without-signature",
    ),
]


@pytest.mark.parametrize("make", REFUSED)
async def test_iam_refuses_a_bad_signature_with_403(
    start_api: StartApi, make: Callable[[int], Upgrade]
) -> None:
    # Spec §6.6: no valid SigV4 signature → 403, before $connect.
    api = await start_api(ROUTES, stage=STAGE, **IAM)
    upgrade = make(api.emulator.port)
    assert await api.connect_rejected(headers=upgrade.headers, path=upgrade.path) == 403
    await api.stop()
    assert api.record.invocations == []


@pytest.mark.parametrize(
    ("configured", "signer", "status"),
    [
        pytest.param(None, ("AKIDENV", "envsecret"), ALLOWED, id="environment-key"),
        pytest.param(None, (KEY, SECRET), 403, id="other-key-refused"),
        # iamCredentials, when given, replace the environment's key.
        pytest.param({KEY: SECRET}, ("AKIDENV", "envsecret"), 403, id="configured-wins"),
        pytest.param({KEY: SECRET}, (KEY, SECRET), ALLOWED, id="configured-key"),
    ],
)
async def test_iam_credentials_from_the_environment(
    start_api: StartApi,
    monkeypatch: pytest.MonkeyPatch,
    configured: dict[str, str] | None,
    signer: tuple[str, str],
    status: int | None,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    top: dict[str, Any] = {"authorizationType": "AWS_IAM"}
    if configured is not None:
        top["iamCredentials"] = configured
    api = await start_api(ROUTES, stage=STAGE, **top)
    key, secret = signer
    upgrade = signed(api.emulator.port, key=key, secret=secret)
    if status is ALLOWED:
        await api.connect(headers=upgrade.headers, path=upgrade.path)
        [connect] = api.record.events("$connect")
        assert connect["requestContext"]["identity"]["accessKey"] == key
    else:
        assert await api.connect_rejected(headers=upgrade.headers, path=upgrade.path) == status
        assert api.record.invocations == []


async def test_iam_without_any_credentials_refuses_everyone(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    api = await start_api(ROUTES, stage=STAGE, authorizationType="AWS_IAM")
    upgrade = signed(api.emulator.port)
    assert await api.connect_rejected(headers=upgrade.headers, path=upgrade.path) == 403


# --- configuration (pure) ------------------------------------------------------------------

ROUTES_ONLY: dict[str, Any] = {"routes": {"$default": "probe.echo"}}


@pytest.mark.parametrize(
    ("top", "key"),
    [
        pytest.param({"authorizationType": "CUSTOM"}, "authorizationType", id="custom-alone"),
        pytest.param(
            {"authorizationType": "AWS_IAM", "authorizer": AUTHORIZER},
            "authorizationType",
            id="iam-with-authorizer",
        ),
        pytest.param(
            {"authorizationType": "NONE", "authorizer": AUTHORIZER},
            "authorizationType",
            id="none-with-authorizer",
        ),
        pytest.param({"authorizationType": "JWT"}, "authorizationType", id="jwt"),
        pytest.param(
            {"authorizer": {**AUTHORIZER, "identitySource": ["method.request.header.Auth"]}},
            "authorizer.identitySource",
            id="rest-style-identity-source",
        ),
        pytest.param(
            {"authorizer": {**AUTHORIZER, "identitySource": ["route.request.header."]}},
            "authorizer.identitySource",
            id="identity-source-without-a-name",
        ),
        pytest.param(
            {"authorizer": {**AUTHORIZER, "identitySource": ["$request.header.Auth"]}},
            "authorizer.identitySource",
            id="http-api-identity-source",
        ),
        pytest.param(
            {"authorizer": {"identitySource": ["route.request.header.Auth"]}},
            "authorizer",
            id="authorizer-without-handler",
        ),
        pytest.param(
            {"authorizer": {**AUTHORIZER, "resultTtlInSeconds": 300}},
            "authorizer.resultTtlInSeconds",
            id="authorizer-unknown-key",
        ),
        pytest.param(
            {"authorizer": {**AUTHORIZER, "timeout": 30}},
            "authorizer.timeout",
            id="authorizer-timeout-over-29s",
        ),
        pytest.param({"iamCredentials": ["AKID"]}, "iamCredentials", id="credentials-a-list"),
        pytest.param({"iamCredentials": {KEY: ""}}, "iamCredentials", id="empty-secret"),
    ],
)
def test_authorization_config_errors_name_the_key(top: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({**ROUTES_ONLY, **top})
    assert raised.value.key == key
    assert f": {key}: " in f": {raised.value}"


@pytest.mark.parametrize(
    ("top", "authorization_type"),
    [
        pytest.param({}, "NONE", id="default"),
        # AWS: an authorizer on $connect means AuthorizationType CUSTOM.
        pytest.param({"authorizer": AUTHORIZER}, "CUSTOM", id="authorizer-implies-custom"),
        pytest.param(
            {"authorizationType": "CUSTOM", "authorizer": AUTHORIZER}, "CUSTOM", id="custom"
        ),
        pytest.param({"authorizationType": "AWS_IAM"}, "AWS_IAM", id="iam"),
        pytest.param({"authorizationType": "NONE"}, "NONE", id="none"),
    ],
)
def test_authorization_type(top: dict[str, Any], authorization_type: str) -> None:
    assert parse_config({**ROUTES_ONLY, **top}).authorization_type == authorization_type
