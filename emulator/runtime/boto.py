"""In-process routing of botocore's calls to running emulators.

Handler code written for AWS builds
``boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{domain}/{stage}")``
from its event. A ``before-send`` hook (botocore's documented extension point)
answers those requests in-process when their host belongs to a running
emulator, so no network and no TLS are involved and the code runs unchanged
(spec §4.3); successful posts and deletes are answered earlier still, at
``before-call``. A call to an ``execute-api`` host that is no emulator's (a
hard-coded API id) is refused in-process with an error that says so: it is
never sent to AWS.

``lambda.invoke`` from a function is answered by the Lambda API of the
emulator the function runs in (:mod:`.lambda_service`), whatever the
endpoint, and so is a call to an emulator's own host.

Every other call from a function goes through one more ``before-send``
hook, after those (botocore calls the handlers of the most specific event
first), so the emulator's own @connections and Lambda routing keep
precedence: with ``--mock-aws`` the API's mocked services answer it
in-process (:mod:`.mock_aws`); otherwise a call that would reach a real AWS
endpoint signed with the emulator's placeholder credentials is refused with
:class:`~emulator.errors.AwsCallRefused`, which says why and what to do (and
is logged once per service). Calls to other hosts (a local DynamoDB, an
``AWS_ENDPOINT_URL_<SERVICE>``) and calls signed with the shell's own
credentials (``--shell-credentials``) go out as usual.

Besides this hook, only botocore's SigV4 signer is used, by :mod:`emulator.gateway.access.sigv4`
and :mod:`emulator.gateway.integrations.aws`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from emulator.errors import AwsCallRefused
from emulator.model.resources import endpoint_variable
from emulator.runtime.logroot import outside
from emulator.runtime.sandbox import CREDENTIALS, LambdaApi, current_aws, current_lambda_api
from emulator.wire.messages import HttpResponse

if TYPE_CHECKING:
    from botocore.awsrequest import AWSResponse

__all__ = ["ManagementTarget", "install", "mark_answered", "register", "unregister"]

logger = logging.getLogger("emulator")

_EVENT = "before-send.apigatewaymanagementapi"
_LAMBDA_EVENT = "before-send.lambda.Invoke"
_AWS_EVENT = "before-send"  # every service: the mocked services, or the refusal
_ANSWERED = "apigw_ws_answered"  # in a request's context: a handler answered it
# AWS's API hosts: {api-id}.execute-api.{region}.amazonaws.com (and .com.cn).
_EXECUTE_API = re.compile(r"[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?(:\d+)?")
# AWS's endpoints (botocore's endpoint rules): *.amazonaws.com(.cn), *.api.aws, *.on.aws.
_AWS_HOST = re.compile(r"(.+\.)?(amazonaws\.com(\.cn)?|api\.aws|on\.aws)\.?")
_PLACEHOLDER_KEY = CREDENTIALS["AWS_ACCESS_KEY_ID"]
_PLACEHOLDER_TOKEN = CREDENTIALS["AWS_SESSION_TOKEN"]


class ManagementTarget(Protocol):
    def handle_management(self, method: str, target: str, body: bytes) -> HttpResponse: ...


class _Body(io.BytesIO):
    """The raw stream botocore reads a response body from: whole (``stream``),
    or read from as a file by a ``StreamingBody`` (an Invoke ``Payload``)."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


_targets: dict[str, ManagementTarget] = {}
_lambda_hosts: dict[str, LambdaApi] = {}
_refused: set[str] = set()  # execute-api hosts refused already (logged once each)
_refused_services: set[str] = set()  # services whose calls to AWS were refused (logged once)
_lock = threading.Lock()


def _response(url: str, answer: HttpResponse) -> AWSResponse:
    from botocore.awsrequest import AWSResponse, HTTPHeaders  # loaded by now: botocore calls us

    headers = HTTPHeaders()
    for name, value in answer.headers:
        headers[name] = value
    return AWSResponse(url, answer.status, headers, _Body(answer.body))


def mark_answered(request: Any) -> None:
    """Say that a ``before-send`` handler answered ``request``: botocore calls every
    handler, and the refusal of calls to AWS must not refuse an answered one."""
    if isinstance(request.context, dict):
        request.context[_ANSWERED] = True


def _answered(request: Any) -> bool:
    return isinstance(request.context, dict) and bool(request.context.get(_ANSWERED))


