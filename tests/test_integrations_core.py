"""The integrations' pure core, table-driven and without an event loop (spec §A.2-§A.6).

Parameter mapping, template selection expressions, template and integration
response selection, MOCK status, the request/response pipeline, AWS service
URIs, and the routes.yaml ``integration:`` form.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from emulator.errors import ConfigError
from emulator.gateway.events import ConnectionInfo, connect_event, disconnect_event, message_event
from emulator.gateway.integrations.aws import (
    endpoint_for,
    json_from_xml,
    parse_service_uri,
    service_request,
)
from emulator.gateway.integrations.backend import (
    BackendRequest,
    BackendResponse,
    Failure,
    finish,
    prepare,
    request_data,
)
from emulator.gateway.integrations.mapping import RouteRequestData, map_parameters
from emulator.gateway.integrations.mock import mock_status
from emulator.gateway.integrations.select import (
    passes_through,
    select_integration_response,
    select_request_template,
    select_response_template,
)
from emulator.model.config import parse_config, with_limits
from emulator.model.integration import (
    ContentHandling,
    IntegrationConfig,
    IntegrationResponseConfig,
    IntegrationType,
    PassthroughBehavior,
)
from emulator.model.mapping import mapping_problem
from emulator.model.template_selection import SelectionInput, compile_template_selection

INFO = ConnectionInfo(
    "cid=", 1000, "1.2.3.4", "ua", "abc.execute-api.us-east-1.amazonaws.com", "abc", "dev",
    authorizer={"principalId": "me", "n": 1, "ok": True},
)  # fmt: skip


def message(body: str) -> dict[str, Any]:
    return message_event(
        INFO, route_key="$default", body=body, message_id="m", request_id="r", request_time_ms=5
    )


def connect(headers: list[tuple[str, str]], query: list[tuple[str, str]] | None) -> dict[str, Any]:
    return connect_event(INFO, headers=headers, query=query, request_id="r", request_time_ms=5)


DATA = request_data(message('{"a": {"b": [1, 2]}, "s": "x", "t": true}'), {"env": "dev"})
CONNECT_DATA = request_data(
    connect([("Host", "h"), ("X-Token", "t1"), ("Accept", "a"), ("Accept", "b")], [("q", "1")]),
    {},
)

# -- mapping (§A.2) --------------------------------------------------------------------------------

MAPPINGS = [
    ("static", "'a value'", DATA, "a value"),
    ("context", "context.connectionId", DATA, "cid="),
    ("context-dotted", "context.authorizer.principalId", DATA, "me"),
    ("authorizer-stringified", "context.authorizer.ok", DATA, "true"),
    ("stage-variable", "stageVariables.env", DATA, "dev"),
    ("body-path", "route.request.body.s", DATA, "x"),
    ("body-index", "route.request.body.a.b[1]", DATA, "2"),
    ("body-bool", "route.request.body.t", DATA, "true"),
    ("body-missing", "route.request.body.nope", DATA, None),
    ("header-any-case", "route.request.header.x-token", CONNECT_DATA, "t1"),
    ("header-last", "route.request.header.Accept", CONNECT_DATA, "b"),
    ("multi-header", "route.request.multivalueheader.Accept", CONNECT_DATA, "a,b"),
    ("query", "route.request.querystring.q", CONNECT_DATA, "1"),
    ("query-missing", "route.request.querystring.nope", CONNECT_DATA, None),
    ("header-on-message", "route.request.header.X-Token", DATA, None),
]


@pytest.mark.parametrize(
    ("source", "data", "value"), [m[1:] for m in MAPPINGS], ids=[m[0] for m in MAPPINGS]
)
def test_mapping_sources(source: str, data: RouteRequestData, value: str | None) -> None:
    mapped = map_parameters({"integration.request.header.x": source}, data)

    assert mapped.headers == ((("x", value),) if value is not None else ())


def test_mapping_destinations() -> None:
    mapped = map_parameters(
        {
            "integration.request.querystring.q": "'1'",
            "integration.request.path.id": "context.connectionId",
            "integration.request.header.h": "'2'",
        },
        DATA,
    )

    assert (mapped.querystring, dict(mapped.path), mapped.headers) == (
        (("q", "1"),),
        {"id": "cid="},
        (("h", "2"),),
    )


@pytest.mark.parametrize(
    ("destination", "source", "words"),
    [
        ("integration.request.header.x", "context.connectionId", None),
        ("integration.request.body.x", "'a'", "must be integration.request.header.NAME"),
        ("integration.request.header.a b", "'a'", "the name must match"),
        ("integration.request.header.x", "request.header.x", "must be route.request.header"),
        ("integration.request.header.x", "route.request.path.x", "must be route.request.header"),
        ("integration.request.header.x", "route.request.body.a[", "invalid JSONPath"),
        ("integration.request.header.x", "context", "must be route.request.header"),
    ],
    ids=["valid", "bad-kind", "bad-name", "no-route-prefix", "path-source", "bad-path", "bare"],
)
def test_mapping_problems(destination: str, source: str, words: str | None) -> None:
    problem = mapping_problem(destination, source)

    assert (problem is None) if words is None else (words in (problem or ""))


# -- selection expressions and templates (§A.4) ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "given", "value"),
    [
        ("\\$default", SelectionInput(), "$default"),
        ("request.body.action", SelectionInput(document={"action": "a"}), "request.body.action"),
        ("$request.body.action", SelectionInput(document={"action": "a"}), "a"),
        ("${request.body.a.b}-x", SelectionInput(document={"a": {"b": 1}}), "1-x"),
        ("$request.body.action", SelectionInput(), ""),
        ("$integration.response.statuscode", SelectionInput(status_code=201), "201"),
        ("${integration.response.header.Content-Type}",
         SelectionInput(headers=(("content-type", "application/json"),)), "application/json"),
        ("$integration.response.multivalueheader.x",
         SelectionInput(headers=(("X", "1"), ("x", "2"))), "1,2"),
        ("$integration.response.body.errorMessage", SelectionInput(status_code=200), ""),
    ],
    ids=["escaped-default", "no-dollar-is-static", "body", "braced", "not-json", "status",
         "header", "multi-header", "response-body-never-matches"],
)  # fmt: skip
def test_template_selection_expressions(source: str, given: SelectionInput, value: str) -> None:
    assert compile_template_selection(source).evaluate(given) == value


@pytest.mark.parametrize(
    "source", ["", "${request.body.a", "$context.connectionId"], ids=["empty", "open", "context"]
)
def test_template_selection_errors(source: str) -> None:
    with pytest.raises(ConfigError):
        compile_template_selection(source)


TEMPLATES = {"A": "a", "\\$default": "d", "application/json": "j"}


@pytest.mark.parametrize(
    ("templates", "expression", "document", "chosen"),
    [
        (TEMPLATES, "$request.body.v", {"v": "A"}, ("A", "a")),
        (TEMPLATES, "$request.body.v", {"v": "Z"}, ("$default", "d")),
        (TEMPLATES, None, None, ("application/json", "j")),
        ({"A": "a"}, "$request.body.v", {"v": "Z"}, None),
        ({}, None, None, None),
    ],
    ids=["matched", "falls-back-to-default", "no-expression-content-type", "none", "no-templates"],
)
def test_select_request_template(
    templates: dict[str, str], expression: str | None, document: Any, chosen: Any
) -> None:
    compiled = compile_template_selection(expression) if expression else None

    assert select_request_template(templates, compiled, SelectionInput(document=document)) == chosen


@pytest.mark.parametrize(
    ("behavior", "has_templates", "passes"),
    [
        (PassthroughBehavior.WHEN_NO_MATCH, True, True),
        (PassthroughBehavior.WHEN_NO_MATCH, False, True),
        (PassthroughBehavior.WHEN_NO_TEMPLATES, True, False),
        (PassthroughBehavior.WHEN_NO_TEMPLATES, False, True),
        (PassthroughBehavior.NEVER, True, False),
        (PassthroughBehavior.NEVER, False, False),
    ],
    ids=[
        "match-some",
        "match-none",
        "templates-some",
        "templates-none",
        "never-some",
        "never-none",
    ],
)
def test_passthrough(behavior: PassthroughBehavior, has_templates: bool, passes: bool) -> None:
    assert passes_through(behavior, has_templates) is passes


RESPONSES = (
    IntegrationResponseConfig("/2\\d\\d/"),
    IntegrationResponseConfig("/4\\d\\d/"),
    IntegrationResponseConfig("$default"),
)


@pytest.mark.parametrize(
    ("responses", "value", "key"),
    [(RESPONSES, "200", "/2\\d\\d/"), (RESPONSES, "404", "/4\\d\\d/"),
     (RESPONSES, "500", "$default"), (RESPONSES, "2000", "$default"),
     (RESPONSES[:1], "500", None)],
    ids=["2xx", "4xx", "default", "full-match-only", "no-match"],
)  # fmt: skip
def test_select_integration_response(
    responses: tuple[IntegrationResponseConfig, ...], value: str, key: str | None
) -> None:
    selected = select_integration_response(responses, value)

    assert (selected.key if selected else None) == key


@pytest.mark.parametrize(
    ("templates", "expression", "template"),
    [({"200": "a", "$default": "d"}, "$integration.response.statuscode", "a"),
     ({"500": "a", "$default": "d"}, "$integration.response.statuscode", "d"),
     ({"200": "only"}, None, "only"), ({}, None, None)],
    ids=["by-status", "default", "first-when-no-expression", "pass-through"],
)  # fmt: skip
def test_select_response_template(
    templates: dict[str, str], expression: str | None, template: str | None
) -> None:
    response = IntegrationResponseConfig(
        "$default",
        compile_template_selection(expression) if expression else None,
        MappingProxyType(templates),
    )

    assert select_response_template(response, SelectionInput(status_code=200)) == template


@pytest.mark.parametrize(
    ("rendered", "status"),
    [(None, 200), ("", 200), ('{"statusCode": 404}', 404), ("{statusCode: 201}", 201),
     ("{'statusCode': 202, 'x': 1}", 202), ('{"statusCode": "200"}', None), ("[]", None),
     ("nope", None), ('{"statusCode": true}', None)],
    ids=["none", "empty", "json", "relaxed", "single-quotes", "string", "list", "text", "bool"],
)  # fmt: skip
def test_mock_status(rendered: str | None, status: int | None) -> None:
    assert mock_status(rendered) == status


# -- the pipeline ----------------------------------------------------------------------------------


def integration(kind: IntegrationType, **values: Any) -> IntegrationConfig:
    uri = None if kind is IntegrationType.MOCK else values.pop("uri", "http://b/x")
    return IntegrationConfig(kind, uri, values.pop("method", "POST"), 29.0, **values)


def prepared(config: IntegrationConfig, event: dict[str, Any], raw_query: str | None = None) -> Any:
    return prepare(
        config, request_data(event, {}), api_id="abc", port=3001, trace="T", raw_query=raw_query
    )


def test_http_proxy_message_request() -> None:
    request = prepared(integration(IntegrationType.HTTP_PROXY), message("hi")).request

    assert request == BackendRequest(
        "POST",
        "http://b/x",
        (
            ("User-Agent", "AmazonAPIGateway_abc"),
            ("X-Amzn-Apigateway-Api-Id", "abc"),
            ("X-Amzn-Trace-Id", "T"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Port", "3001"),
            ("X-Forwarded-Proto", "http"),
            ("Content-Type", "application/json"),
        ),
        b"hi",
    )


def test_over_tls_the_backend_is_told_https() -> None:
    config = integration(IntegrationType.HTTP_PROXY)
    data = request_data(message("hi"), {})
    request = prepare(config, data, api_id="abc", port=3443, proto="https", trace="T").request
    forwarded = [(n, v) for n, v in request.headers if n.startswith("X-Forwarded-P")]
    assert forwarded == [("X-Forwarded-Port", "3443"), ("X-Forwarded-Proto", "https")]


def test_http_proxy_connect_request() -> None:
    event = connect([("Host", "h"), ("Origin", "o"), ("Upgrade", "websocket")], [("a", "1")])

    request = prepared(integration(IntegrationType.HTTP_PROXY), event, "a=1").request

    assert (request.url, request.body) == ("http://b/x?a=1", b"")
    assert request.headers == (("Origin", "o"), ("X-Amzn-Apigateway-Api-Id", "abc"))


def test_http_disconnect_has_no_body_and_no_content_type() -> None:
    event = disconnect_event(INFO, status_code=1000, reason="", request_id="r", request_time_ms=5)

    request = prepared(integration(IntegrationType.HTTP_PROXY), event).request

    assert request.body == b""
    assert "Content-Type" not in dict(request.headers)


@pytest.mark.parametrize(
    ("config", "body", "failure"),
    [
        (integration(IntegrationType.HTTP, request_templates={"x": "{}"},
                     passthrough_behavior=PassthroughBehavior.NEVER), "{}",
         Failure.UNSUPPORTED_MEDIA_TYPE),
        (integration(IntegrationType.HTTP,
                     request_templates={"$default": "$util.parseJson('{')"}), "{}",
         Failure.INTERNAL),
        (integration(IntegrationType.MOCK, request_templates={"$default": "oops"}), "{}",
         Failure.INTERNAL),
        (integration(IntegrationType.HTTP, content_handling=ContentHandling.CONVERT_TO_BINARY),
         "not base64!", Failure.INTERNAL),
    ],
    ids=["never-passthrough", "bad-template", "mock-unparseable", "convert-to-binary"],
)  # fmt: skip
def test_request_side_failures(config: IntegrationConfig, body: str, failure: Failure) -> None:
    assert prepared(config, message(body)).failure is failure


def test_mock_reads_the_status() -> None:
    config = integration(
        IntegrationType.MOCK, request_templates={"$default": '{"statusCode": 418}'}
    )

    assert prepared(config, message("{}")).mock_status == 418


def test_http_renders_the_template_with_the_context() -> None:
    config = integration(
        IntegrationType.HTTP,
        request_templates={
            "$default": '{"id": "$context.connectionId", "p": $input.json(\'$.a\')}'
        },
    )

    request = prepared(config, message('{"a": [1]}')).request

    assert json.loads(request.body) == {"id": "cid=", "p": [1]}


def test_finish_http_proxy() -> None:
    config = integration(IntegrationType.HTTP_PROXY)
    response = BackendResponse(500, (("Sec-WebSocket-Protocol", "p"),), b"body")
    connect_data = request_data(connect([], None), {})

    assert finish(config, DATA, response, two_way=True).frame == "body"
    assert finish(config, DATA, response, two_way=False).frame is None
    connected = finish(config, connect_data, response, two_way=False)
    assert (connected.status, connected.subprotocol, connected.accepted) == (500, "p", False)


def test_finish_non_proxy() -> None:
    responses = (
        IntegrationResponseConfig(
            "/2\\d\\d/", None, MappingProxyType({"$default": "$input.path('$.v')!"})
        ),
    )
    config = integration(IntegrationType.HTTP, responses=responses)

    ok = finish(config, DATA, BackendResponse(200, (), b'{"v": 7}'), two_way=True)
    missing = finish(config, DATA, BackendResponse(404, (), b""), two_way=True)
    one_way = finish(config, DATA, BackendResponse(404, (), b""), two_way=False)

    assert ok.frame == "7!"
    assert (missing.failure, missing.status) == (Failure.INTERNAL, 500)
    assert (one_way.failure, one_way.frame) == (None, None)


def test_connect_without_an_integration_response_is_accepted_with_a_reason() -> None:
    data = request_data(connect([], None), {})

    outcome = finish(integration(IntegrationType.HTTP), data, BackendResponse(200), two_way=False)

    assert outcome.accepted
    assert "no integration response" in outcome.reason


# -- AWS service URIs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("arn:aws:apigateway:us-east-1:sqs:path/123/q", ("us-east-1", "sqs", "path", "123/q")),
        ("arn:aws:apigateway:eu-west-1:kinesis:action/PutRecord",
         ("eu-west-1", "kinesis", "action", "PutRecord")),
        ("arn:aws:apigateway:us-east-1:bucket.s3:path/k", ("us-east-1", "s3", "path", "k")),
        ("arn:aws:lambda:us-east-1:1:function:f", None),
    ],
    ids=["sqs-path", "kinesis-action", "subdomain", "not-apigateway"],
)  # fmt: skip
def test_parse_service_uri(uri: str, parsed: tuple[str, ...] | None) -> None:
    target = parse_service_uri(uri)

    got = (target.region, target.service, target.kind, target.value) if target else None
    assert got == parsed


@pytest.mark.parametrize(
    ("service", "configured", "environ", "url"),
    [
        ("sqs", {"sqs": "http://a"}, {"AWS_ENDPOINT_URL_SQS": "http://b"}, "http://a"),
        ("sqs", {}, {"AWS_ENDPOINT_URL_SQS": "http://b", "AWS_ENDPOINT_URL": "http://c"}, "http://b"),
        ("states", {}, {"AWS_ENDPOINT_URL_SFN": "http://s"}, "http://s"),
        ("sqs", {}, {"AWS_ENDPOINT_URL": "http://c"}, "http://c"),
        ("sqs", {}, {}, None),
    ],
    ids=["config-first", "service-variable", "sdk-service-id", "global-variable", "none"],
)  # fmt: skip
def test_endpoint_for(
    service: str, configured: dict[str, str], environ: dict[str, str], url: str | None
) -> None:
    assert endpoint_for(service, configured, environ) == url


def test_service_requests() -> None:
    base = BackendRequest("POST", "", (("Content-Type", "application/json"),), b"{}")
    kinesis = parse_service_uri("arn:aws:apigateway:us-east-1:kinesis:action/PutRecord")
    sns = parse_service_uri("arn:aws:apigateway:us-east-1:sns:action/Publish")
    assert kinesis is not None
    assert sns is not None

    json_call = service_request(kinesis, base, "http://k/")
    query_call = service_request(sns, base, "http://s")

    assert json_call.url == "http://k/"
    assert dict(json_call.headers) == {
        "Accept": "application/json",
        "X-Amz-Target": "Kinesis_20131202.PutRecord",
        "Content-Type": "application/x-amz-json-1.1",
    }
    assert query_call.url == "http://s/?Action=Publish"


def test_json_from_xml() -> None:
    xml = (
        b'<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
        b"<SendMessageResult><MessageId>m</MessageId><A>1</A><A>2</A></SendMessageResult>"
        b"</SendMessageResponse>"
    )

    assert json.loads(json_from_xml(xml) or b"") == {
        "SendMessageResponse": {"SendMessageResult": {"MessageId": "m", "A": ["1", "2"]}}
    }
    assert json_from_xml(b"{}") is None


# -- routes.yaml -----------------------------------------------------------------------------------


def route(**integration_values: Any) -> dict[str, Any]:
    return {"routes": {"orders": {"integration": integration_values}}}


def test_the_issue_example_parses() -> None:
    config = parse_config(
        {
            "routes": {
                "orders": {
                    "integration": {
                        "type": "HTTP_PROXY",
                        "uri": "http://127.0.0.1:8080/orders",
                        "method": "POST",
                        "requestParameters": {
                            "integration.request.header.connectionId": "context.connectionId"
                        },
                        "requestTemplates": {},
                        "templateSelectionExpression": "\\$default",
                        "passthroughBehavior": "WHEN_NO_MATCH",
                        "timeout": 29,
                        "responses": [],
                    },
                    "routeResponse": True,
                }
            }
        }
    )

    (orders,) = config.routes.values()
    assert config.functions == {}
    assert config.route_keys == ("orders",)
    assert (orders.integration.type, orders.integration.timeout) == (IntegrationType.HTTP_PROXY, 29)
    assert orders.route_response


INVALID = [
    ("no-type", route(uri="http://x"), "routes.orders.integration.type", "must be one of"),
    ("aws-proxy", route(type="AWS_PROXY", uri="arn:x"), "routes.orders.integration.type",
     "a Lambda proxy integration is a route's 'handler'"),
    ("typo", route(type="HTTP_PROXI", uri="http://x"), "routes.orders.integration.type",
     "did you mean"),
    ("no-uri", route(type="HTTP"), "routes.orders.integration.uri", "is required for HTTP"),
    ("mock-uri", route(type="MOCK", uri="http://x"), "routes.orders.integration.uri",
     "calls no backend"),
    ("http-not-url", route(type="HTTP", uri="ftp://x"), "routes.orders.integration.uri",
     "http:// or https://"),
    ("aws-not-arn", route(type="AWS", uri="http://x"), "routes.orders.integration.uri",
     "AWS service URI"),
    ("method", route(type="HTTP", uri="http://x", method="FETCH"),
     "routes.orders.integration.method", "must be one of"),
    ("mapping", route(type="HTTP", uri="http://x", requestParameters={"x": "'a'"}),
     "routes.orders.integration.requestParameters.x", "destination 'x'"),
    ("template-number", route(type="MOCK", requestTemplates={"a": 1}),
     "routes.orders.integration.requestTemplates.a", "must be a string"),
    ("tse", route(type="MOCK", templateSelectionExpression="${x"),
     "routes.orders.integration.templateSelectionExpression", "unterminated"),
    ("passthrough", route(type="MOCK", passthroughBehavior="ALWAYS"),
     "routes.orders.integration.passthroughBehavior", "WHEN_NO_MATCH"),
    ("timeout", route(type="MOCK", timeout=30), "routes.orders.integration.timeout", "0.05 to 29"),
    ("responses", route(type="MOCK", responses={}), "routes.orders.integration.responses",
     "must be a list"),
    ("response-key", route(type="MOCK", responses=[{"key": "200"}]),
     "routes.orders.integration.responses[0].key", "between slashes"),
    ("response-regex", route(type="MOCK", responses=[{"key": "/(/"}]),
     "routes.orders.integration.responses[0].key", "invalid regular expression"),
    ("unknown-key", route(type="MOCK", url="x"), "routes.orders.integration.url",
     "did you mean 'uri'?"),
    ("both", {"routes": {"orders": {"handler": "a.b", "integration": {"type": "MOCK"}}}},
     "routes.orders.integration", "a 'handler' or an 'integration', not both"),
    ("route-key", {"routes": {"orders": {"integration": {"type": "MOCK"}, "timeout": 3}}},
     "routes.orders.timeout", "unknown key"),
    ("aws-endpoint", {"routes": {"$default": "a.b"}, "awsEndpoints": {"sqs": "localhost"}},
     "awsEndpoints.sqs", "http://"),
    ("stage-variable", {"routes": {"$default": "a.b"}, "stageVariables": {"a-b": "x"}},
     "stageVariables", "A-Z a-z 0-9 _"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "key", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_integrations(document: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)

    assert caught.value.key == key
    assert words in caught.value.problem


def test_integration_timeouts_follow_the_limit_unless_their_own() -> None:
    config = parse_config(
        {
            "routes": {
                "a": {"integration": {"type": "MOCK"}},
                "b": {"integration": {"type": "MOCK", "timeout": 2}},
            }
        }
    )

    changed = with_limits(config, {"integrationTimeout": 5})

    assert [r.integration.timeout for r in changed.routes.values()] == [5, 2]


def test_core_modules_are_pure() -> None:
    """No asyncio, sockets or HTTP client in the pure core (STYLE: pure core, thin adapters)."""
    package = Path(__file__).parent.parent / "emulator"
    pure = [
        "model/integration",
        "model/template_selection",
        "gateway/integrations/mapping",
        "gateway/integrations/select",
        "gateway/integrations/mock",
        "gateway/integrations/backend",
        "gateway/integrations/outcome",
        "gateway/integrations/vtl",
    ]
    for name in pure:
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        top = {module.partition(".")[0] for module in imported}
        assert not top & {"asyncio", "socket", "httpx", "websockets", "botocore"}, name
        assert "emulator.gateway.integrations.runner" not in imported, name
