"""The route response step: what the client gets from an integration's outcome (spec §3.1, §3.2)."""

from __future__ import annotations

import pytest

from emulator.gateway.integrations.outcome import Failure, Outcome, failed
from emulator.gateway.respond import ERROR, ROUTE_RESPONSE, connect_answer, message_reply
from emulator.wire.messages import UpgradeAnswer

CID, RID = "L0SM9cOFvHcCIhw=", "L0SM9FjbvHcF3-w="


@pytest.mark.parametrize(
    ("outcome", "answer"),
    [
        pytest.param(Outcome(200), UpgradeAnswer(200), id="accepted"),
        pytest.param(Outcome(204, subprotocol="chat"), UpgradeAnswer(204, "chat"), id="protocol"),
        pytest.param(Outcome(401), UpgradeAnswer(401), id="refused-by-the-function"),
        pytest.param(
            failed(Failure.INTERNAL, status=502),
            UpgradeAnswer(502, body=b'{"message": "Internal server error"}'),
            id="function-error",
        ),
        pytest.param(
            failed(Failure.TIMEOUT, status=504),
            UpgradeAnswer(504, body=b'{"message": "Endpoint request timed out"}'),
            id="timed-out",
        ),
        pytest.param(
            failed(Failure.UNSUPPORTED_MEDIA_TYPE),
            UpgradeAnswer(415, body=b'{"message": "Unsupported Media Type"}'),
            id="backend-no-template",
        ),
    ],
)
def test_connect_answer(outcome: Outcome, answer: UpgradeAnswer) -> None:
    assert connect_answer(outcome) == answer


@pytest.mark.parametrize(
    ("outcome", "two_way", "reply"),
    [
        pytest.param(Outcome(200, frame="hi"), True, ("hi", ROUTE_RESPONSE), id="two-way"),
        pytest.param(Outcome(200, frame=""), True, ("", ROUTE_RESPONSE), id="two-way-empty"),
        pytest.param(Outcome(200, frame=b"\x00"), True, (b"\x00", ROUTE_RESPONSE), id="binary"),
        pytest.param(Outcome(200, frame="hi"), False, None, id="one-way"),
        pytest.param(Outcome(200), True, None, id="two-way-without-frame"),
        pytest.param(
            failed(Failure.INTERNAL),
            False,
            (
                f'{{"message": "Internal server error", "connectionId":"{CID}",'
                f' "requestId":"{RID}"}}',
                ERROR,
            ),
            id="failure-on-a-one-way-route",
        ),
        pytest.param(
            failed(Failure.TIMEOUT),
            True,
            (
                f'{{"message": "Endpoint request timed out", "connectionId":"{CID}",'
                f' "requestId":"{RID}"}}',
                ERROR,
            ),
            id="timeout-on-a-two-way-route",
        ),
    ],
)
def test_message_reply(
    outcome: Outcome, two_way: bool, reply: tuple[str | bytes, str] | None
) -> None:
    assert message_reply(outcome, route_response=two_way, connection_id=CID, request_id=RID) == (
        reply
    )
