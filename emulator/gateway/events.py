"""Lambda proxy events for WebSocket APIs, shaped exactly as AWS sends them.

Which top-level keys exist for which event type matters: typed parsers such as
Powertools' models require ``messageId`` on MESSAGE and ``disconnectStatusCode``
on DISCONNECT, and reject what AWS never sends (spec §2).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConnectionInfo",
    "clf_time",
    "connect_event",
    "disconnect_event",
    "iso_time",
    "message_event",
    "multi_value",
    "trace_id",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# AWS: the connect event forwards every client header except the hop-by-hop
# ones; none of the integration captures contain them (spec §2.2, rule 1).
_HOP_BY_HOP = frozenset({"connection", "upgrade", "content-length"})


@dataclass(frozen=True)
class ConnectionInfo:
    """What every event of one connection shares."""

    connection_id: str
    connected_at: int  # epoch ms, the same in every event of the connection
    source_ip: str
    user_agent: str | None
    domain_name: str
    api_id: str
    stage: str
    authorizer: Mapping[str, Any] | None = field(default=None)
    # The caller's fields when $connect was IAM-authorized (accountId, userArn...).
    iam: Mapping[str, Any] | None = field(default=None)
    # The stage's variables: every event carries them, unless there are none (spec §6.2
    # of the Lambda spec: AWS omits the key then).
    stage_variables: Mapping[str, str] | None = field(default=None)

    def identity(self) -> dict[str, Any]:
        # AWS: userAgent only when the client sent a User-Agent header (spec §2.1).
        identity: dict[str, Any] = dict(self.iam) if self.iam is not None else {}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        identity["sourceIp"] = self.source_ip
        return identity


_clf_cache: tuple[int, str] = (-1, "")


def clf_time(epoch_ms: int) -> str:
    """``20/Jan/2024:11:55:00 +0000``: CLF, always UTC, locale-independent."""
    global _clf_cache
    second = epoch_ms // 1000
    cached_second, text = _clf_cache
    if second == cached_second:
        return text
    t = time.gmtime(second)
    text = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
    _clf_cache = (second, text)
    return text


def iso_time(epoch_ms: int) -> str:
    """``2022-01-25T18:50:04.673Z``: ISO 8601 UTC with milliseconds (GetConnection)."""
    t = time.gmtime(epoch_ms // 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{epoch_ms % 1000:03d}Z"
    )


def trace_id(now_ms: int, request_id: str) -> str:
    """An ``X-Amzn-Trace-Id`` value, ``Root=1-<8 hex>-<24 hex>``, as API Gateway adds."""
    return f"Root=1-{now_ms // 1000:08x}-{request_id.encode().hex()[:24]:0<24}"


def multi_value(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Split ordered pairs into AWS's last-value and all-values maps."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _request_context(
    info: ConnectionInfo, route_key: str, event_type: str, request_id: str, request_time_ms: int
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(request_time_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": request_time_ms,
        "identity": info.identity(),
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = dict(info.authorizer)
    return context


def connect_event(
    info: ConnectionInfo,
    *,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]] | None,
    request_id: str,
    request_time_ms: int,
) -> dict[str, Any]:
    """The CONNECT event (spec §2.2).

    ``headers`` are the client's upgrade headers in order, with AWS's own
    additions already appended; ``query`` is ``None`` when the URL had no query
    string (AWS then omits both query keys).
    """
    forwarded = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
    single, multi = multi_value(forwarded)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    if query is not None:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = multi_value(
            query
        )
    if info.stage_variables:
        event["stageVariables"] = dict(info.stage_variables)
    event["requestContext"] = _request_context(
        info, "$connect", "CONNECT", request_id, request_time_ms
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo,
    *,
    route_key: str,
    body: str,
    message_id: str,
    request_id: str,
    request_time_ms: int,
) -> dict[str, Any]:
    """A MESSAGE event (spec §2.3): no headers, no query string."""
    # Built as one literal, not by _request_context plus messageId: this runs for
    # every frame. Keep the two in step.
    context: dict[str, Any] = {
        "routeKey": route_key,
        "messageId": message_id,  # AWS: only on MESSAGE events
        "eventType": "MESSAGE",
        "extendedRequestId": request_id,
        "requestTime": clf_time(request_time_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": request_time_ms,
        "identity": info.identity(),
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = dict(info.authorizer)
    if info.stage_variables:
        return {
            "stageVariables": dict(info.stage_variables),
            "requestContext": context,
            "body": body,
            "isBase64Encoded": False,
        }
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    info: ConnectionInfo,
    *,
    status_code: int,
    reason: str,
    request_id: str,
    request_time_ms: int,
) -> dict[str, Any]:
    """The DISCONNECT event (spec §2.4), with the fixed headers AWS sends."""
    context = _request_context(info, "$disconnect", "DISCONNECT", request_id, request_time_ms)
    context = {
        "routeKey": "$disconnect",
        "disconnectStatusCode": status_code,
        **context,
    }
    # AWS: disconnectReason follows messageDirection in the captures.
    ordered: dict[str, Any] = {}
    for key, value in context.items():
        ordered[key] = value
        if key == "messageDirection":
            ordered["disconnectReason"] = reason
    # AWS: not the client's headers but this odd fixed set (three captures, 2024).
    headers = {"Host": info.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
    }
    if info.stage_variables:
        event["stageVariables"] = dict(info.stage_variables)
    event["requestContext"] = ordered
    event["isBase64Encoded"] = False
    return event
