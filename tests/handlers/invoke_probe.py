"""Functions that invoke each other with boto3, written the way AWS samples write them.

The client is created at import, as AWS recommends; the route handlers take
the ``invoke`` keyword arguments from the frame and answer with what boto3
returned, so that a test sees exactly what a handler on AWS would see.
"""

from __future__ import annotations

import base64
import decimal
import json
import logging
import os
import time
from typing import Any

import boto3

lambda_client = boto3.client("lambda")

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def _answer(kwargs: dict[str, Any]) -> dict[str, Any]:
    size = kwargs.pop("PayloadSize", None)
    if size is not None:  # a JSON string of that many bytes, quotes included
        kwargs["Payload"] = b'"' + b"x" * (size - 2) + b'"'
    if isinstance(kwargs.get("Payload"), dict | list):
        kwargs["Payload"] = json.dumps(kwargs["Payload"])
    try:
        response = lambda_client.invoke(**kwargs)
    except lambda_client.exceptions.ResourceNotFoundException as exc:
        return {"error": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]}
    except lambda_client.exceptions.ClientError as exc:
        return {"error": exc.response["Error"]["Code"], "message": str(exc)}
    payload = response["Payload"].read()
    answer: dict[str, Any] = {
        "status": response["StatusCode"],
        "functionError": response.get("FunctionError"),
        "executedVersion": response.get("ExecutedVersion"),
        "payload": payload.decode(),
    }
    if "LogResult" in response:
        answer["log"] = base64.b64decode(response["LogResult"]).decode()
    return answer


def caller(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A route: ``{"invoke": {...}}`` is passed to ``lambda_client.invoke``."""
    answer = _answer(json.loads(event["body"])["invoke"])
    return {"statusCode": 200, "body": json.dumps(answer)}


async def async_caller(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The same from an ``async def`` handler, which blocks its loop while boto3 waits."""
    answer = _answer(json.loads(event["body"])["invoke"])
    return {"statusCode": 200, "body": json.dumps(answer)}


# Functions reached only through the Lambda API


def double(event: dict[str, Any], context: Any) -> dict[str, Any]:
    custom = context.client_context.custom if context.client_context else None
    return {
        "doubled": event["n"] * 2,
        "function": context.function_name,
        "arn": context.invoked_function_arn,
        "role": os.environ.get("PROBE_ROLE"),
        "custom": custom,
    }


def price(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"price": decimal.Decimal("1.10")}


def not_serializable(event: dict[str, Any], context: Any) -> Any:
    return {1, 2}


def sleeps(event: dict[str, Any], context: Any) -> str:
    time.sleep(event["seconds"])
    return "woke"


def raises(event: dict[str, Any], context: Any) -> None:
    raise KeyError("missing")


def talks(event: dict[str, Any], context: Any) -> None:
    print("line one")
    logging.getLogger().warning("line two")


# A hard-coded endpoint: some other API's, not the one this function is served by.
OTHER_API = boto3.client(
    "apigatewaymanagementapi",
    endpoint_url="https://abc123defg.execute-api.us-east-1.amazonaws.com/prod",
)


def posts_elsewhere(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    try:
        OTHER_API.post_to_connection(ConnectionId=connection_id, Data=b"lost")
    except OTHER_API.exceptions.ClientError as exc:
        error = exc.response["Error"]
        answer = {"status": exc.response["ResponseMetadata"]["HTTPStatusCode"], **error}
        return {"statusCode": 200, "body": json.dumps(answer)}
    return {"statusCode": 200, "body": "sent"}