def _before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
    split = urlsplit(request.url)
    host = split.netloc.lower()
    target = _targets.get(host)
    if target is None:
        if _targets and _EXECUTE_API.fullmatch(host):
            mark_answered(request)
            return _response(request.url, _not_served(host))
        return None
    path = split.path + (f"?{split.query}" if split.query else "")
    answer = target.handle_management(request.method, path, _body(request))
    mark_answered(request)
    return _response(request.url, answer)


def _body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if not isinstance(body, bytes):
        return bytes(body.read())
    return body


def _not_served(host: str) -> HttpResponse:
    """A 403 for an ``execute-api`` host that is none of the running emulators' APIs."""
    served = sorted({h.split(".", 1)[0] for h in _targets if ".execute-api." in h})
    message = (
        f"apigw-ws: {host!r} is not an API of this emulator, which serves API id"
        f" {', '.join(repr(api) for api in served)}: the call was not sent to AWS"
    )
    if host not in _refused:
        _refused.add(host)
        with outside():
            logger.warning("%s (build the endpoint from the event's domainName and stage)", message)
    body = json.dumps({"message": message}).encode()
    return HttpResponse(
        403,
        (("Content-Type", "application/json"), ("x-amzn-ErrorType", "ForbiddenException")),
        body,
    )


def _aws_before_send(request: Any, event_name: str = "", **kwargs: Any) -> AWSResponse | None:
    """Any other call: the mocked services of the function's API, or the refusal
    of a call to AWS signed with the placeholder credentials."""
    if _answered(request):  # by a more specific handler (botocore calls them first)
        return None
    access = current_aws.get()
    if access is not None and access.services is not None:
        answer: AWSResponse | None = access.services.answer(request, event_name)
        if answer is not None:
            return answer
    split = urlsplit(request.url)
    if (
        _AWS_HOST.fullmatch(split.hostname or "")
        and _placeholder_signed(request)
        and not _moto_mocks_everything()
    ):
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else split.hostname
        raise _refusal(str(service), f"{split.scheme}://{split.netloc}")
    return None


def _moto_mocks_everything() -> bool:
    """Whether a test runs moto's own ``mock_aws`` around the emulator: then moto's
    handler, after this one, answers the call."""
    models = sys.modules.get("moto.core.models")
    return bool(models is not None and getattr(models.botocore_stubber, "enabled", False))


def _placeholder_signed(request: Any) -> bool:
    headers = request.headers
    authorization = _text(headers.get("Authorization") or b"")
    if f"Credential={_PLACEHOLDER_KEY}/" in authorization:
        return True
    if _text(headers.get("X-Amz-Security-Token") or b"") == _PLACEHOLDER_TOKEN:
        return True
    return f"X-Amz-Credential={_PLACEHOLDER_KEY}" in request.url  # a presigned URL


def _refusal(service: str, endpoint: str) -> AwsCallRefused:
    variable = endpoint_variable(service)
    message = (
        f"apigw-ws: a {service} call to {endpoint} was not sent: it would reach AWS"
        " with the emulator's placeholder credentials. Run the service locally with"
        " `apigw-ws serve --mock-aws` (in-process, moto), or give the SDK a local"
        f" endpoint: {variable}=http://127.0.0.1:PORT in the shell, or"
        f" awsEndpoints: {{{service}: http://127.0.0.1:PORT}} in routes.yaml"
    )
    with _lock:
        first = service not in _refused_services
        _refused_services.add(service)
    if first:
        with outside():
            logger.warning(
                "%s (to use AWS itself with your shell's credentials: serve --shell-credentials)",
                message,
            )
    return AwsCallRefused(service, endpoint, message)


