"""Where the chat application keeps its connections.

In the DynamoDB table ``TABLE_NAME`` names (on AWS, and locally with
``apigw-ws serve --mock-aws``); without the variable, in memory, shared by
every route of the emulator.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol


class ConnectionStore(Protocol):
    def add(self, connection_id: str, name: str | None) -> None: ...

    def remove(self, connection_id: str) -> None: ...

    def name_of(self, connection_id: str) -> str | None: ...

    def connection_ids(self) -> list[str]: ...


class MemoryStore:
    """A dict behind a lock: handlers run concurrently."""

    def __init__(self) -> None:
        self._names: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def add(self, connection_id: str, name: str | None) -> None:
        with self._lock:
            self._names[connection_id] = name

    def remove(self, connection_id: str) -> None:
        with self._lock:
            self._names.pop(connection_id, None)

    def name_of(self, connection_id: str) -> str | None:
        with self._lock:
            return self._names.get(connection_id)

    def connection_ids(self) -> list[str]:
        with self._lock:
            return list(self._names)


class DynamoDBStore:
    """The tutorial's table: partition key ``connectionId``."""

    def __init__(self, table_name: str) -> None:
        import boto3

        self._table: Any = boto3.resource("dynamodb").Table(table_name)

    def add(self, connection_id: str, name: str | None) -> None:
        item = {"connectionId": connection_id}
        if name:
            item["name"] = name
        self._table.put_item(Item=item)

    def remove(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connectionId": connection_id})

    def name_of(self, connection_id: str) -> str | None:
        item = self._table.get_item(Key={"connectionId": connection_id}).get("Item") or {}
        name = item.get("name")
        return str(name) if name else None

    def connection_ids(self) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {"ProjectionExpression": "connectionId"}
        while True:
            page = self._table.scan(**kwargs)
            ids.extend(str(item["connectionId"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_memory = MemoryStore()
# One store per table, reused across invocations as on Lambda.
_tables: dict[str, DynamoDBStore] = {}
_tables_lock = threading.Lock()  # creating boto3 resources from one session is not thread-safe


def store_from_environment() -> ConnectionStore:
    table = os.environ.get("TABLE_NAME")
    if not table:
        return _memory
    with _tables_lock:
        store = _tables.get(table)
        if store is None:
            store = _tables[table] = DynamoDBStore(table)
    return store
