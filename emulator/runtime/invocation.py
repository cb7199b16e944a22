"""What came of one invocation of a Lambda function, as far as its caller waited.

A pure module: the value the runtime hands back (:mod:`emulator.runtime.invoke`)
and the gateway interprets (:mod:`emulator.gateway.integrations`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.runtime.output import InvocationScope

__all__ = ["Invocation", "InvocationOutcome", "error_summary"]


class InvocationOutcome(enum.StrEnum):
    """How an invocation went; each member is its text (``ok``) for the log."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True, init=False)
class Invocation:
    """What came of one invocation, as far as the caller waited."""

    outcome: InvocationOutcome
    value: Any = None
    error: BaseException | None = None
    duration_ms: float = 0.0
    scope: InvocationScope | None = None  # who ran, and how many posts it made

    # One per message: the generated __init__ of a frozen dataclass sets each
    # field through object.__setattr__ (0.9 us for five), this one through the
    # instance's dict (0.4 us). Still frozen: setting a field afterwards raises.
    # tests/test_values.py pins it to the fields.
    def __init__(
        self,
        outcome: InvocationOutcome,
        value: Any = None,
        error: BaseException | None = None,
        duration_ms: float = 0.0,
        scope: InvocationScope | None = None,
    ) -> None:
        fields = self.__dict__
        fields["outcome"] = outcome
        fields["value"] = value
        fields["error"] = error
        fields["duration_ms"] = duration_ms
        fields["scope"] = scope


def error_summary(error: BaseException) -> str:
    """One line for what a function raised: ``RuntimeError: boom``.

    The traceback is in the function's own log, as Lambda's runtime writes it.
    """
    if isinstance(error, SystemExit):
        return f"sys.exit({error.code!r}): Runtime.ExitError"
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
