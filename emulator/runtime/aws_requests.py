"""The AWS API calls that create a declared resource, from its CloudFormation properties.

A pure module: :func:`creation` turns an :class:`~emulator.model.resources.AwsResource`
into the boto3 calls that make it (``CreateTable`` and ``UpdateTimeToLive``,
``CreateQueue``, ``CreateTopic`` and ``Subscribe``, ``CreateBucket`` and
``PutBucketVersioning``), plus the call that says whether it exists already
(an earlier start, a restored state, a reload). Each property is mapped the
way CloudFormation maps it to the service's API (CloudFormation User Guide,
each type's page); what the local services do not need (encryption keys,
point-in-time recovery, alarms) is not asked of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.model.resources import AwsResource, ResourceType

__all__ = ["Call", "Creation", "creation"]


@dataclass(frozen=True)
class Call:
    """One boto3 call: ``client(service).<method>(**params)``."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Creation:
    """How to create a resource: ``exists`` fails (a ``ClientError``) while it does not."""

    exists: Call | None
    calls: tuple[Call, ...]


_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "TableClass",
    "DeletionProtectionEnabled",
)
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection")
# SimpleTable's PrimaryKey.Type, as DynamoDB's AttributeType (SAM specification).
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
# AWS::SQS::Queue properties that are not queue attributes.
_QUEUE_NOT_ATTRIBUTES = ("QueueName", "Tags")
_TOPIC_ATTRIBUTES = (
    "DisplayName",
    "FifoTopic",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "FifoThroughputScope",
)


def creation(resource: AwsResource, properties: Mapping[str, Any], region: str) -> Creation:
    """The calls that create ``resource`` in ``region``; ``properties`` resolved
    (:meth:`~emulator.model.resources.AwsResource.resolved_properties`)."""
    kind = resource.type
    if kind is ResourceType.TABLE:
        return _table(resource.name, properties)
    if kind is ResourceType.SIMPLE_TABLE:
        return _simple_table(resource.name, properties)
    if kind is ResourceType.QUEUE:
        return _queue(resource.name, properties)
    if kind is ResourceType.TOPIC:
        return _topic(resource.name, properties, resource.arn(region))
    return _bucket(resource.name, properties, region)


def _table(name: str, properties: Mapping[str, Any]) -> Creation:
    params: dict[str, Any] = {"TableName": name}
    params.update({key: properties[key] for key in _TABLE_KEYS if key in properties})
    params["BillingMode"] = properties.get("BillingMode", "PROVISIONED")
    if "ProvisionedThroughput" in properties:
        params["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
    for section in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(section):
            params[section] = [_index(index) for index in properties[section]]
    stream = properties.get("StreamSpecification")
    if isinstance(stream, Mapping) and stream.get("StreamViewType"):
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    if properties.get("Tags"):
        params["Tags"] = list(properties["Tags"])
    calls = [Call("dynamodb", "create_table", params)]
    ttl = properties.get("TimeToLiveSpecification")
    if isinstance(ttl, Mapping) and _true(ttl.get("Enabled")) and ttl.get("AttributeName"):
        calls.append(
            Call(
                "dynamodb",
                "update_time_to_live",
                {
                    "TableName": name,
                    "TimeToLiveSpecification": {
                        "Enabled": True,
                        "AttributeName": ttl["AttributeName"],
                    },
                },
            )
        )
    return Creation(Call("dynamodb", "describe_table", {"TableName": name}), tuple(calls))


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    entry = {key: index[key] for key in _INDEX_KEYS if key in index}
    if "ProvisionedThroughput" in index:
        entry["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return entry


def _throughput(value: Any) -> dict[str, int]:
    """CloudFormation accepts ``"5"`` where the API takes 5."""
    return {key: int(value[key]) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _simple_table(name: str, properties: Mapping[str, Any]) -> Creation:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": key["Name"], "AttributeType": _SIMPLE_TYPES[key["Type"]]}
        ],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    }
    # SAM: without ProvisionedThroughput, the table is billed per request.
    if "ProvisionedThroughput" in properties:
        params["BillingMode"] = "PROVISIONED"
        params["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
    else:
        params["BillingMode"] = "PAY_PER_REQUEST"
    tags = properties.get("Tags")
    if isinstance(tags, Mapping) and tags:
        params["Tags"] = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    calls = (Call("dynamodb", "create_table", params),)
    return Creation(Call("dynamodb", "describe_table", {"TableName": name}), calls)


def _queue(name: str, properties: Mapping[str, Any]) -> Creation:
    attributes = {
        key: _attribute(value)
        for key, value in properties.items()
        if key not in _QUEUE_NOT_ATTRIBUTES and value is not None
    }
    params: dict[str, Any] = {"QueueName": name}
    if attributes:
        params["Attributes"] = attributes
    tags = _tag_map(properties.get("Tags"))
    if tags:
        params["tags"] = tags
    calls = (Call("sqs", "create_queue", params),)
    return Creation(Call("sqs", "get_queue_url", {"QueueName": name}), calls)


def _topic(name: str, properties: Mapping[str, Any], arn: str) -> Creation:
    attributes = {
        key: _attribute(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties
    }
    params: dict[str, Any] = {"Name": name}
    if attributes:
        params["Attributes"] = attributes
    tags = properties.get("Tags")
    if isinstance(tags, list) and tags:
        params["Tags"] = list(tags)
    calls = [Call("sns", "create_topic", params)]
    for subscription in properties.get("Subscription") or ():
        calls.append(
            Call(
                "sns",
                "subscribe",
                {
                    "TopicArn": arn,
                    "Protocol": subscription["Protocol"],
                    "Endpoint": subscription["Endpoint"],
                },
            )
        )
    return Creation(Call("sns", "get_topic_attributes", {"TopicArn": arn}), tuple(calls))


def _bucket(name: str, properties: Mapping[str, Any], region: str) -> Creation:
    params: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":  # S3: us-east-1 is the one region without a constraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    calls = [Call("s3", "create_bucket", params)]
    versioning = properties.get("VersioningConfiguration")
    if isinstance(versioning, Mapping) and versioning.get("Status"):
        calls.append(
            Call(
                "s3",
                "put_bucket_versioning",
                {"Bucket": name, "VersioningConfiguration": {"Status": versioning["Status"]}},
            )
        )
    tags = properties.get("Tags")
    if isinstance(tags, list) and tags:
        calls.append(
            Call("s3", "put_bucket_tagging", {"Bucket": name, "Tagging": {"TagSet": list(tags)}})
        )
    return Creation(Call("s3", "head_bucket", {"Bucket": name}), tuple(calls))


def _attribute(value: Any) -> str:
    """A queue or topic attribute as the API takes it: a string (a policy as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)


def _tag_map(tags: Any) -> dict[str, str]:
    if isinstance(tags, list):
        return {str(tag["Key"]): str(tag["Value"]) for tag in tags if isinstance(tag, Mapping)}
    return {}


def _true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
