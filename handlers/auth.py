"""A Lambda REQUEST authorizer for the chat application, deployable as it is.

It lets in clients that present the token in ``CHAT_TOKEN`` (as an
``Authorization`` header or a ``?token=`` query parameter) and passes the
client's name on to the routes as authorizer context.
"""

from __future__ import annotations

import os
from typing import Any


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    token = headers.get("authorization") or query.get("token")
    if token != os.environ.get("CHAT_TOKEN", "letmein"):
        # API Gateway answers this exact error with 401.
        raise Exception("Unauthorized")
    return {
        "principalId": query.get("name") or "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"name": query.get("name") or "anonymous", "admin": False},
    }
