"""The ``context`` a handler gets: what Python's Lambda runtime sets on it (spec §3.2).

Built per invocation, so it is cheap: each function gets its own
:class:`LambdaContext` subclass (:func:`context_class`) whose class holds what
never changes (name, ARN, log group, memory, the @connections callbacks), and
an instance sets only its request id, deadline and client context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from emulator.model.resources import ACCOUNT_ID
from emulator.runtime.output import current_scope, emit_line

__all__ = [
    "ACCOUNT_ID",
    "ClientContext",
    "CognitoIdentity",
    "LambdaContext",
    "ManagementCallbacks",
    "context_class",
]


class ManagementCallbacks(Protocol):
    """The @connections operations offered to handlers on their context."""

    def post_to_connection(self, connection_id: str, data: bytes | str) -> None: ...

    def get_connection(self, connection_id: str) -> dict[str, Any]: ...

    def delete_connection(self, connection_id: str) -> None: ...


class CognitoIdentity:
    """``context.identity``: always there, ``None`` fields without a Cognito caller."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """``context.client_context.client``: the mobile client that invoked."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.installation_id = fields.get("installation_id")
        self.app_title = fields.get("app_title")
        self.app_version_name = fields.get("app_version_name")
        self.app_version_code = fields.get("app_version_code")
        self.app_package_name = fields.get("app_package_name")


class ClientContext:
    """``context.client_context``: from the Invoke API's ``ClientContext`` (spec §3.2)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, document: Mapping[str, Any]) -> None:
        client = document.get("client")
        self.client = Client(client) if isinstance(client, Mapping) else None
        self.custom = document.get("custom")
        self.env = document.get("env")


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
        qualifier: str | None = None,
        client_context: ClientContext | None = None,
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        # AWS: the ARN the caller used, qualifier included (spec §3.2).
        self.invoked_function_arn = f"{arn}:{qualifier}" if qualifier else arn
        # The Python runtime reads this from the environment: a string.
        self.memory_limit_in_mb = str(memory_size)
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = CognitoIdentity()
        self.client_context = client_context
        self.tenant_id: str | None = None
        self._deadline = deadline
        self.post_to_connection = callbacks.post_to_connection
        self.get_connection = callbacks.get_connection
        self.delete_connection = callbacks.delete_connection

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's timeout, never below 0."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, message: object) -> None:
        """Write ``message`` to the function's log as given: no prefix, no newline added."""
        scope = current_scope.get()
        if scope is not None:
            emit_line(scope, "stdout", str(message))

    def __repr__(self) -> str:
        return (
            "LambdaContext(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


# Called with a request id, a deadline, a qualifier and a client context.
ContextFactory = Callable[[str, float, str | None, ClientContext | None], LambdaContext]


def context_class(name: str, base: LambdaContext) -> ContextFactory:
    """A subclass for function ``name`` whose class attributes are ``base``'s public ones."""
    return type(
        f"LambdaContext_{name}",
        (LambdaContext,),
        {
            "__init__": _context_init,
            "__slots__": (),
            "_arn": base.invoked_function_arn,
            **{key: value for key, value in vars(base).items() if not key.startswith("_")},
        },
    )


def _context_init(
    self: LambdaContext,
    request_id: str,
    deadline: float,
    qualifier: str | None = None,
    client_context: ClientContext | None = None,
) -> None:
    self.aws_request_id = request_id
    self._deadline = deadline
    if qualifier:
        self.invoked_function_arn = f"{self._arn}:{qualifier}"  # type: ignore[attr-defined]
    if client_context is not None:
        self.client_context = client_context
