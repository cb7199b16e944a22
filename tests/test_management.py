"""The @connections request -> operation and outcome -> response mapping (spec §4).

Pure: no event loop, no sockets. Where the wire format matters to boto3
(spec §4.2), the responses are fed to botocore's own rest-json parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import HTTPHeaders

from emulator.errors import (
    BadRequestError,
    ForbiddenError,
    GoneError,
    LimitExceededError,
    ManagementApiError,
    PayloadTooLargeError,
)
from emulator.gateway.management import (
    MAX_POST_BYTES,
    ManagementRequest,
    Operation,
    error_response,
    get_connection_response,
    parse_management_request,
    success_response,
)
from emulator.wire.messages import HttpResponse

STAGE = "dev"
ID = "BFaT_fALIAMCKug="  # the shape of every observed connectionId (spec §2.7)
ID_QUOTED = "BFaT_fALIAMCKug%3D"  # as botocore sends it (spec §4.2)


def parsed(method: str, path: str, stage: str = STAGE) -> ManagementRequest:
    return parse_management_request(method, path, stage)


# -- parse_management_request: the paths and methods that name an operation ------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: Operation
    connection_id: str = ID


ROUTES = [
    Route("POST", f"/dev/@connections/{ID}", Operation.POST_TO_CONNECTION),
    Route("GET", f"/dev/@connections/{ID}", Operation.GET_CONNECTION),
    Route("DELETE", f"/dev/@connections/{ID}", Operation.DELETE_CONNECTION),
    # botocore percent-encodes the trailing "=" (spec §4.2).
    Route("POST", f"/dev/@connections/{ID_QUOTED}", Operation.POST_TO_CONNECTION),
    # The Developer Guide shows "%40connections"; accept both (spec §4.1).
    Route("POST", f"/dev/%40connections/{ID_QUOTED}", Operation.POST_TO_CONNECTION),
    Route("GET", "/dev/%40connections/BFaT_fALIAMCKug%3d", Operation.GET_CONNECTION),
    # The stage prefix is optional (moto's rule; endpoint_url without the stage).
    Route("POST", f"/@connections/{ID}", Operation.POST_TO_CONNECTION),
    Route("DELETE", f"/%40connections/{ID_QUOTED}", Operation.DELETE_CONNECTION),
    # A query string is not part of the route.
    Route("GET", f"/dev/@connections/{ID}?x=1", Operation.GET_CONNECTION),
    Route(
        "POST",
        "/dev/@connections/abc-DEF_0123456=",
        Operation.POST_TO_CONNECTION,
        "abc-DEF_0123456=",
    ),
]


@pytest.mark.parametrize(
    "route",
    ROUTES,
    ids=[
        "post",
        "get",
        "delete",
        "id-percent-encoded",
        "at-percent-encoded",
        "lowercase-hex-escape",
        "post-without-stage",
        "delete-without-stage-all-encoded",
        "query-string-ignored",
        "id-with-dash-and-underscore",
    ],
)
def test_paths_name_an_operation_and_a_decoded_id(route: Route) -> None:
    assert parsed(route.method, route.path) == ManagementRequest(
        route.operation, route.connection_id
    )


def test_a_stage_with_a_different_name_is_recognised() -> None:
    assert parsed("POST", f"/production/@connections/{ID}", stage="production") == (
        ManagementRequest(Operation.POST_TO_CONNECTION, ID)
    )


# -- parse_management_request: refusals -------------------------------------------------

FORBIDDEN = [
    # AWS: wrong stage -> 403 "No method found matching route ..." (spec §4.1).
    ("POST", f"/prod/@connections/{ID}"),
    ("POST", f"/dev/extra/@connections/{ID}"),
    ("POST", f"/dev/@connections/{ID}/"),
    ("POST", "/dev/@connections"),
    ("POST", f"/dev/connections/{ID}"),
    ("POST", f"/dev/@connection/{ID}"),
    # Only POST, GET and DELETE are operations.
    ("PUT", f"/dev/@connections/{ID}"),
    ("PATCH", f"/dev/@connections/{ID}"),
    ("HEAD", f"/dev/@connections/{ID}"),
]


@pytest.mark.parametrize(
    ("method", "path"),
    FORBIDDEN,
    ids=[
        "wrong-stage",
        "extra-segment",
        "trailing-slash",
        "no-id",
        "no-at",
        "singular",
        "put",
        "patch",
        "head",
    ],
)
def test_paths_and_methods_naming_no_operation_are_forbidden(method: str, path: str) -> None:
    with pytest.raises(ForbiddenError) as raised:
        parsed(method, path)
    assert raised.value.status == 403
    assert raised.value.aws_type == "ForbiddenException"


def test_forbidden_message_names_the_route_and_method_like_aws() -> None:
    # AWS: "No method found matching route test0/@connections/... for http method POST."
    # (aws-samples/simple-websockets-chat-app#40, spec §4.1).
    with pytest.raises(ForbiddenError) as raised:
        parsed("POST", f"/test0/@connections/{ID}")
    assert raised.value.message == (
        f"No method found matching route test0/@connections/{ID} for http method POST."
    )


MALFORMED_IDS = [
    "short=",
    "BFaT_fALIAMCKugX",  # 16 characters, no "="
    "BFaT_fALIAMCKug==",  # 17 characters
    "BFaT+fALIAMCKug=",  # standard, not URL-safe, base64
    "BFaT/fALIAMCKug=".replace("/", "%2F"),  # an encoded slash is not a segment break
    "BFaT fALIAMCKug=",
    "=BFaT_fALIAMCKug",
]


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize(
    "connection_id",
    MALFORMED_IDS,
    ids=["too-short", "no-padding", "too-long", "plus", "slash", "space", "padding-first"],
)
def test_malformed_ids_are_bad_requests(method: str, connection_id: str) -> None:
    # AWS: a malformed id gets 400 BadRequestException, not 410 (spec §4.1).
    with pytest.raises(BadRequestError) as raised:
        parsed(method, f"/dev/@connections/{connection_id}")
    assert (raised.value.status, raised.value.aws_type) == (400, "BadRequestException")


def test_the_id_pattern_is_the_one_the_spec_suggests() -> None:
    # Spec §4.1: ^[A-Za-z0-9_-]{15}=$ ; every character of the alphabet passes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for start in range(0, len(alphabet), 15):
        chunk = (alphabet[start : start + 15] + "A" * 15)[:15]
        assert parsed("GET", f"/dev/@connections/{chunk}=").connection_id == f"{chunk}="


# -- Responses ---------------------------------------------------------------------------


def _headers(response: HttpResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers}


_SERVICE = botocore.session.get_session().get_service_model("apigatewaymanagementapi")


def boto3_parses(response: HttpResponse, operation: Operation) -> dict[str, Any]:
    """What boto3 makes of ``response`` for ``operation`` (botocore's own parser)."""
    headers = HTTPHeaders()
    for name, value in response.headers:
        headers[name] = value
    shape = _SERVICE.operation_model(operation.value).output_shape
    return botocore.parsers.create_parser("rest-json").parse(
        {"status_code": response.status, "headers": headers, "body": response.body}, shape
    )


ERRORS: list[tuple[ManagementApiError, int, str, str | None]] = [
    (GoneError(), 410, "GoneException", None),
    (PayloadTooLargeError("Message too long"), 413, "PayloadTooLargeException", "Message too long"),
    (ForbiddenError("Forbidden"), 403, "ForbiddenException", "Forbidden"),
    (LimitExceededError(), 429, "LimitExceededException", None),
    (
        BadRequestError("Invalid connectionId: x"),
        400,
        "BadRequestException",
        "Invalid connectionId: x",
    ),
]


@pytest.mark.parametrize(
    ("error", "status", "aws_type", "message"),
    ERRORS,
    ids=["gone", "too-large", "forbidden", "limit", "bad-request"],
)
def test_error_responses_carry_status_type_and_message(
    error: ManagementApiError, status: int, aws_type: str, message: str | None
) -> None:
    response = error_response(error, "req-1")
    # Spec §4.2: x-amzn-ErrorType carries the code; JSON body {"message": ...}.
    assert response.status == status
    assert _headers(response) == {
        "content-type": "application/json",
        "x-amzn-requestid": "req-1",
        "x-amzn-errortype": aws_type,
    }
    assert json.loads(response.body) == {"message": message}


def test_gone_body_is_byte_for_byte_the_recommended_one() -> None:
    # Spec §4.2's recommended 410 response body.
    assert error_response(GoneError(), "r").body == b'{"message":null}'


@pytest.mark.parametrize(
    ("error", "status", "aws_type", "message"),
    ERRORS,
    ids=["gone", "too-large", "forbidden", "limit", "bad-request"],
)
@pytest.mark.parametrize("operation", list(Operation), ids=lambda o: o.value)
def test_boto3_reads_the_error_code_status_and_message(
    operation: Operation,
    error: ManagementApiError,
    status: int,
    aws_type: str,
    message: str | None,
) -> None:
    # Spec §4.2: without the code boto3 would report Code "410" and
    # client.exceptions.GoneException would not match.
    result = boto3_parses(error_response(error, "req-2"), operation)
    assert result["Error"] == {"Code": aws_type, "Message": message}
    assert result["ResponseMetadata"]["HTTPStatusCode"] == status
    assert result["ResponseMetadata"]["RequestId"] == "req-2"


@pytest.mark.parametrize(
    ("operation", "status"),
    [(Operation.POST_TO_CONNECTION, 200), (Operation.DELETE_CONNECTION, 204)],
    ids=["post-200", "delete-204"],
)
def test_success_is_an_empty_body_with_the_model_status(operation: Operation, status: int) -> None:
    # botocore model: PostToConnection 200, DeleteConnection 204, both without a body.
    response = success_response(operation, "req-3")
    assert (response.status, response.body) == (status, b"")
    assert _headers(response) == {"x-amzn-requestid": "req-3"}
    assert boto3_parses(response, operation)["ResponseMetadata"]["HTTPStatusCode"] == status


# 2022-01-25T18:50:04.673Z, the Developer Guide's GetConnection example (spec §4.1).
CONNECTED_MS = 1643136604673
ACTIVE_MS = 1643136607642


@pytest.mark.parametrize(
    ("user_agent", "identity"),
    [
        ("Mozilla/5.0", {"sourceIp": "192.0.2.1", "userAgent": "Mozilla/5.0"}),
        (None, {"sourceIp": "192.0.2.1", "userAgent": None}),
    ],
    ids=["user-agent", "no-user-agent"],
)
def test_get_connection_body_is_aws_shaped(
    user_agent: str | None, identity: dict[str, Any]
) -> None:
    response = get_connection_response(
        connected_at_ms=CONNECTED_MS,
        last_active_ms=ACTIVE_MS,
        source_ip="192.0.2.1",
        user_agent=user_agent,
        request_id="req-4",
    )
    assert response.status == 200
    assert _headers(response) == {"content-type": "application/json", "x-amzn-requestid": "req-4"}
    # Spec §4.1: ISO 8601 UTC with milliseconds and "Z"; userAgent null when unknown.
    assert json.loads(response.body) == {
        "connectedAt": "2022-01-25T18:50:04.673Z",
        "identity": identity,
        "lastActiveAt": "2022-01-25T18:50:07.642Z",
    }


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (CONNECTED_MS, "2022-01-25T18:50:04.673Z"),
        (1709251199999, "2024-02-29T23:59:59.999Z"),
    ],
    ids=["epoch", "one-ms", "aws-example", "leap-day-last-ms"],
)
def test_get_connection_times_keep_milliseconds(epoch_ms: int, text: str) -> None:
    body = json.loads(
        get_connection_response(
            connected_at_ms=epoch_ms,
            last_active_ms=epoch_ms,
            source_ip="127.0.0.1",
            user_agent=None,
            request_id="r",
        ).body
    )
    assert body["connectedAt"] == body["lastActiveAt"] == text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)


