"""The ``resources`` of an API (tables, queues, topics, buckets) as Terraform resources.

A pure module, for :mod:`.terraform`: each resource becomes its AWS provider
resource (``aws_dynamodb_table``, ``aws_sqs_queue``, ``aws_sns_topic`` with
its ``aws_sns_topic_subscription`` resources, ``aws_s3_bucket``), named as
the emulator names it locally (Terraform needs a name where CloudFormation
would generate one); a variable that names one refers to it
(``aws_dynamodb_table.connections_table.name``), and the functions' role may
use each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from emulator.model.references import Reference, substitute_references
from emulator.model.resources import AwsResource, ResourceType
from emulator.tools.export.hcl import BLOCK, quoted

__all__ = ["resource_policy", "snake", "terraform_resources", "terraform_value"]

_KINDS = {
    ResourceType.TABLE: "aws_dynamodb_table",
    ResourceType.SIMPLE_TABLE: "aws_dynamodb_table",
    ResourceType.QUEUE: "aws_sqs_queue",
    ResourceType.TOPIC: "aws_sns_topic",
    ResourceType.BUCKET: "aws_s3_bucket",
}
# What Ref (None) and Fn::GetAtt return, as the provider's attributes.
_ATTRIBUTES = {
    ResourceType.TABLE: {None: "name", "Arn": "arn", "StreamArn": "stream_arn"},
    ResourceType.SIMPLE_TABLE: {None: "name", "Arn": "arn"},
    ResourceType.QUEUE: {None: "url", "Arn": "arn", "QueueName": "name", "QueueUrl": "url"},
    ResourceType.TOPIC: {None: "arn", "TopicArn": "arn", "TopicName": "name"},
    ResourceType.BUCKET: {
        None: "bucket",
        "Arn": "arn",
        "DomainName": "bucket_domain_name",
        "RegionalDomainName": "bucket_regional_domain_name",
    },
}
# AWS::SQS::Queue properties and aws_sqs_queue's arguments.
_QUEUE_ARGUMENTS = {
    "DelaySeconds": "delay_seconds",
    "MaximumMessageSize": "max_message_size",
    "MessageRetentionPeriod": "message_retention_seconds",
    "ReceiveMessageWaitTimeSeconds": "receive_wait_time_seconds",
    "VisibilityTimeout": "visibility_timeout_seconds",
    "FifoQueue": "fifo_queue",
    "ContentBasedDeduplication": "content_based_deduplication",
}
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def snake(name: str) -> str:
    """``SendMessageFunction`` → ``send_message_function``: a Terraform name."""
    snaked = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return re.sub(r"[^a-z0-9_]", "_", snaked)


def reference(resources: Mapping[str, AwsResource], ref: Reference) -> str:
    """The Terraform expression (without ``${}``) for ``Ref``/``Fn::GetAtt`` of a resource."""
    resource = resources[ref.logical_id]
    attribute = _ATTRIBUTES[resource.type].get(ref.attribute, "id")
    return f"{_KINDS[resource.type]}.{snake(resource.logical_id)}.{attribute}"


def terraform_value(value: str, resources: Mapping[str, AwsResource]) -> str:
    """A variable's value as a quoted HCL string, resources named by reference."""
    escaped = value.replace("${", "$${").replace("%{", "%%{")
    text = substitute_references(escaped, lambda ref: "${" + reference(resources, ref) + "}")
    return json.dumps(text, ensure_ascii=False)


def terraform_resources(
    resources: Mapping[str, AwsResource], resource: Callable[[str, str, dict[str, Any]], None]
) -> None:
    """Write each resource through ``resource(kind, name, body)``."""
    for item in resources.values():
        name = snake(item.logical_id)
        properties = item.properties
        if item.type in (ResourceType.TABLE, ResourceType.SIMPLE_TABLE):
            resource("aws_dynamodb_table", name, _table(item))
        elif item.type is ResourceType.QUEUE:
            body = {"name": quoted(item.name)}
            for key, argument in _QUEUE_ARGUMENTS.items():
                if key in properties:
                    body[argument] = _scalar(properties[key])
            if "RedrivePolicy" in properties:
                body["redrive_policy"] = _json(properties["RedrivePolicy"], resources)
            resource("aws_sqs_queue", name, body)
        elif item.type is ResourceType.TOPIC:
            body = {"name": quoted(item.name)}
            if "FifoTopic" in properties:
                body["fifo_topic"] = _scalar(properties["FifoTopic"])
            resource("aws_sns_topic", name, body)
            for number, subscription in enumerate(properties.get("Subscription") or (), 1):
                resource(
                    "aws_sns_topic_subscription",
                    f"{name}_{number}",
                    {
                        "topic_arn": f"${{aws_sns_topic.{name}.arn}}",
                        "protocol": quoted(str(subscription["Protocol"])),
                        "endpoint": _expression(subscription["Endpoint"], resources),
                    },
                )
        else:
            resource("aws_s3_bucket", name, {"bucket": quoted(item.name)})


