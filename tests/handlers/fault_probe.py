"""Handlers that misbehave, for tests/test_faults.py (``fault_probe.NAME``).

The blocking ones wait on :data:`gate`, which the test clears before and sets
in a ``finally``; the wait is bounded so that a forgotten gate cannot hang the
suite.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

gate = threading.Event()
gate.set()
# Set when a held $connect handler starts waiting.
entered = threading.Event()
GATE_TIMEOUT = 10.0


def _own_id(event: dict[str, Any]) -> str:
    connection_id: str = event["requestContext"]["connectionId"]
    return connection_id


def blocks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say "blocked", then hold a worker thread until the gate opens."""
    context.post_to_connection(_own_id(event), "blocked")
    gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "released"}


def hangs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Block silently until the gate opens: past any short timeout."""
    gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": "too late"}


def bytes_body(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": b"not a string"}


def unencodable_body(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A body with a lone surrogate, as json.loads('"\\ud800"') gives."""
    return {"statusCode": 200, "body": json.loads('"\\ud800 lone surrogate"')}


def sized(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A route response of as many bytes as the message's ``size`` says."""
    return {"statusCode": 200, "body": "x" * json.loads(event["body"])["size"]}


def connect_holds(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """$connect: with ``?hold=1``, wait for the gate before accepting."""
    if (event.get("queryStringParameters") or {}).get("hold"):
        entered.set()
        gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200}


async def async_connect_holds(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if (event.get("queryStringParameters") or {}).get("hold"):
        entered.set()
        # Not on the loop: the gate is a threading.Event the test sets.
        await asyncio.get_running_loop().run_in_executor(None, gate.wait, GATE_TIMEOUT)
    return {"statusCode": 200}
