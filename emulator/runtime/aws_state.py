"""The mocked services' data across restarts: saved, restored (``--state-dir``).

Read and written through the services' own APIs (a table's description and
its items, a queue's attributes, a bucket's objects), so that the file
outlives moto's versions: ``--state-dir DIR`` keeps ``DIR/aws-state.json``,
written when the emulator stops and read when it starts, before the API's
resources are created (a table that exists keeps its items). Queued
messages are read from moto's queues, which no API lists without receiving.

What the pages show of it is :mod:`.aws_view`'s.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.errors import ConfigError
from emulator.runtime.aws_view import (
    binary,
    json_value,
    list_buckets,
    list_queues,
    list_tables,
    plain,
    scan,
)

if TYPE_CHECKING:
    from emulator.runtime.mock_aws import MockedAws

__all__ = ["STATE_FILE", "open_mocked", "restore", "save", "saved_view"]

STATE_FILE = "aws-state.json"
_VERSION = 1


def open_mocked(region: str, state_dir: str | os.PathLike[str] | None = None) -> MockedAws:
    """An API's AWS services in-process, with the data saved in ``state_dir``.

    Raises :class:`ConfigError` when moto is not installed (the ``aws`` extra).
    """
    try:
        from emulator.runtime.mock_aws import MockedAws
    except ImportError as exc:
        raise ConfigError(
            f"--mock-aws needs moto ({exc}): pip install 'apigw-ws-emulator[aws]'"
        ) from exc
    aws = MockedAws(region)
    try:
        if state_dir is not None:
            restore(aws, state_dir)
    except BaseException:
        aws.close()
        raise
    return aws


def save(aws: MockedAws, directory: str | os.PathLike[str]) -> Path:
    """Write everything to ``directory``/aws-state.json (atomically); its path."""
    state: dict[str, Any] = {"version": _VERSION, "tables": [], "queues": [], "buckets": []}
    for region, name in list_tables(aws):
        client = aws.client("dynamodb", region)
        described = client.describe_table(TableName=name)["Table"]
        state["tables"].append(
            {
                "region": region,
                "definition": _table_definition(described),
                "items": list(scan(client, name, None)),
            }
        )
    for region, name in list_queues(aws):
        client = aws.client("sqs", region)
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        state["queues"].append(
            {
                "region": region,
                "name": name,
                "attributes": _queue_attributes(attributes.get("Attributes", {})),
                "messages": aws.queue_messages(region, name),
            }
        )
    for name, region, objects in list_buckets(aws):
        client = aws.client("s3", region)
        state["buckets"].append(
            {
                "region": region,
                "name": name,
                "objects": [
                    {
                        "key": o["Key"],
                        "body": base64.b64encode(
                            client.get_object(Bucket=name, Key=o["Key"])["Body"].read()
                        ).decode("ascii"),
                    }
                    for o in objects
                ],
            }
        )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(state, indent=1, default=json_value), encoding="utf-8")
    partial.replace(path)
    return path


def restore(aws: MockedAws, directory: str | os.PathLike[str]) -> bool:
    """Recreate what ``directory``/aws-state.json holds; False if there is none yet,
    or if another emulator of this process already holds data (``aws.fresh`` false)."""
    path = Path(directory) / STATE_FILE
    if not aws.fresh or not path.exists():
        return False
    state = _read(path)
    for table in state.get("tables", []):
        client = aws.client("dynamodb", table["region"])
        client.create_table(**table["definition"])
        name = table["definition"]["TableName"]
        items = [binary(item) for item in table["items"]]
        for start in range(0, len(items), 25):  # BatchWriteItem's limit
            batch = items[start : start + 25]
            client.batch_write_item(
                RequestItems={name: [{"PutRequest": {"Item": item}} for item in batch]}
            )
    for queue in state.get("queues", []):
        client = aws.client("sqs", queue["region"])
        url = client.create_queue(QueueName=queue["name"], Attributes=queue["attributes"])[
            "QueueUrl"
        ]
        for message in queue["messages"]:
            client.send_message(QueueUrl=url, **_send_parameters(message))
    for bucket in state.get("buckets", []):
        client = aws.client("s3", bucket["region"])
        parameters: dict[str, Any] = {"Bucket": bucket["name"]}
        if bucket["region"] != "us-east-1":
            parameters["CreateBucketConfiguration"] = {"LocationConstraint": bucket["region"]}
        client.create_bucket(**parameters)
        for item in bucket["objects"]:
            client.put_object(
                Bucket=bucket["name"], Key=item["key"], Body=base64.b64decode(item["body"])
            )
    return True


def saved_view(directory: str | os.PathLike[str], limit: int = 100) -> dict[str, Any]:
    """:func:`view` of what ``directory`` holds (a stopped emulator's data)."""
    state = _read(Path(directory) / STATE_FILE)
    tables = []
    for table in state.get("tables", []):
        items = table["items"]
        tables.append(
            {
                "region": table["region"],
                "name": table["definition"]["TableName"],
                "key": [key["AttributeName"] for key in table["definition"]["KeySchema"]],
                "count": len(items),
                "items": [plain(binary(item)) for item in items[:limit]],
            }
        )
    queues = [
        {
            "region": queue["region"],
            "name": queue["name"],
            "messages": [message["body"] for message in queue["messages"]][:limit],
        }
        for queue in state.get("queues", [])
    ]
    buckets = [
        {
            "name": bucket["name"],
            "objects": [
                {"key": o["key"], "size": len(base64.b64decode(o["body"]))}
                for o in bucket["objects"]
            ][:limit],
        }
        for bucket in state.get("buckets", [])
    ]
    return {"tables": tables, "queues": queues, "topics": [], "buckets": buckets}


def _read(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no saved AWS state here yet", source=str(path)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the saved AWS state: {exc}", source=str(path)) from exc
    if not isinstance(state, dict) or state.get("version") != _VERSION:
        raise ConfigError("not a saved AWS state of this version", source=str(path))
    return state


def _table_definition(described: dict[str, Any]) -> dict[str, Any]:
    """CreateTable's parameters for a table as DescribeTable describes it."""
    billing = described.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    definition: dict[str, Any] = {
        "TableName": described["TableName"],
        "AttributeDefinitions": described["AttributeDefinitions"],
        "KeySchema": described["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        definition["ProvisionedThroughput"] = _throughput(described)
    for section in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in described.get(section, []):
            entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            if section == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = _throughput(index)
            indexes.append(entry)
        if indexes:
            definition[section] = indexes
    stream = described.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        definition["StreamSpecification"] = stream
    return definition


def _throughput(described: dict[str, Any]) -> dict[str, int]:
    throughput = described.get("ProvisionedThroughput", {})
    return {
        "ReadCapacityUnits": max(1, int(throughput.get("ReadCapacityUnits", 1))),
        "WriteCapacityUnits": max(1, int(throughput.get("WriteCapacityUnits", 1))),
    }


# Queue attributes that describe the queue rather than configure it.
_READ_ONLY_ATTRIBUTES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
        "SqsManagedSseEnabled",
    }
)


def _queue_attributes(attributes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if k not in _READ_ONLY_ATTRIBUTES}


def _send_parameters(message: dict[str, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = {"MessageBody": message["body"]}
    if message.get("attributes"):
        parameters["MessageAttributes"] = message["attributes"]
    if message.get("groupId"):
        parameters["MessageGroupId"] = message["groupId"]
    if message.get("deduplicationId"):
        parameters["MessageDeduplicationId"] = message["deduplicationId"]
    return parameters
