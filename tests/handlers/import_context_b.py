"""A function module that imports import_context_common (tests/test_lambda_init.py)."""

from __future__ import annotations

from typing import Any

from import_context_common import TRACE


def value(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": TRACE.get("unset")}
