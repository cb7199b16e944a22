"""The AWS_PROXY integration: what API Gateway makes of a Lambda invocation (spec §3.1-3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.gateway.integrations.lambda_proxy import proxy_outcome
from emulator.gateway.integrations.outcome import Failure, Outcome
from emulator.runtime.invocation import Invocation, InvocationOutcome


def ok(value: Any) -> Invocation:
    return Invocation(InvocationOutcome.OK, value)


RAISED = Invocation(InvocationOutcome.ERROR, error=ValueError("boom"))
TIMED_OUT = Invocation(InvocationOutcome.TIMEOUT)


@pytest.mark.parametrize(
    ("invocation", "event_type", "expected"),
    [
        pytest.param(ok(None), "CONNECT", Outcome(200), id="connect-none-accepts"),
        pytest.param(ok({"statusCode": 200}), "CONNECT", Outcome(200), id="connect-200"),
        pytest.param(ok({"statusCode": 403}), "CONNECT", Outcome(403), id="connect-refused"),
        pytest.param(
            ok({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat"}}),
            "CONNECT",
            Outcome(200, subprotocol="chat"),
            id="connect-subprotocol",
        ),
        pytest.param(
            ok({"statusCode": 200, "body": "hi"}), "MESSAGE", Outcome(200, frame="hi"), id="body"
        ),
        pytest.param(ok(None), "MESSAGE", Outcome(200, frame=""), id="message-none"),
        pytest.param(
            ok({"statusCode": 500, "body": "x"}),
            "MESSAGE",
            Outcome(200, frame="x"),
            id="status-is-not-delivery",
        ),
        pytest.param(ok("oops"), "DISCONNECT", Outcome(200), id="disconnect-result-ignored"),
    ],
)
def test_results(invocation: Invocation, event_type: str, expected: Outcome) -> None:
    assert proxy_outcome(invocation, event_type) == expected


@pytest.mark.parametrize("event_type", ["CONNECT", "MESSAGE", "DISCONNECT"])
@pytest.mark.parametrize(
    ("invocation", "failure", "status"),
    [(RAISED, Failure.INTERNAL, 502), (TIMED_OUT, Failure.TIMEOUT, 504)],
    ids=["raised", "timed-out"],
)
def test_failed_invocations(
    invocation: Invocation, failure: Failure, status: int, event_type: str
) -> None:
    outcome = proxy_outcome(invocation, event_type)
    assert (outcome.failure, outcome.status) == (failure, status)


@pytest.mark.parametrize(
    ("value", "event_type", "why"),
    [
        ({"statusCode": "200"}, "CONNECT", "statusCode must be an int"),
        ({"statusCode": 200, "extra": 1}, "MESSAGE", "unknown keys in the proxy result: extra"),
        ("text", "MESSAGE", "must be a dict or None, got str"),
        ({"statusCode": 200, "body": 3}, "MESSAGE", "body must be a string"),
    ],
    ids=["connect-status-string", "unknown-key", "not-a-dict", "body-not-string"],
)
def test_malformed_results_are_internal_errors(value: Any, event_type: str, why: str) -> None:
    outcome = proxy_outcome(ok(value), event_type)
    assert (outcome.failure, outcome.status) == (Failure.INTERNAL, 502)
    assert why in outcome.reason
