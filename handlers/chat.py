"""The chat application of API Gateway's WebSocket tutorial, as Python Lambdas.

Deployable as it is: it talks to the @connections API with boto3, built from
the event the way AWS's samples do, and imports nothing from the emulator.

Routes: ``$connect`` (optionally ``?name=alice``), ``sendmessage`` with
``{"action": "sendmessage", "data": "hello"}``, ``$disconnect``, ``$default``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3

from handlers.store import store_from_environment

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _management_client(event: dict[str, Any]) -> Any:
    """One client per endpoint, reused across invocations as on Lambda."""
    context = event["requestContext"]
    endpoint = f"https://{context['domainName']}/{context['stage']}"
    with _clients_lock:  # creating clients from one session is not thread-safe
        client = _clients.get(endpoint)
        if client is None:
            client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
            _clients[endpoint] = client
    return client


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    name = (query.get("name") or "").strip() or None
    store_from_environment().add(event["requestContext"]["connectionId"], name)
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    store_from_environment().remove(event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def send_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    store = store_from_environment()
    sender = event["requestContext"]["connectionId"]
    try:
        data = json.loads(event["body"]).get("data", "")
    except (ValueError, AttributeError):
        return {"statusCode": 400, "body": 'Send {"action": "sendmessage", "data": "..."}'}
    text = data if isinstance(data, str) else json.dumps(data)
    name = store.name_of(sender)
    message = f"{name}: {text}" if name else text
    client = _management_client(event)
    for connection_id in store.connection_ids():
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=message.encode("utf-8"))
        except client.exceptions.GoneException:
            # The tutorial's clean-up: a stale connection is forgotten.
            store.remove(connection_id)
    return {"statusCode": 200}


def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    client = _management_client(event)
    info = client.get_connection(ConnectionId=connection_id)
    info.pop("ResponseMetadata", None)
    details = json.dumps(info, default=str)
    client.post_to_connection(
        ConnectionId=connection_id,
        Data=f"Use the sendmessage route to send a message. Your info: {details}".encode(),
    )
    return {"statusCode": 200}