def _lambda_before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
    """``lambda.Invoke``: the Lambda API of the function's emulator, or of the host's."""
    split = urlsplit(request.url)
    api = _lambda_hosts.get(split.netloc.lower()) or current_lambda_api.get()
    if api is None:
        return None
    target = split.path + (f"?{split.query}" if split.query else "")
    headers = [(str(name), _text(value)) for name, value in request.headers.items()]
    answer = api.call(target, headers, _body(request))
    mark_answered(request)
    return _response(request.url, answer)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _before_call(params: Any, **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """Answer a successful PostToConnection or DeleteConnection before botocore
    signs and sends it: that work is most of a boto3 call's cost, and nothing
    of it can be observed for an in-process answer.

    An error is not answered here: the call then takes botocore's whole path
    (signing, before-send, parsing, retries), so that boto3 retries a 429 and
    raises the modelled exception exactly as it would against AWS.
    """
    split = urlsplit(params["url"])
    target = _targets.get(split.netloc.lower())
    if target is None:
        return None
    path = split.path + (f"?{split.query}" if split.query else "")
    body = params.get("body") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        return None  # a stream: leave it to the whole path
    answer = target.handle_management(params["method"], path, body)
    if answer.status >= 300:
        return None
    metadata = {
        "RequestId": dict(answer.headers).get("x-amzn-RequestId", ""),
        "HTTPStatusCode": answer.status,
        "HTTPHeaders": {name.lower(): value for name, value in answer.headers},
        "RetryAttempts": 0,
    }
    return _response(params["url"], answer), {"ResponseMetadata": metadata}


# Operations answered at before-call; GetConnection's datetimes are left to
# botocore's own parser, so that they are exactly what boto3 returns.
_FAST = ("PostToConnection", "DeleteConnection")


def _add_builtin_handlers(handlers_module: Any) -> None:
    # Every botocore session created from now on (boto3's default one included).
    if getattr(handlers_module, "_apigw_ws_hooked", False):
        return
    handlers_module._apigw_ws_hooked = True
    # First of every service's handlers: before moto's own, should a test use it too.
    handlers_module.BUILTIN_HANDLERS.insert(0, (_AWS_EVENT, _aws_before_send))
    handlers_module.BUILTIN_HANDLERS.append((_EVENT, _before_send))
    handlers_module.BUILTIN_HANDLERS.append((_LAMBDA_EVENT, _lambda_before_send))
    for operation in _FAST:
        handlers_module.BUILTIN_HANDLERS.append(
            (f"before-call.apigatewaymanagementapi.{operation}", _before_call)
        )


class _WhenBotocoreLoads(importlib.abc.MetaPathFinder):
    """Adds the hooks the moment ``botocore.handlers`` is imported.

    botocore takes a tenth of a second to import: an emulator whose handlers
    have not imported it yet does not pay for it at start-up, and no botocore
    session can exist before that module does.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "botocore.handlers":
            return None
        sys.meta_path.remove(self)  # once; and not asked again by the find below
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:  # pragma: no cover - botocore is a dependency
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            _add_builtin_handlers(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Hook every botocore session, including ones that already exist.

    Idempotent, and again if botocore was imported anew (code that empties
    ``sys.modules``): the hooks belong to the ``botocore.handlers`` module.
    """
    with _lock:
        handlers_module = sys.modules.get("botocore.handlers")
        if handlers_module is None:
            if not any(isinstance(finder, _WhenBotocoreLoads) for finder in sys.meta_path):
                sys.meta_path.insert(0, _WhenBotocoreLoads())
            return
        if getattr(handlers_module, "_apigw_ws_hooked", False):
            return
        _add_builtin_handlers(handlers_module)
        # boto3's default session, if it was created before us.
        try:
            import boto3
        except ImportError:  # pragma: no cover - boto3 is a dependency
            return
        if boto3.DEFAULT_SESSION is not None:
            session = boto3.DEFAULT_SESSION._session
            # The stubs type handlers as returning None; botocore uses what they return.
            emitter = session.get_component("event_emitter")
            emitter.register_first(_AWS_EVENT, _aws_before_send)
            session.register(_EVENT, _before_send)  # type: ignore[arg-type]
            session.register(_LAMBDA_EVENT, _lambda_before_send)  # type: ignore[arg-type]
            for operation in _FAST:
                session.register(
                    f"before-call.apigatewaymanagementapi.{operation}",
                    _before_call,  # type: ignore[arg-type]
                )


def register(
    target: ManagementTarget, hosts: Iterable[str], lambda_api: LambdaApi | None = None
) -> None:
    """Answer @connections calls to ``hosts`` with ``target`` (and Lambda's
    Invoke with ``lambda_api``) in-process."""
    install()
    with _lock:
        _refused.clear()  # an emulator started: its log says each refusal once
        _refused_services.clear()
        for host in hosts:
            _targets[host.lower()] = target
            if lambda_api is not None:
                _lambda_hosts[host.lower()] = lambda_api


def unregister(target: ManagementTarget) -> None:
    with _lock:
        for host in [h for h, t in _targets.items() if t is target]:
            del _targets[host]
            _lambda_hosts.pop(host, None)
