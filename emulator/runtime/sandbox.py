"""A function's execution environment, as its code sees it (lambda-runtime-spec §1, §2).

On Lambda each function runs in an environment of its own: its variables in
``os.environ`` (those it is configured with, and those Lambda sets: region,
name, memory, log group and stream, credentials...), its root logger, its
log stream. Here functions share a process, so a :class:`Sandbox` holds what
would be the environment's and :meth:`Sandbox.context` makes it current in a
context (:mod:`.environ`, :mod:`.logroot`): everything the function runs,
its init included, runs in such a context, and so do threads it starts.

Functions that share a code folder, a configured environment and a logging
configuration share one set of modules, imported once (:mod:`.loader`), and
so one root logger: the state a module builds at import is the environment's.
"""

from __future__ import annotations

import contextvars
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from emulator.clock import new_uuid
from emulator.model.function import FunctionConfig, LogFormat
from emulator.model.resources import AwsResource, endpoint_variable, resolve_variables
from emulator.runtime.environ import Overlay, use_overlay
from emulator.runtime.environ import install as install_environ
from emulator.runtime.lambda_logs import plain_text_shown, root_state
from emulator.runtime.logroot import RootState, use_root
from emulator.runtime.logroot import install as install_logroot
from emulator.runtime.output import InvocationScope, current_scope
from emulator.wire.messages import HttpResponse

__all__ = [
    "CREDENTIALS",
    "INIT_TIMEOUT",
    "AwsAccess",
    "Imported",
    "LambdaApi",
    "MockedServices",
    "Sandbox",
    "current_aws",
    "current_lambda_api",
    "lambda_variables",
    "new_log_stream",
]

# AWS: Init (the import of the handler's module) is limited to 10 s (spec §2.3).
INIT_TIMEOUT = 10.0
# The execution role's credentials: placeholders unless the user asks for the shell's
# (`serve --shell-credentials`). A call signed with them never goes to AWS (:mod:`.boto`).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAEMULATOREXAMPLE0",
    "AWS_SECRET_ACCESS_KEY": "emulator/secret/access/key/example000000",
    "AWS_SESSION_TOKEN": "emulator-session-token",
}


