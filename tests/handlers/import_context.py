"""A module that sets a context variable at import, as a library's set-up may
(tests/test_lambda_init.py)."""

from __future__ import annotations

import contextvars
import decimal
from typing import Any

SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("source")
SOURCE.set("set at import")


def value(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": SOURCE.get("unset")}


async def value_async(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": SOURCE.get("unset")}


def decimal_precision(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The precision this invocation starts with; then sets its own."""
    precision = decimal.getcontext().prec
    decimal.getcontext().prec = 5
    return {"statusCode": 200, "body": str(precision)}