@pytest.mark.parametrize(
    ("user_agent", "identity"),
    [
        ("Mozilla/5.0", {"SourceIp": "192.0.2.1", "UserAgent": "Mozilla/5.0"}),
        # Spec §4.2: a null userAgent is dropped from the parsed Identity.
        (None, {"SourceIp": "192.0.2.1"}),
    ],
    ids=["user-agent", "no-user-agent"],
)
def test_boto3_parses_get_connection_into_datetimes(
    user_agent: str | None, identity: dict[str, str]
) -> None:
    response = get_connection_response(
        connected_at_ms=CONNECTED_MS,
        last_active_ms=ACTIVE_MS,
        source_ip="192.0.2.1",
        user_agent=user_agent,
        request_id="req-5",
    )
    result = boto3_parses(response, Operation.GET_CONNECTION)
    assert result["ConnectedAt"] == datetime(2022, 1, 25, 18, 50, 4, 673000, tzinfo=UTC)
    assert result["LastActiveAt"] == datetime(2022, 1, 25, 18, 50, 7, 642000, tzinfo=UTC)
    assert result["Identity"] == identity


def test_post_limit_is_the_botocore_models() -> None:
    # botocore model: Data is a blob of at most 131072 bytes (spec §4.1).
    data = _SERVICE.operation_model("PostToConnection").input_shape.members["Data"]
    assert MAX_POST_BYTES == data.metadata["max"] == 131072


def test_operations_carry_the_aws_operation_names() -> None:
    assert {o.value for o in Operation} == set(_SERVICE.operation_names)
