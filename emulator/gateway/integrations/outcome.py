"""What an integration's run comes to, whatever its type (spec §3.1, §3.2.5, §A.1).

A pure module. Every integration, the Lambda proxy (:mod:`.lambda_proxy`) and
the backends (:mod:`.backend`) alike, ends in an :class:`Outcome`: the status
the ``$connect`` handshake answers with, the frame a two-way route sends back,
or a :class:`Failure`, whose message is one of AWS's error frames. The route
response step (:mod:`emulator.gateway.respond`) turns it into what the client gets.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from emulator.runtime.invocation import Invocation

__all__ = ["Failure", "IntegrationResult", "Outcome", "failed"]


class Failure(enum.Enum):
    """A failed integration: its frame's message, and its status on ``$connect``."""

    INTERNAL = "Internal server error"
    TIMEOUT = "Endpoint request timed out"
    # UNKNOWN on AWS; the spec recommends this frame and 415 on $connect (§A.4.2).
    UNSUPPORTED_MEDIA_TYPE = "Unsupported Media Type"

    @property
    def status(self) -> int:
        """The ``$connect`` status of a backend that failed this way."""
        return _STATUS[self]


_STATUS: Final = {
    Failure.INTERNAL: 500,
    Failure.TIMEOUT: 504,
    Failure.UNSUPPORTED_MEDIA_TYPE: 415,
}


@dataclass(frozen=True, init=False)
class Outcome:
    """What came of one run: the status, a two-way route's frame, a failure.

    ``reason`` says why, for the log, when something went wrong or was odd.
    """

    status: int
    frame: str | bytes | None = None
    failure: Failure | None = None
    subprotocol: str | None = None
    reason: str = ""

    # One per message: set through the instance's dict, as Invocation's
    # (emulator.runtime.invocation says why); tests/test_values.py pins it.
    def __init__(
        self,
        status: int,
        frame: str | bytes | None = None,
        failure: Failure | None = None,
        subprotocol: str | None = None,
        reason: str = "",
    ) -> None:
        fields = self.__dict__
        fields["status"] = status
        fields["frame"] = frame
        fields["failure"] = failure
        fields["subprotocol"] = subprotocol
        fields["reason"] = reason

    @property
    def accepted(self) -> bool:
        return self.failure is None and 200 <= self.status < 300


def failed(failure: Failure, reason: str = "", status: int | None = None) -> Outcome:
    """A failed outcome; ``status`` defaults to the failure's (a backend's)."""
    return Outcome(failure.status if status is None else status, failure=failure, reason=reason)


@dataclass(frozen=True, init=False)
class IntegrationResult:
    """One run, as the pipeline reports it: its outcome, the invocation (how it
    went, how long it took) and the event observers are shown."""

    outcome: Outcome
    invocation: Invocation
    event: Mapping[str, Any]

    # One per message: set through the instance's dict, as Invocation's
    # (emulator.runtime.invocation says why); tests/test_values.py pins it.
    def __init__(self, outcome: Outcome, invocation: Invocation, event: Mapping[str, Any]) -> None:
        fields = self.__dict__
        fields["outcome"] = outcome
        fields["invocation"] = invocation
        fields["event"] = event
