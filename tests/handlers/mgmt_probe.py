"""Handlers that call the @connections API from inside an invocation.

Routes name them as ``mgmt_probe.NAME``. They build their boto3 clients the way
code written for AWS does (spec §4.3), so the emulator must intercept them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from emulator.errors import ManagementApiError


def _callback_client(event: dict[str, Any]) -> Any:
    # The Developer Guide's pattern: https://{domainName}/{stage}.
    rc = event["requestContext"]
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{rc['domainName']}/{rc['stage']}"
    )


def _api_id_client(event: dict[str, Any]) -> Any:
    # simple-websockets-chat-app's variant "to account for custom domains".
    rc = event["requestContext"]
    region = os.environ["AWS_REGION"]
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{rc['apiId']}.execute-api.{region}.amazonaws.com/{rc['stage']}",
    )


def post_via_api_id(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Two posts to itself through the apiId + AWS_REGION URL, then a route response."""
    client = _api_id_client(event)
    connection_id = event["requestContext"]["connectionId"]
    for n in range(2):
        client.post_to_connection(ConnectionId=connection_id, Data=f"api-id post {n}".encode())
    return {"statusCode": 200, "body": "response"}


def post_to_other(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Body ``{"to": id, "data": text}``: post ``data`` to another connection."""
    request = json.loads(event["body"])
    client = _callback_client(event)
    try:
        client.post_to_connection(ConnectionId=request["to"], Data=request["data"].encode())
    except client.exceptions.GoneException:
        return {"statusCode": 200, "body": "gone"}
    return {"statusCode": 200, "body": "sent"}


def ops_during_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Accept only if every management call on its own id, boto3 and context, got 410.

    AWS: the connection does not exist for @connections until $connect returned
    2xx (spec §3.1); Get and Delete are INFER in the spec, which recommends 410.
    """
    connection_id = event["requestContext"]["connectionId"]
    client = _callback_client(event)
    calls = [
        lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"x"),
        lambda: client.get_connection(ConnectionId=connection_id),
        lambda: client.delete_connection(ConnectionId=connection_id),
        lambda: context.post_to_connection(connection_id, b"x"),
        lambda: context.get_connection(connection_id),
        lambda: context.delete_connection(connection_id),
    ]
    outcomes = [_outcome(call) for call in calls]
    gone = ["GoneException"] * 3 + ["GoneError 410 GoneException"] * 3
    return {"statusCode": 200 if outcomes == gone else 500, "body": json.dumps(outcomes)}


def _outcome(call: Any) -> str:
    try:
        call()
    except ManagementApiError as exc:
        return f"{type(exc).__name__} {exc.status} {exc.aws_type}"
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def context_post(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Body ``{"to": id or null for itself, "size": n}``: post n bytes through the
    context callback; the body of the route response says what came of it."""
    request = json.loads(event["body"])
    target = request["to"] or event["requestContext"]["connectionId"]
    outcome = _outcome(lambda: context.post_to_connection(target, b"x" * request["size"]))
    return {"statusCode": 200, "body": outcome}


def context_get(event: dict[str, Any], context: Any) -> dict[str, Any]:
    info = context.get_connection(event["requestContext"]["connectionId"])
    return {"statusCode": 200, "body": json.dumps(info, default=lambda d: d.isoformat())}


def context_delete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delete its own connection, then report what a post to it gets."""
    connection_id = event["requestContext"]["connectionId"]
    context.delete_connection(connection_id)
    after = _outcome(lambda: context.post_to_connection(connection_id, b"after delete"))
    return {"statusCode": 200, "body": after}


def post_during_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS: PostToConnection to the closing id gets 410 (spec §3.3, INFER)."""
    connection_id = event["requestContext"]["connectionId"]
    client = _callback_client(event)
    outcome = _outcome(lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"x"))
    return {"statusCode": 200, "body": outcome}
