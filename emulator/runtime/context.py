"""The ``context`` a handler gets: what Python's Lambda runtime sets on it.

Built per invocation, so it is cheap: each function gets its own
:class:`LambdaContext` subclass (:func:`context_class`) whose class holds what
never changes (name, ARN, log group, the @connections callbacks), and an
instance sets only its request id and deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ACCOUNT_ID", "LambdaContext", "ManagementCallbacks", "context_class"]

ACCOUNT_ID = "000000000000"


class ManagementCallbacks(Protocol):
    """The @connections operations offered to handlers on their context."""

    def post_to_connection(self, connection_id: str, data: bytes | str) -> None: ...

    def get_connection(self, connection_id: str) -> dict[str, Any]: ...

    def delete_connection(self, connection_id: str) -> None: ...


class LambdaContext:
    """The ``context`` argument, with the attributes Python's Lambda runtime sets.

    It also carries the emulator's local callbacks ``post_to_connection``,
    ``get_connection`` and ``delete_connection`` (same errors as boto3 would
    raise, from :mod:`emulator.errors`).
    """

    def __init__(
        self,
        *,
        function_name: str,
        region: str,
        request_id: str,
        deadline: float,
        log_stream_name: str,
        callbacks: ManagementCallbacks,
        memory_size: int = 128,
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        # The Python runtime reads this from the environment: a string.
        self.memory_limit_in_mb = str(memory_size)
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = deadline
        self.post_to_connection = callbacks.post_to_connection
        self.get_connection = callbacks.get_connection
        self.delete_connection = callbacks.delete_connection

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )


def context_class(name: str, base: LambdaContext) -> Callable[[str, float], LambdaContext]:
    """A subclass for function ``name`` whose class attributes are ``base``'s public
    ones; it is called with a request id and a deadline."""
    return type(
        f"LambdaContext_{name}",
        (LambdaContext,),
        {
            "__init__": _context_init,
            "__slots__": (),
            **{key: value for key, value in vars(base).items() if not key.startswith("_")},
        },
    )


def _context_init(self: LambdaContext, request_id: str, deadline: float) -> None:
    self.aws_request_id = request_id
    self._deadline = deadline
