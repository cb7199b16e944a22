"""Handlers of the soak API (``bench/soak.py``; routes name them ``soak_probe.NAME``).

``numbered`` is the two-way route under load: for message ``n`` of client
``c`` it posts ``{"k": "post", "c": c, "n": n}`` to its own connection through
``context.post_to_connection``, then returns ``{"k": "reply", "c": c, "n": n}``
as its route response. It counts its invocations per message in a byte per
message, so that the count costs the server's memory next to nothing; ``stats``
reports the counts.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_lock = threading.Lock()
# Client index -> invocations of each of its messages, by sequence number.
_counts: dict[int, bytearray] = {}
_connects = 0


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _connects
    with _lock:
        _connects += 1
    return {"statusCode": 200}


def numbered(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message = json.loads(event["body"])
    client, n = int(message["c"]), int(message["n"])
    with _lock:
        counts = _counts.setdefault(client, bytearray())
        if len(counts) <= n:
            counts.extend(bytes(n + 1 - len(counts)))
        counts[n] = min(counts[n] + 1, 255)
    connection_id = event["requestContext"]["connectionId"]
    context.post_to_connection(connection_id, json.dumps({"k": "post", "c": client, "n": n}))
    return {"statusCode": 200, "body": json.dumps({"k": "reply", "c": client, "n": n})}


def stats(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Per client: invocations, messages seen once, more than once, and the highest seen."""
    with _lock:
        report = {
            str(client): {
                "invocations": sum(counts),
                "once": counts.count(1),
                "more": len(counts) - counts.count(1) - counts.count(0),
                "highest": len(counts) - 1,
            }
            for client, counts in _counts.items()
        }
        connects = _connects
    return {
        "statusCode": 200,
        "body": json.dumps({"k": "stats", "clients": report, "connects": connects}),
    }
