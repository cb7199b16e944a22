"""The route response: the last step of the pipeline, what the client gets (spec §3.1, §3.2.4-5).

A pure module. On ``$connect`` an :class:`~.integrations.outcome.Outcome`
becomes the handshake's answer; on a message it becomes the frame a two-way
route sends back, or AWS's error frame when the integration failed (sent on
one- and two-way routes alike; the connection stays open).
"""

from __future__ import annotations

from typing import Final

from emulator.gateway.integrations.outcome import Outcome
from emulator.wire.messages import UpgradeAnswer

__all__ = ["ERROR", "ROUTE_RESPONSE", "connect_answer", "error_frame", "message_reply"]

# Who sent a message to a client, as observers are told.
ROUTE_RESPONSE: Final = "route-response"
ERROR: Final = "error"


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """AWS's error frame, byte for byte, irregular spacing included (spec §3.2.5)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    )


def connect_answer(outcome: Outcome) -> UpgradeAnswer:
    """The handshake's answer: the status (and subprotocol), or the failure's body."""
    if outcome.failure is not None:
        body = f'{{"message": "{outcome.failure.value}"}}'.encode()
        return UpgradeAnswer(outcome.status, body=body)
    return UpgradeAnswer(outcome.status, outcome.subprotocol)


def message_reply(
    outcome: Outcome, *, route_response: bool, connection_id: str, request_id: str
) -> tuple[str | bytes, str] | None:
    """What a message's route sends back, and who sent it; None for nothing."""
    if outcome.failure is not None:
        # AWS: sent on one- and two-way routes alike (spec §3.2.5, §A.1).
        return error_frame(outcome.failure.value, connection_id, request_id), ERROR
    if route_response and outcome.frame is not None:
        return outcome.frame, ROUTE_RESPONSE
    return None
