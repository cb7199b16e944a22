"""Handlers that report their Lambda context and environment (routes name them ``ctx_probe.*``).

The emulator imports this module as the top-level ``ctx_probe`` (tests/handlers is put
on ``sys.path``); tests reach its gates through ``sys.modules["ctx_probe"]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

import boto3

_gates_lock = threading.Lock()
_gates: dict[str, tuple[threading.Event, threading.Event]] = {}

GATE_WAIT_S = 5.0


def gate(token: str) -> tuple[threading.Event, threading.Event]:
    """``(started, release)`` for one test: a blocking handler sets ``started`` and
    waits for ``release``. One pair per token, so tests never share them."""
    with _gates_lock:
        return _gates.setdefault(token, (threading.Event(), threading.Event()))


def _body(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event.get("body") or "{}")


def _env(names: list[str]) -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in names}


def _context(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "event_request_id": event["requestContext"]["requestId"],
        "env": _env(_body(event).get("names", [])),
    }


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The context's attributes and the environment variables named in the body."""
    return {"statusCode": 200, "body": json.dumps(_context(event, context))}


async def async_report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    await asyncio.sleep(0)  # yield once, so other tasks run inside the invocation
    return {"statusCode": 200, "body": json.dumps(_context(event, context))}


def blocking_env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read the environment, block on the body's gate, then read it again."""
    body = _body(event)
    started, release = gate(body["gate"])
    before = _env(body["names"])
    started.set()
    released = release.wait(GATE_WAIT_S)
    after = _env(body["names"])
    return {
        "statusCode": 200,
        "body": json.dumps({"before": before, "after": after, "released": released}),
    }


async def async_blocking_env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = _body(event)
    started, release = gate(body["gate"])
    before = _env(body["names"])
    started.set()
    released = await asyncio.to_thread(release.wait, GATE_WAIT_S)
    after = _env(body["names"])
    return {
        "statusCode": 200,
        "body": json.dumps({"before": before, "after": after, "released": released}),
    }


def set_then_report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Set ``CTX_PROBE_SET`` to the body's value; report what it was before."""
    before = os.environ.get("CTX_PROBE_SET")
    os.environ["CTX_PROBE_SET"] = _body(event)["value"]
    return {"statusCode": 200, "body": json.dumps({"before": before})}


def env_in_thread(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read the environment from a thread the handler starts (as a thread pool would)."""
    names = _body(event)["names"]
    seen: dict[str, str | None] = {}
    worker = threading.Thread(target=lambda: seen.update(_env(names)))
    worker.start()
    worker.join(GATE_WAIT_S)
    return {"statusCode": 200, "body": json.dumps(seen)}


def boto3_defaults(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What boto3 resolves with no explicit region or credentials (spec §4.2)."""
    session = boto3.session.Session()
    credentials = session.get_credentials()
    rc = event["requestContext"]
    client = session.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{rc['domainName']}/{rc['stage']}"
    )
    found = {
        "region": session.region_name,
        "client_region": client.meta.region_name,
        "access_key": credentials.access_key if credentials else None,
        "secret_key": credentials.secret_key if credentials else None,
        "token": credentials.token if credentials else None,
        "env": _env(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]),
    }
    return {"statusCode": 200, "body": json.dumps(found)}
