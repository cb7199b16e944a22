"""A module a test imports itself before the emulator loads it (tests/test_lambda_init.py)."""

from __future__ import annotations

import contextvars
from typing import Any

SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("early_source")
SOURCE.set("set when the test imported it")


def value(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": SOURCE.get("unset")}
