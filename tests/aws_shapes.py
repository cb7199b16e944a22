"""What AWS's events look like, as the tests check them (spec §2.1)."""

from __future__ import annotations

# The requestContext keys every event type has; MESSAGE adds messageId,
# DISCONNECT disconnectStatusCode and disconnectReason.
COMMON_CONTEXT = frozenset(
    {
        "routeKey",
        "eventType",
        "extendedRequestId",
        "requestTime",
        "messageDirection",
        "stage",
        "connectedAt",
        "requestTimeEpoch",
        "identity",
        "requestId",
        "domainName",
        "connectionId",
        "apiId",
    }
)