def resource_policy(resources: Mapping[str, AwsResource]) -> list[dict[str, Any]]:
    """IAM statements letting the functions use the resources."""
    statements: list[dict[str, Any]] = []
    for item in resources.values():
        arn = (
            "${"
            + reference(
                resources,
                Reference(
                    item.logical_id, "Arn" if item.type is not ResourceType.TOPIC else "TopicArn"
                ),
            )
            + "}"
        )
        if item.type in (ResourceType.TABLE, ResourceType.SIMPLE_TABLE):
            statements.append(
                {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": [arn, f"{arn}/index/*"]}
            )
        elif item.type is ResourceType.QUEUE:
            actions = [
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
            ]
            statements.append({"Effect": "Allow", "Action": actions, "Resource": [arn]})
        elif item.type is ResourceType.TOPIC:
            statements.append({"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [arn]})
        else:
            actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
            statements.append({"Effect": "Allow", "Action": actions, "Resource": [arn, f"{arn}/*"]})
    return statements


def _table(item: AwsResource) -> dict[str, Any]:
    properties = item.properties
    if item.type is ResourceType.SIMPLE_TABLE:
        key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        definitions = {key["Name"]: _SIMPLE_TYPES[key["Type"]]}
        schema = [{"AttributeName": key["Name"], "KeyType": "HASH"}]
        billing = "PROVISIONED" if "ProvisionedThroughput" in properties else "PAY_PER_REQUEST"
    else:
        definitions = {
            d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]
        }
        schema = list(properties["KeySchema"])
        billing = properties.get("BillingMode", "PROVISIONED")
    body: dict[str, Any] = {"name": quoted(item.name), "billing_mode": quoted(billing)}
    body.update(_keys(schema))
    throughput = properties.get("ProvisionedThroughput")
    if billing == "PROVISIONED" and isinstance(throughput, Mapping):
        body["read_capacity"] = int(throughput["ReadCapacityUnits"])
        body["write_capacity"] = int(throughput["WriteCapacityUnits"])
    body["attribute"] = [
        {"name": quoted(name), "type": quoted(kind), BLOCK: True}
        for name, kind in definitions.items()
    ]
    for section, block in (
        ("GlobalSecondaryIndexes", "global_secondary_index"),
        ("LocalSecondaryIndexes", "local_secondary_index"),
    ):
        indexes = []
        for index in properties.get(section) or ():
            entry: dict[str, Any] = {"name": quoted(index["IndexName"])}
            entry.update(_keys(index["KeySchema"]))
            if block == "local_secondary_index":
                entry.pop("hash_key", None)
            projection = index.get("Projection") or {}
            entry["projection_type"] = quoted(projection.get("ProjectionType", "ALL"))
            if projection.get("NonKeyAttributes"):
                entry["non_key_attributes"] = [quoted(a) for a in projection["NonKeyAttributes"]]
            index_throughput = index.get("ProvisionedThroughput")
            if billing == "PROVISIONED" and isinstance(index_throughput, Mapping):
                entry["read_capacity"] = int(index_throughput["ReadCapacityUnits"])
                entry["write_capacity"] = int(index_throughput["WriteCapacityUnits"])
            indexes.append({**entry, BLOCK: True})
        if indexes:
            body[block] = indexes
    stream = properties.get("StreamSpecification")
    if isinstance(stream, Mapping) and stream.get("StreamViewType"):
        body["stream_enabled"] = True
        body["stream_view_type"] = quoted(stream["StreamViewType"])
    return body


def _keys(schema: Any) -> dict[str, str]:
    keys = {}
    for key in schema:
        argument = "hash_key" if key["KeyType"] == "HASH" else "range_key"
        keys[argument] = quoted(key["AttributeName"])
    return keys


def _expression(value: Any, resources: Mapping[str, AwsResource]) -> str:
    """A property's value (a string, or ``Ref``/``Fn::GetAtt`` of a resource) for HCL."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return "${" + reference(resources, Reference(str(argument))) + "}"
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return "${" + reference(resources, Reference(str(parts[0]), str(parts[1]))) + "}"
    return quoted(str(value))


def _json(value: Any, resources: Mapping[str, AwsResource]) -> str:
    """A policy document as ``jsonencode({...})``, references resolved by Terraform."""

    def hcl(item: Any) -> str:
        if isinstance(item, Mapping) and not (
            len(item) == 1 and next(iter(item)) in ("Ref", "Fn::GetAtt")
        ):
            return (
                "{" + ", ".join(f"{json.dumps(str(k))} = {hcl(v)}" for k, v in item.items()) + "}"
            )
        if isinstance(item, list):
            return "[" + ", ".join(hcl(v) for v in item) + "]"
        if isinstance(item, bool | int | float):
            return json.dumps(item)
        expression = _expression(item, resources)
        return expression[2:-1] if expression.startswith("${") else expression

    return "${jsonencode(" + hcl(value) + ")}"


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if text.isdigit() else quoted(text)
