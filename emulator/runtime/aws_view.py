"""The mocked services' data as the pages show it: tables and items, queues, buckets.

:func:`view` is what the inspector shows and ``apigw-ws state`` prints: each
table's key and items (plain JSON, as boto3's resource API returns them),
each queue's messages, each bucket's keys, each topic, at most ``limit`` of
each. It reads through the services' own APIs (a scan, a listing), and the
queued messages from moto's queues, which no API lists without receiving
them. The listings and conversions here serve :mod:`.aws_state` too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from emulator.runtime.mock_aws import MockedAws

__all__ = [
    "binary",
    "json_value",
    "list_buckets",
    "list_queues",
    "list_tables",
    "list_topics",
    "plain",
    "scan",
    "table_items",
    "view",
]

_deserializer = TypeDeserializer()


def view(aws: MockedAws, limit: int = 100) -> dict[str, Any]:
    """The data, for a page or a terminal: JSON-ready, at most ``limit`` items a table."""
    tables = []
    for region, name in list_tables(aws):
        client = aws.client("dynamodb", region)
        described = client.describe_table(TableName=name)["Table"]
        items = [plain(item) for item in scan(client, name, limit)]
        tables.append(
            {
                "region": region,
                "name": name,
                "key": [key["AttributeName"] for key in described["KeySchema"]],
                "count": _count(client, name) if len(items) >= limit else len(items),
                "items": items,
            }
        )
    queues = [
        {
            "region": region,
            "name": name,
            "messages": [message["body"] for message in aws.queue_messages(region, name)][:limit],
        }
        for region, name in list_queues(aws)
    ]
    topics = [{"region": region, "name": arn.rsplit(":", 1)[1]} for region, arn in list_topics(aws)]
    buckets = [
        {"name": name, "objects": [{"key": o["Key"], "size": o["Size"]} for o in objects][:limit]}
        for name, _, objects in list_buckets(aws)
    ]
    return {"tables": tables, "queues": queues, "topics": topics, "buckets": buckets}


def table_items(aws: MockedAws, name: str, region: str | None = None) -> list[dict[str, Any]]:
    """Every item of a table, plain (:func:`view`'s form)."""
    client = aws.client("dynamodb", region or aws.region)
    return [plain(item) for item in scan(client, name, None)]


def list_tables(aws: MockedAws) -> Iterator[tuple[str, str]]:
    for region in sorted(aws.regions):
        client = aws.client("dynamodb", region)
        for page in client.get_paginator("list_tables").paginate():
            for name in page.get("TableNames", []):
                yield region, name


def list_queues(aws: MockedAws) -> Iterator[tuple[str, str]]:
    for region in sorted(aws.regions):
        for url in aws.client("sqs", region).list_queues().get("QueueUrls", []):
            yield region, url.rsplit("/", 1)[1]


def list_topics(aws: MockedAws) -> Iterator[tuple[str, str]]:
    for region in sorted(aws.regions):
        for page in aws.client("sns", region).get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                yield region, topic["TopicArn"]


def list_buckets(aws: MockedAws) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    client = aws.client("s3")
    for bucket in client.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        try:
            location = client.get_bucket_location(Bucket=name).get("LocationConstraint")
        except ClientError:
            location = None
        objects: list[dict[str, Any]] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            objects.extend(page.get("Contents", []))
        yield name, location or "us-east-1", objects


def scan(client: Any, name: str, limit: int | None) -> Iterator[dict[str, Any]]:
    """A table's items in DynamoDB's typed JSON, at most ``limit``."""
    count = 0
    parameters: dict[str, Any] = {"TableName": name}
    while True:
        page = client.scan(**parameters)
        for item in page.get("Items", []):
            if limit is not None and count >= limit:
                return
            count += 1
            yield item
        if "LastEvaluatedKey" not in page:
            return
        parameters["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _count(client: Any, name: str) -> int:
    parameters: dict[str, Any] = {"TableName": name, "Select": "COUNT"}
    total = 0
    while True:
        page = client.scan(**parameters)
        total += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return total
        parameters["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item as boto3's resource API returns it, in JSON: numbers, strings, lists
    (a set's members sorted, binary as base64)."""
    plain = {key: _deserializer.deserialize(value) for key, value in item.items()}
    converted: dict[str, Any] = json.loads(json.dumps(plain, default=json_value))
    return converted


def binary(value: Any) -> Any:
    """A saved item's binary values (base64 in the file) as bytes again."""
    if isinstance(value, dict):
        if set(value) == {"B"} and isinstance(value["B"], str):
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"} and isinstance(value["BS"], list):
            return {"BS": [base64.b64decode(member) for member in value["BS"]]}
        return {key: binary(member) for key, member in value.items()}
    if isinstance(value, list):
        return [binary(member) for member in value]
    return value


def json_value(value: object) -> object:
    """JSON for what ``json`` cannot write: DynamoDB's numbers, a set's members."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(getattr(value, "value", None), bytes):  # boto3's Binary
        return base64.b64encode(value.value).decode("ascii")  # type: ignore[attr-defined]
    raise TypeError(f"{type(value).__name__} is not JSON")
