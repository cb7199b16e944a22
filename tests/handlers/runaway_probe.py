"""Handlers that would take a shared process down: hang, exit, block the loop.

For tests/test_runaway.py (``runaway_probe.NAME``). The hanging ones wait on
``runaway_gate.gate``, which the test clears before and sets in a ``finally``;
the wait is bounded so that a forgotten gate cannot hang the suite.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from botocore.config import Config
from runaway_gate import GATE_TIMEOUT, gate

# As a handler would make it; no retries, so that a throttle is seen at once.
lambda_client = boto3.client("lambda", config=Config(retries={"max_attempts": 0}))


def holds(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say "held", then hold its thread until the gate opens."""
    context.post_to_connection(event["requestContext"]["connectionId"], "held")
    gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "released"}


def hangs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Hold its thread, silently, until the gate opens."""
    gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "too late"}


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event.get("body") or ""}


def exits(event: dict[str, Any], context: Any) -> None:
    os._exit(7)


async def blocks_the_loop(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(0.8)  # noqa: ASYNC251 - the mistake this handler is here to make
    return {"statusCode": 200, "body": "unblocked"}


def invokes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoke the function the message names; answer what boto3 said."""
    name = json.loads(event["body"])["function"]
    try:
        response = lambda_client.invoke(FunctionName=name, Payload=b"{}")
    except lambda_client.exceptions.TooManyRequestsException as exc:
        answer = {"error": exc.response["Error"]["Code"], "reason": exc.response.get("Reason")}
        return {"statusCode": 200, "body": json.dumps(answer)}
    return {"statusCode": 200, "body": json.dumps({"status": response["StatusCode"]})}
