"""An authorizer for the API key tests (``apikey_probe.NAME``): the key comes from it."""

from __future__ import annotations

from typing import Any


def key_from_query(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow, handing the ``key`` query parameter on as the usage identifier key."""
    key = (event.get("queryStringParameters") or {}).get("key", "")
    return {
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "usageIdentifierKey": key,
        # Where the emulator's authorizer step exposes it today (emulator.gateway.access.apikeys).
        "context": {"usageIdentifierKey": key},
    }
