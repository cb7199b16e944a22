"""Handlers for the routing, ``$connect`` and ``$disconnect`` tests (``route_probe.NAME``).

The blocking handlers wait on gates the test closes before and opens in a
``finally``: :func:`close_gates` then :func:`open_gates`, both called on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import boto3

BINARY = b"\x00\x01binary\xff"

_sync_gate = threading.Event()
_async_gate: asyncio.Event | None = None
# Set when a blocking handler starts waiting, for a test to wait on.
entered = threading.Event()
# Generous: a forgotten open_gates() must not hang the suite for ever.
GATE_TIMEOUT = 10.0


def close_gates() -> None:
    """Make the blocking handlers block until :func:`open_gates`."""
    global _async_gate
    _sync_gate.clear()
    entered.clear()
    _async_gate = asyncio.Event()


def open_gates() -> None:
    """Release every blocked handler, sync and async."""
    _sync_gate.set()
    if _async_gate is not None:
        _async_gate.set()


async def _wait_async_gate() -> None:
    assert _async_gate is not None, "call route_probe.close_gates() first"
    await asyncio.wait_for(_async_gate.wait(), GATE_TIMEOUT)


def _own_id(event: dict[str, Any]) -> str:
    connection_id: str = event["requestContext"]["connectionId"]
    return connection_id


# --- blocking ---------------------------------------------------------------------------


def blocks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say "blocked" to the caller, then block a worker thread until the gate opens."""
    context.post_to_connection(_own_id(event), "blocked")
    _sync_gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "released"}


async def async_blocks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say "blocked" to the caller, then await the gate on the event loop."""
    context.post_to_connection(_own_id(event), "blocked")
    await _wait_async_gate()
    return {"statusCode": 200, "body": "released"}


def waits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Block silently until the gate opens (also usable on ``$connect``)."""
    entered.set()
    _sync_gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "released"}


async def async_waits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    entered.set()
    await _wait_async_gate()
    return {"statusCode": 200, "body": "released"}


# --- results ----------------------------------------------------------------------------


def status_500(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 500, "body": "oops"}


def base64_body(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "body": base64.b64encode(BINARY).decode("ascii"),
        "isBase64Encoded": True,
    }


def body_not_a_string(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": {"not": "a string"}}


def status_not_int(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": "200", "body": "x"}


def body_length(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": str(len(event.get("body") or ""))}


# --- $disconnect ------------------------------------------------------------------------


def disconnect_posts_self(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Post to the closing connection with boto3, as a handler on AWS would.

    The body says what happened, for the test to read from the record.
    """
    rc = event["requestContext"]
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{rc['domainName']}/{rc['stage']}"
    )
    try:
        client.post_to_connection(ConnectionId=rc["connectionId"], Data=b"still there?")
    except client.exceptions.GoneException:
        return {"statusCode": 200, "body": "GoneException"}
    return {"statusCode": 200, "body": "posted"}
