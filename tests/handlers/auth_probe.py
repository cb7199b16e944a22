"""Lambda REQUEST authorizers for the authorization tests (``auth_probe.NAME``).

:func:`authorize` does what the test planned: the test sets :data:`plan` (a
function of the event that returns the authorizer's result or raises) on this
module as the emulator imported it, by its bare name ``auth_probe``.
:func:`by_token` needs no plan: it allows every token, with a context derived
from it. :func:`blocks` waits on :data:`gate`, which the test opens.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

# What authorize() does with its event: return a result or raise.
Plan = Callable[[dict[str, Any]], Any]

# Opened by the test that blocks the authorizer; generous so a missed release
# cannot hang the suite.
gate = threading.Event()
GATE_TIMEOUT = 10.0


def allow(principal_id: str, resource: str, context: dict[str, Any] | None = None) -> Any:
    """The output of an authorizer allowing ``resource`` (spec §6.3)."""
    result: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}
            ],
        },
    }
    if context is not None:
        result["context"] = context
    return result


def _allow_all(event: dict[str, Any]) -> Any:
    return allow("anyone", event["methodArn"])


# Set by the test before connecting (monkeypatch.setattr); the default allows everyone.
plan: Plan = _allow_all


def authorize(event: dict[str, Any], context: Any) -> Any:
    return plan(event)


async def async_authorize(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    return plan(event)


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in event["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


def by_token(event: dict[str, Any], context: Any) -> Any:
    """Allow the caller named by the ``Auth`` header, with a context of every JSON type."""
    token = _header(event, "Auth") or "nobody"
    return allow(
        token,
        event["methodArn"],
        {
            "user": token,
            "number": 123,
            "ratio": 1.5,
            "yes": True,
            "no": False,
            "nothing": None,
            "length": len(token),
        },
    )


def blocks(event: dict[str, Any], context: Any) -> Any:
    """Outlive any short authorizer timeout, then allow."""
    gate.wait(GATE_TIMEOUT)
    return allow("late", event["methodArn"])
