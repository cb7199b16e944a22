"""What a handler's return value means to API Gateway.

A Lambda proxy result is a dict with at most ``statusCode``, ``headers``,
``multiValueHeaders``, ``body`` and ``isBase64Encoded``; anything else is a
malformed response (spec §3.2.5, middy#1219).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConnectOutcome",
    "MalformedResultError",
    "interpret_connect_result",
    "interpret_route_result",
]

_PROXY_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


class MalformedResultError(ValueError):
    """A handler result that API Gateway would not accept as a proxy response."""


@dataclass(frozen=True)
class ConnectOutcome:
    """How the upgrade is answered after ``$connect`` returned."""

    status: int
    subprotocol: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def _validate(result: object) -> Mapping[str, Any] | None:
    if result is None:
        return None
    # A dict first: what handlers return, and a check against the Mapping ABC
    # (Python-level __instancecheck__) costs several times one on the type.
    if type(result) is not dict and not isinstance(result, Mapping):
        raise MalformedResultError(
            f"a proxy result must be a dict or None, got {type(result).__name__}"
        )
    if not _PROXY_KEYS.issuperset(result):
        unknown = sorted(str(key) for key in result if key not in _PROXY_KEYS)
        raise MalformedResultError(f"unknown keys in the proxy result: {', '.join(unknown)}")
    status = result.get("statusCode")
    if type(status) is not int:
        # AWS (REST v1 semantics, spec §3.1): no integer statusCode is malformed.
        raise MalformedResultError(f"statusCode must be an int, got {status!r}")
    headers = result.get("headers")
    if headers is not None and not (
        (type(headers) is dict or isinstance(headers, Mapping))
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise MalformedResultError("headers must map strings to strings")
    multi = result.get("multiValueHeaders")
    if multi is not None and not (
        (type(multi) is dict or isinstance(multi, Mapping))
        and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
            for k, v in multi.items()
        )
    ):
        raise MalformedResultError("multiValueHeaders must map strings to lists of strings")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResultError(f"body must be a string, got {type(body).__name__}")
    encoded = result.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise MalformedResultError(f"isBase64Encoded must be a bool, got {encoded!r}")
    return result


def interpret_connect_result(result: object) -> ConnectOutcome:
    """The handshake answer for a ``$connect`` result (spec §3.1).

    ``None`` accepts: a handler that returns nothing did not fail.
    Raises :class:`MalformedResultError` (the caller answers 502).
    """
    valid = _validate(result)
    if valid is None:
        # UNKNOWN for $connect; treated like a one-way route's None (accept).
        return ConnectOutcome(200)
    subprotocol = None
    # AWS: only Sec-WebSocket-Protocol is copied into the 101 (spec §3.1).
    for name, value in (valid.get("headers") or {}).items():
        if name.lower() == "sec-websocket-protocol":
            subprotocol = value
    if subprotocol is None:
        for name, values in (valid.get("multiValueHeaders") or {}).items():
            if name.lower() == "sec-websocket-protocol" and values:
                subprotocol = ", ".join(values)
    return ConnectOutcome(valid["statusCode"], subprotocol)


def interpret_route_result(result: object) -> str | bytes:
    """What a two-way route sends back: the result's ``body`` (spec §3.2.4).

    ``statusCode`` is ignored for delivery; a missing body sends an empty frame.
    A base64-encoded body is decoded and sent as binary (UNKNOWN on AWS; the
    spec recommends this). Raises :class:`MalformedResultError`.
    """
    valid = _validate(result)
    if valid is None:
        return ""
    body = valid.get("body") or ""
    if valid.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedResultError("isBase64Encoded is true but body is not base64") from exc
    return str(body)
