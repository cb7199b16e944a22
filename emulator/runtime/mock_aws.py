"""The AWS services an API's handlers call, in-process: moto (``serve --mock-aws``).

The only module that imports moto (the ``aws`` extra). :class:`MockedAws`
answers a function's botocore calls with moto's backends, called through
moto's own botocore stubber, from the ``before-send`` hook of
:mod:`.boto` (which gives the emulator's @connections and Lambda routing
precedence): no server, no port, no network, whatever the client was created
with, at import or per invocation. Only calls to AWS's own endpoints are
answered; one to a local endpoint (``AWS_ENDPOINT_URL_DYNAMODB``) goes there.

Every call is made in the emulator's account (000000000000, moto's
``x-moto-account-id``), so ARNs and queue URLs are the ones the functions'
variables hold. moto is not made for concurrent calls (a scan while an item
is put), and handlers run on threads: calls are answered one at a time,
except SQS's ReceiveMessage, which may wait for a message another call sends.

moto keeps its data per process. The first :class:`MockedAws` of a process
(or the first after all were closed) starts from empty data, as a new
deployment would; :meth:`declare` then creates the API's resources, those
missing only, so that a reload keeps the data (:mod:`.aws_state` saves and
restores it across restarts).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import BotoCoreError, ClientError
from moto.core.base_backend import BackendDict
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from emulator.errors import AwsCallRefused, ConfigError
from emulator.model.resources import ACCOUNT_ID, AwsResource, ResourceType, endpoint_variable
from emulator.runtime.aws_requests import creation
from emulator.runtime.boto import mark_answered
from emulator.runtime.sandbox import CREDENTIALS

__all__ = ["MockedAws"]

logger = logging.getLogger("emulator")

_stubber = BotocoreStubber()  # moto's answer to a botocore request, called directly
_calls = threading.RLock()  # one call at a time (see the module's docstring)
_users = 0
_users_lock = threading.Lock()
# Operations that may wait for another call: never under the lock.
_WAITING = frozenset({"sqs.ReceiveMessage"})
# Operations that change nothing: no refresh of the pages that show the data.
_READS = ("Get", "List", "Describe", "Scan", "Query", "BatchGet", "Head")
# Created first, in this order: what others may name (a queue a topic delivers to).
_ORDER = (
    ResourceType.TABLE,
    ResourceType.SIMPLE_TABLE,
    ResourceType.BUCKET,
    ResourceType.QUEUE,
    ResourceType.TOPIC,
)


class MockedAws:
    """One emulator's AWS services: answers its functions' calls, creates its resources.

    ``region`` is the region the API is served in (the resources'). Call
    :meth:`close` when the emulator stops. ``listeners`` are called (from the
    calling thread) after each call that may have changed something.
    """

    def __init__(self, region: str) -> None:
        global _users
        self.region = region
        self.listeners: list[Callable[[], None]] = []
        self.regions: set[str] = {region}  # every region a call named
        self._closed = False
        with _users_lock:
            # Whether it starts from empty data: no other emulator of the process uses it.
            self.fresh = _users == 0
            if self.fresh:
                _reset_account()
            _users += 1
        self._session: Any = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    # Answering calls

    def answer(self, request: Any, event_name: str) -> AWSResponse | None:
        """moto's answer to a botocore request for an AWS endpoint; None for another host."""
        split = urlsplit(request.url)
        host = split.hostname or ""
        if not (host.endswith(".amazonaws.com") or host == "amazonaws.com"):
            return None
        operation = ".".join(event_name.split(".")[1:3])
        region = _region_of(request)
        if region:
            self.regions.add(region)
        request.headers["x-moto-account-id"] = ACCOUNT_ID
        if operation in _WAITING:
            result = _stubber.process_request(request)
        else:
            with _calls:
                result = _stubber.process_request(request)
        service = operation.split(".")[0] or host.split(".")[0]
        if result is None or (result[0] == 404 and result[2] == "Not yet implemented"):
            raise _not_mocked(service, f"{split.scheme}://{split.netloc}")
        status, headers, body = result
        if not operation.partition(".")[2].startswith(_READS):
            for listener in tuple(self.listeners):
                listener()
        mark_answered(request)
        http_headers = HTTPHeaders()
        for name, value in headers.items():
            http_headers[name] = str(value)
        return AWSResponse(request.url, status, http_headers, MockRawResponse(body))

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client of the mocked ``service``, for the emulator's own calls (and tests)."""
        key = (service, region or self.region)
        with self._clients_lock:  # creating clients from one session is not thread-safe
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(service, region_name=key[1])
                # First: the emulator's own calls come from no function's context.
                client.meta.events.register_first("before-send", self._answer_own)
                self._clients[key] = client
        return client

    def _answer_own(self, request: Any, event_name: str = "", **kwargs: Any) -> AWSResponse | None:
        return self.answer(request, event_name)

    # Resources

    def declare(self, resources: Mapping[str, AwsResource], source: str = "") -> list[str]:
        """Create the resources that do not exist yet; their logical ids.

        Raises :class:`ConfigError` at ``resources.<LogicalId>`` when a service
        refuses one.
        """
        created = []
        ordered = sorted(
            resources.values(),
            key=lambda r: (_ORDER.index(r.type), "RedrivePolicy" in r.properties),
        )
        for resource in ordered:
            properties = resource.resolved_properties(resources, self.region)
            plan = creation(resource, properties, self.region)
            if plan.exists is not None and self._exists(plan.exists):
                continue
            try:
                for call in plan.calls:
                    getattr(self.client(call.service), call.method)(**call.params)
            except (BotoCoreError, ClientError, NotImplementedError, ValueError) as exc:
                problem = f"cannot be created locally: {exc}"
                raise ConfigError(
                    problem, key=f"resources.{resource.logical_id}", source=source
                ) from exc
            created.append(resource.logical_id)
        return created

    def _exists(self, call: Any) -> bool:
        try:
            getattr(self.client(call.service), call.method)(**call.params)
        except ClientError:
            return False
        return True

    def queue_messages(self, region: str, name: str) -> list[dict[str, Any]]:
        """A queue's messages, visible or not, oldest first: no API lists them without
        receiving them (which would change them), so they are read from moto's queue."""
        from moto.sqs.models import sqs_backends

        with _calls:
            queue = sqs_backends[ACCOUNT_ID][region].queues.get(name)
            messages = list(queue._messages) if queue is not None else []
        return [
            {
                "body": message.body,
                "attributes": dict(message.message_attributes),
                "groupId": message.group_id,
                "deduplicationId": message.deduplication_id,
            }
            for message in messages
        ]

    def close(self) -> None:
        """This emulator stopped: the data stays while another one runs."""
        global _users
        if self._closed:
            return
        self._closed = True
        with _users_lock:
            _users -= 1


def _reset_account() -> None:
    """Empty the emulator's account in every moto backend (not other accounts: a
    test's own ``mock_aws`` keeps its data)."""
    with _calls:
        instances: list[Any] = BackendDict._instances  # type: ignore[misc]
        for backends in list(instances):
            if ACCOUNT_ID in dict.keys(backends):
                backends[ACCOUNT_ID].reset()


def _region_of(request: Any) -> str | None:
    """The region of a SigV4 signature's scope: ``Credential=KEY/DATE/REGION/SERVICE/...``."""
    authorization = request.headers.get("Authorization") or b""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    _, found, rest = authorization.partition("Credential=")
    parts = rest.split("/")
    return parts[2] if found and len(parts) > 3 else None


def _not_mocked(service: str, endpoint: str) -> AwsCallRefused:
    variable = endpoint_variable(service)
    message = (
        f"apigw-ws: a {service} call to {endpoint} was not sent: --mock-aws has no {service}"
        f" (moto does not implement it). Give the SDK a local endpoint: {variable}="
        f"http://127.0.0.1:PORT in the shell, or awsEndpoints: {{{service}: http://127.0.0.1:PORT}}"
        " in routes.yaml"
    )
    return AwsCallRefused(service, endpoint, message)
