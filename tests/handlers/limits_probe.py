"""Handlers for the limits tests (``limits_probe.NAME``).

:func:`waits` blocks a worker thread on :data:`gate` until the test opens it
(``gate.set()`` in a ``finally``); the test reaches this module by its bare
name ``limits_probe``, the one the emulator imported.
"""

from __future__ import annotations

import threading
from typing import Any

gate = threading.Event()
# Generous: a forgotten gate.set() must not hang the suite for ever.
GATE_TIMEOUT = 10.0


def byte_length(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reply with the message's length in UTF-8 bytes."""
    return {"statusCode": 200, "body": str(len(event["body"].encode()))}


def waits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Block until the gate opens, then reply with the route key."""
    gate.wait(GATE_TIMEOUT)
    return {"statusCode": 200, "body": f"released {event['requestContext']['routeKey']}"}


def remaining(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reply with the milliseconds left before the integration timeout."""
    return {"statusCode": 200, "body": str(context.get_remaining_time_in_millis())}
