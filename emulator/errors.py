"""The emulator's exception tree.

Everything the emulator raises on purpose derives from :class:`EmulatorError`::

    EmulatorError
    ├── ConfigError                  a routes.yaml problem, named by its key
    │   └── SelectionExpressionError an expression that does not compile
    ├── AwsCallRefused               a handler's AWS call that would have gone to AWS
    └── ManagementApiError           an @connections answer other than success
        ├── BadRequestError          400 BadRequestException
        ├── ForbiddenError           403 ForbiddenException
        ├── GoneError                410 GoneException
        ├── PayloadTooLargeError     413 PayloadTooLargeException
        └── LimitExceededError       429 LimitExceededException

Each management error carries its wire identity (``status``, ``aws_type``), so
the HTTP endpoint, the botocore interceptor and the Lambda context callbacks
all answer the same way.
"""

from __future__ import annotations

__all__ = [
    "AwsCallRefused",
    "BadRequestError",
    "ConfigError",
    "EmulatorError",
    "ForbiddenError",
    "GoneError",
    "LimitExceededError",
    "ManagementApiError",
    "PayloadTooLargeError",
    "SelectionExpressionError",
]


class EmulatorError(Exception):
    """Base class of every error the emulator raises on purpose."""


class ConfigError(EmulatorError):
    """A configuration problem, reported with where it is and what is wrong.

    ``str(error)`` reads ``routes.yaml: routes.sendmessage.timeout: must be ...``.
    """

    def __init__(self, problem: str, *, key: str = "", source: str = "") -> None:
        self.problem = problem
        self.key = key
        self.source = source
        super().__init__(problem)

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.key, self.problem) if part)

    def at(self, key: str, source: str = "") -> ConfigError:
        """Return a copy located at ``key`` (prefixed to any key it already has)."""
        inner = f"{key}.{self.key}" if key and self.key else key or self.key
        located = type(self)(self.problem, key=inner, source=source or self.source)
        located.__cause__ = self.__cause__
        return located


class SelectionExpressionError(ConfigError):
    """A selection expression that cannot be compiled."""


class AwsCallRefused(EmulatorError):
    """An AWS SDK call from a handler that would reach a real AWS endpoint with
    the emulator's placeholder credentials: it is never sent.

    Raised from inside botocore (its ``before-send`` event), so the handler's
    call raises it, as it would raise ``NoCredentialsError``. ``service`` is
    the SDK's name of the service (``dynamodb``), ``endpoint`` the URL it would
    have gone to.
    """

    def __init__(self, service: str, endpoint: str, message: str) -> None:
        self.service = service
        self.endpoint = endpoint
        super().__init__(message)


class ManagementApiError(EmulatorError):
    """An answer of the @connections API other than success."""

    status: int = 500
    aws_type: str = "InternalServerErrorException"

    def __init__(self, message: str | None = None) -> None:
        self.message = message
        super().__init__(message or self.aws_type)


class BadRequestError(ManagementApiError):
    """A malformed connection id or request (not in the SDK model, seen on AWS)."""

    status = 400
    aws_type = "BadRequestException"


class ForbiddenError(ManagementApiError):
    """A path that names no operation of this API (wrong stage, wrong method)."""

    status = 403
    aws_type = "ForbiddenException"


class GoneError(ManagementApiError):
    """The connection does not exist, no longer exists, or is not open yet."""

    status = 410
    aws_type = "GoneException"


class PayloadTooLargeError(ManagementApiError):
    """PostToConnection data over 128 KB."""

    status = 413
    aws_type = "PayloadTooLargeException"


class LimitExceededError(ManagementApiError):
    """Too many requests, or the client's buffer is full."""

    status = 429
    aws_type = "LimitExceededException"
