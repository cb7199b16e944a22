"""Lambda-style handlers for the benchmark's emulator servers.

The module name is unique to the benchmark so that it never shadows a
project handler on ``sys.path`` (the emulator puts this folder there).
Each handler does the least its scenario needs, so that what is measured is
the emulator's cost of routing, invoking and posting, not the handler's.
"""

from __future__ import annotations

import threading
from typing import Any

from emulator.errors import GoneError

OK = {"statusCode": 200}


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Two-way route: the body comes back as the route response."""
    return {"statusCode": 200, "body": event["body"]}


async def echo_async(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["body"]}


def post_callback(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One-way route: the body comes back through the context's PostToConnection."""
    context.post_to_connection(event["requestContext"]["connectionId"], event["body"])
    return OK


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _management_client(event: dict[str, Any]) -> Any:
    """One boto3 client per endpoint, as a Lambda would keep it between invocations."""
    request_context = event["requestContext"]
    endpoint = f"https://{request_context['domainName']}/{request_context['stage']}"
    client = _clients.get(endpoint)
    if client is None:
        with _clients_lock:  # creating clients from one session is not thread-safe
            client = _clients.get(endpoint)
            if client is None:
                import boto3  # only the boto3 scenario pays for the import

                client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
                _clients[endpoint] = client
    return client


def post_boto3(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One-way route: the body comes back through an unchanged boto3 client."""
    client = _management_client(event)
    client.post_to_connection(
        ConnectionId=event["requestContext"]["connectionId"], Data=event["body"].encode("utf-8")
    )
    return OK


# The open connections, as a Lambda would keep them in a table: filled by
# $connect, emptied by $disconnect (a dict used as an insertion-ordered set).
connected: dict[str, None] = {}


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connected[event["requestContext"]["connectionId"]] = None
    return OK


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connected.pop(event["requestContext"]["connectionId"], None)
    return OK


def broadcast(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Post the message to every connection $connect recorded."""
    body = event["body"]
    post = context.post_to_connection
    for connection_id in list(connected):
        try:
            post(connection_id, body)
        except GoneError:
            connected.pop(connection_id, None)
    return OK


async def broadcast_async(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return broadcast(event, context)
