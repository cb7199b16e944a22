"""Tiny real handlers for the emulator's own tests (routes name them as ``probe.NAME``)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

import boto3

# Set by tests that need to release a blocked handler.
release = threading.Event()


def ok(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


def nothing(event: dict[str, Any], context: Any) -> None:
    return None


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event.get("body", "")}


async def async_echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"statusCode": 200, "body": event.get("body", "")}


def route_key(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["requestContext"]["routeKey"]}


def event_json(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event)}


def status_from_query(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    result: dict[str, Any] = {"statusCode": int(query.get("status", "200"))}
    if "protocol" in query:
        result["headers"] = {"Sec-WebSocket-Protocol": query["protocol"]}
    return result


def subprotocol(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The Developer Guide's subprotocol example, in Python.
    offered = event["headers"].get("Sec-WebSocket-Protocol", "")
    if "myprotocol" in [p.strip() for p in offered.split(",")]:
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "myprotocol"}}
    return {"statusCode": 400}


def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("boom")


async def async_boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("async boom")


def exits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sys.exit(3)


async def async_exits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise KeyboardInterrupt


def malformed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # middy#1219: extra keys make API Gateway answer "Internal server error".
    return {"statusCode": 200, "ConnectionId": "x", "Data": "y"}


def not_a_dict(event: dict[str, Any], context: Any) -> str:
    return "hello"


def blocks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    release.wait(30)
    return {"statusCode": 200, "body": "released"}


async def async_blocks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    await asyncio.sleep(30)
    return {"statusCode": 200, "body": "released"}


def post_late(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Outlives its timeout, then posts: the post must still arrive."""
    time.sleep(context.get_remaining_time_in_millis() / 1000 + 0.05)
    context.post_to_connection(event["requestContext"]["connectionId"], "late post")
    return {"statusCode": 200, "body": "too late"}


def env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    names = json.loads(event.get("body") or "{}").get("names", [])
    return {"statusCode": 200, "body": json.dumps({n: os.environ.get(n) for n in names})}


def set_env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    os.environ["SET_BY_HANDLER"] = "yes"
    return {"statusCode": 200, "body": os.environ["SET_BY_HANDLER"]}


def context_info(event: dict[str, Any], context: Any) -> dict[str, Any]:
    info = {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": event["requestContext"]["requestId"],
    }
    return {"statusCode": 200, "body": json.dumps(info)}


def post_via_context(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    for n in range(3):
        context.post_to_connection(connection_id, f"post {n}")
    return {"statusCode": 200, "body": "response"}


def _client(event: dict[str, Any]) -> Any:
    rc = event["requestContext"]
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{rc['domainName']}/{rc['stage']}"
    )


def post_via_boto3(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    client = _client(event)
    for n in range(3):
        client.post_to_connection(ConnectionId=connection_id, Data=f"post {n}".encode())
    return {"statusCode": 200, "body": "response"}


def post_during_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS: posting from $connect gets 410 GoneException (spec §3.1)."""
    client = _client(event)
    try:
        client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"x")
    except client.exceptions.GoneException:
        return {"statusCode": 200}
    return {"statusCode": 500}


def delete_self(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _client(event).delete_connection(ConnectionId=event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def sized(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A body of as many characters as the message says ("é" last: two bytes)."""
    size = int(event["body"])
    return {"statusCode": 200, "body": "y" * (size - 2) + "é"}


def logs_in_own_loop(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A sync handler that runs an event loop of its own and logs inside it."""

    async def work() -> None:
        import logging

        logging.getLogger().warning("from a loop of its own")

    asyncio.run(work())
    return {"statusCode": 200, "body": "done"}