class LambdaApi(Protocol):
    """The Lambda Invoke API of the emulator a function runs in (:mod:`.lambda_service`)."""

    def call(self, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> HttpResponse:
        """Answer one Invoke request, from any thread."""
        ...


# Context variables, and the values modules' inits set them to.
Imported = Mapping[contextvars.ContextVar[Any], Any]

# The Lambda API that code running in a sandbox reaches (botocore calls, :mod:`.boto`).
current_lambda_api: contextvars.ContextVar[LambdaApi | None] = contextvars.ContextVar(
    "emulator_lambda_api", default=None
)


class MockedServices(Protocol):
    """An API's AWS services answered in-process (``--mock-aws``, :mod:`.mock_aws`)."""

    def answer(self, request: Any, event_name: str) -> Any:
        """botocore's response to ``request``, or None for a host that is no AWS endpoint."""
        ...


_NO_RESOURCES: Mapping[str, AwsResource] = MappingProxyType({})
_NO_ENDPOINTS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class AwsAccess:
    """How a function's AWS SDK calls are answered, and what its environment says of AWS.

    ``services``: the API's mocked services (then the variables that name
    ``resources`` are set); ``shell_credentials``: the shell's credentials
    instead of placeholders, for calls that go to AWS itself; ``endpoints``:
    routes.yaml's ``awsEndpoints``, given to the SDK as ``AWS_ENDPOINT_URL_<SERVICE>``.
    """

    services: MockedServices | None = None
    shell_credentials: bool = False
    resources: Mapping[str, AwsResource] = field(default_factory=lambda: _NO_RESOURCES)
    endpoints: Mapping[str, str] = field(default_factory=lambda: _NO_ENDPOINTS)


# How calls from code running in a sandbox are answered (:mod:`.boto`).
current_aws: contextvars.ContextVar[AwsAccess | None] = contextvars.ContextVar(
    "emulator_aws", default=None
)


def _decimal_variable() -> contextvars.ContextVar[Any] | None:
    """decimal's own context variable, once decimal is imported (else None)."""
    decimal = sys.modules.get("decimal")
    if decimal is None:
        return None
    probe = contextvars.Context()
    probe.run(decimal.getcontext)
    return next(iter(probe))


def new_log_stream() -> str:
    """``2025/12/28/[$LATEST]b33e12be6c054d53918d3142fbea7cef`` (spec §1.1)."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{new_uuid().replace('-', '')}"


def lambda_variables(
    function: FunctionConfig,
    *,
    region: str,
    log_stream: str,
    task_root: Path,
    aws: AwsAccess | None = None,
) -> dict[str, str]:
    """What the function finds in ``os.environ``: its configuration's variables,
    and over them the ones Lambda sets (spec §1.1). PATH, LANG and the like
    stay the shell's: the function runs on this machine, not in /var/task.

    A variable that names a resource (``!Ref ConnectionsTable``) has the
    resource's name when the resources exist (``aws.services``), and is not
    set otherwise. ``awsEndpoints`` come first, as ``AWS_ENDPOINT_URL_<SERVICE>``.
    """
    aws = aws or AwsAccess()
    name = function.name
    endpoints = {endpoint_variable(service): url for service, url in aws.endpoints.items()}
    provided = aws.resources if aws.services is not None else None
    variables = {
        **endpoints,
        **resolve_variables(function.environment, provided, region),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **({} if aws.shell_credentials else CREDENTIALS),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        # The Python that runs it: this one.
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "_HANDLER": function.handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": os.path.dirname(os.__file__),
        "TZ": ":UTC",
    }
    logging_config = function.logging
    if logging_config != type(logging_config)():
        variables["AWS_LAMBDA_LOG_FORMAT"] = logging_config.log_format.value
        if logging_config.log_format is LogFormat.JSON:
            # As SAM sets it: only with JSON, INFO unless configured (spec §1.1).
            variables["AWS_LAMBDA_LOG_LEVEL"] = logging_config.application_log_level or "INFO"
    return variables


class Sandbox:
    """One function's execution environment: variables, root logger, log stream.

    ``root`` is shared with the functions whose modules this one shares (see
    the module's docstring); ``init_duration_ms`` is the shared init's.
    """

    __slots__ = (
        "_environment",
        "aws",
        "cold",
        "function",
        "init_duration_ms",
        "lambda_api",
        "log_stream",
        "overlay",
        "plain_text",
        "root",
    )

    def __init__(
        self,
        function: FunctionConfig,
        *,
        region: str,
        task_root: Path,
        root: RootState | None = None,
        lambda_api: LambdaApi | None = None,
        aws: AwsAccess | None = None,
    ) -> None:
        # What makes `enter` take effect: without them os.environ and the root
        # logger stay the process's (an init before any Invoker, as `check` runs it).
        install_environ()
        install_logroot()
        self.function = function
        self.lambda_api = lambda_api
        self.aws = aws or AwsAccess()
        self.log_stream = new_log_stream()
        variables = lambda_variables(
            function, region=region, log_stream=self.log_stream, task_root=task_root, aws=self.aws
        )
        # A configured variable left unset (it names a resource nothing creates) is
        # unset for the function, even if the shell has one of that name.
        self.overlay = Overlay(variables, unset=function.environment.keys() - variables.keys())
        self.root = root if root is not None else root_state(function.logging)
        self.plain_text = plain_text_shown(function.logging)
        self.init_duration_ms: float | None = None
        self.cold = True  # the next invocation is the first after init
        # The environment made current once, in a context of its own: each run
        # takes a copy (constant time) and sets only its scope.
        self._environment = contextvars.Context()
        self._environment.run(self._enter)

    def scope(self, request_id: str, route_key: str = "") -> InvocationScope:
        """A new invocation's scope (``request_id`` empty: the init's)."""
        return InvocationScope(
            self.function.name, request_id, route_key, plain_text=self.plain_text
        )

    def context(self, scope: InvocationScope) -> contextvars.Context:
        """A context in which this environment, and ``scope``, are current: what
        an invocation or the init runs in (``context.run``), a constant-time
        copy of the environment's (:meth:`start_from`)."""
        context = self._environment.copy()
        context.run(current_scope.set, scope)
        return context

    def start_from(self, caller: contextvars.Context, imported: Imported) -> None:
        """Run from now on in ``caller`` (the context the functions were loaded
        from: a module the test imported itself set its variables there), with
        what its modules' inits set (``imported``) over it, and this
        environment's own variables over both. On Lambda the handler runs in
        the thread, and so the context, that imported its module.

        Not decimal's context (its precision and rounding): a mutable object
        each thread has its own of. Here invocations run at once, so each makes
        its own on first use, as a new thread does.
        """
        environment = contextvars.Context()
        environment.run(self._start, caller, imported)
        self._environment = environment

    def _start(self, caller: contextvars.Context, imported: Imported) -> None:
        decimal_context = _decimal_variable()
        for variable, value in (*caller.items(), *imported.items()):
            if variable is not decimal_context:
                variable.set(value)
        self._enter()

    def _enter(self) -> None:
        use_overlay(self.overlay)
        use_root(self.root)
        current_lambda_api.set(self.lambda_api)
        current_aws.set(self.aws)
