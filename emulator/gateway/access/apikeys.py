"""API keys on ``$connect`` (spec §A.8).

A pure module. When ``$connect`` has ``apiKeyRequired: true``, the key is read
as ``apiKeySelectionExpression`` says: the ``x-api-key`` header (the default),
or ``$context.authorizer.usageIdentifierKey`` (what a Lambda authorizer
returned, for browsers that cannot set headers), and must be one of
``apiKeys``, enabled and valid for the stage (its usage plan's ``ApiStages``).
Otherwise the handshake is refused with 403 ``{"message":"Forbidden"}``: REST
throws ``InvalidKeyParameter`` and "the caller receives a 403 Forbidden
response" (DG:api-gateway-api-key-source); for WebSocket APIs the status is
[INFER]. A connection that presented a key carries it in its events'
``requestContext.identity`` (``apiKey``, ``apiKeyId``), and ``$context.identity``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from emulator.gateway.events import ConnectionInfo
from emulator.model.api import API_KEY_HEADER_SELECTION, ApiKeyConfig

__all__ = [
    "FORBIDDEN_BODY",
    "ApiKeyDecision",
    "check_api_key",
    "presented_key",
    "uses_authorizer",
    "with_api_key",
]

FORBIDDEN_BODY: Final = b'{"message":"Forbidden"}'
_HEADER: Final = API_KEY_HEADER_SELECTION.removeprefix("$request.header.")


@dataclass(frozen=True)
class ApiKeyDecision:
    """``key`` when the connection may proceed, else ``status`` and why."""

    key: ApiKeyConfig | None = None
    status: int | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.status is None


def uses_authorizer(expression: str) -> bool:
    """Whether the key comes from the authorizer, so is checked after it (spec §A.8)."""
    return expression != API_KEY_HEADER_SELECTION


def presented_key(
    expression: str,
    headers: Sequence[tuple[str, str]],
    authorizer: Mapping[str, Any] | None,
) -> str | None:
    """The key the request presents, or None."""
    if uses_authorizer(expression):
        value = (authorizer or {}).get("usageIdentifierKey")
        return str(value) if value else None
    for name, value in headers:
        if name.lower() == _HEADER and value:
            return value
    return None


def check_api_key(
    keys: Sequence[ApiKeyConfig], stage: str, presented: str | None
) -> ApiKeyDecision:
    """Whether ``presented`` is a key valid on ``stage``."""
    if presented is None:
        return ApiKeyDecision(status=403, reason="no API key")
    for key in keys:
        if key.value != presented:
            continue
        if not key.enabled:
            return ApiKeyDecision(status=403, reason=f"API key {key.id} is disabled")
        if key.stages is not None and stage not in key.stages:
            return ApiKeyDecision(status=403, reason=f"API key {key.id} is not for stage {stage}")
        return ApiKeyDecision(key=key)
    return ApiKeyDecision(status=403, reason="unknown API key")


def with_api_key(info: ConnectionInfo, key: ApiKeyConfig) -> ConnectionInfo:
    """``info`` whose events carry the key in ``identity`` (``apiKey``, ``apiKeyId``).

    ConnectionInfo's ``iam`` mapping is what ``identity()`` starts from, so the
    key's fields ride there beside any IAM caller's.
    """
    fields = {**(info.iam or {}), "apiKey": key.value, "apiKeyId": key.id}
    return dataclasses.replace(info, iam=fields)
