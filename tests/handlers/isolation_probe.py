"""Handlers for tests/test_isolation.py (``isolation_probe.NAME``): what one API can reach."""

from __future__ import annotations

import json
from typing import Any

from emulator.errors import ManagementApiError


def allow_all(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda REQUEST authorizer that allows every connection (spec §6.3)."""
    return {
        "principalId": "anyone",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }


def never(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A handler no message may ever reach: it says so if one does."""
    return {"statusCode": 200, "body": "never reached, yet here"}


def context_ops_on_other(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Body ``{"to": id}``: post, get and delete ``id`` through the context.

    Answers with what each operation raised (its AWS error type), or ``done``.
    """
    target = json.loads(event["body"])["to"]
    outcomes = []
    for operation, args in (
        (context.post_to_connection, (target, b"from another API")),
        (context.get_connection, (target,)),
        (context.delete_connection, (target,)),
    ):
        try:
            operation(*args)
        except ManagementApiError as error:
            outcomes.append(error.aws_type)
        else:
            outcomes.append("done")
    return {"statusCode": 200, "body": json.dumps(outcomes)}
