"""The AWS resources an API declares beside its functions: tables, queues, topics, buckets.

A pure module. ``resources:`` in routes.yaml, and the resources of a SAM,
CloudFormation or serverless.yml template, become :class:`AwsResource`
values: what ``apigw-ws serve --mock-aws`` creates before the first
connection. Each has the name its function code finds it by: the name
property when the template gives one (``TableName``, ``QueueName``...), else
its logical id (lower-cased for a bucket, whose names are lower case), where
CloudFormation would generate ``<stack>-<LogicalId>-<suffix>``.

A function's variable may name a resource (``TABLE_NAME: !Ref ConnectionsTable``,
``QUEUE_ARN: !GetAtt Orders.Arn``): its value is held as a reference token
(:mod:`emulator.model.references`) until the
function runs, when :func:`resolve_variables` gives it the value
CloudFormation's ``Ref`` or ``Fn::GetAtt`` returns (each type's "Return
values" in the CloudFormation User Guide) in the region the API is served in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.model.references import Reference, references, substitute_references

__all__ = [
    "ACCOUNT_ID",
    "AwsResource",
    "ResourceType",
    "attributes_of",
    "default_name",
    "endpoint_variable",
    "resolve_variables",
]

# The account every ARN the emulator makes names (``AWS::AccountId``, the
# Lambda context's ARNs, the mocked services').
ACCOUNT_ID = "000000000000"


class ResourceType(enum.Enum):
    """The resource types created locally, by their CloudFormation type."""

    TABLE = "AWS::DynamoDB::Table"
    SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
    QUEUE = "AWS::SQS::Queue"
    TOPIC = "AWS::SNS::Topic"
    BUCKET = "AWS::S3::Bucket"

    @property
    def service(self) -> str:
        """The AWS service that holds it, as boto3 names it."""
        return _SERVICES[self]

    @property
    def name_property(self) -> str:
        """The property that names it (``TableName``...)."""
        return _NAME_PROPERTIES[self]


_SERVICES = {
    ResourceType.TABLE: "dynamodb",
    ResourceType.SIMPLE_TABLE: "dynamodb",
    ResourceType.QUEUE: "sqs",
    ResourceType.TOPIC: "sns",
    ResourceType.BUCKET: "s3",
}
_NAME_PROPERTIES = {
    ResourceType.TABLE: "TableName",
    ResourceType.SIMPLE_TABLE: "TableName",
    ResourceType.QUEUE: "QueueName",
    ResourceType.TOPIC: "TopicName",
    ResourceType.BUCKET: "BucketName",
}
# The SDKs' service ids for AWS_ENDPOINT_URL_<ID>, where not the upper-cased name
# (each service's `serviceId` in botocore's models, spaces as underscores).
_ENDPOINT_IDS = {
    "states": "SFN",
    "events": "EVENTBRIDGE",
    "logs": "CLOUDWATCH_LOGS",
    "stepfunctions": "SFN",
}


@dataclass(frozen=True)
class AwsResource:
    """One resource: its logical id, type, name, and CloudFormation properties.

    ``properties`` are as written, with the template's intrinsic functions
    resolved; in routes.yaml a property may still hold ``Ref`` or
    ``Fn::GetAtt`` to another resource of the section (a dead-letter queue's
    ARN), resolved by :meth:`resolved_properties`.
    """

    logical_id: str
    type: ResourceType
    name: str
    properties: Mapping[str, Any]

    @property
    def service(self) -> str:
        return self.type.service

    def ref(self, region: str) -> str:
        """What ``Ref`` returns: a queue's URL, a topic's ARN, else the name."""
        if self.type is ResourceType.QUEUE:
            return f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{self.name}"
        if self.type is ResourceType.TOPIC:
            return self.arn(region)
        return self.name

    def arn(self, region: str) -> str:
        if self.type is ResourceType.BUCKET:
            return f"arn:aws:s3:::{self.name}"
        if self.service == "dynamodb":
            return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{self.name}"
        return f"arn:aws:{self.service}:{region}:{ACCOUNT_ID}:{self.name}"

    def attribute(self, attribute: str, region: str) -> str | None:
        """What ``Fn::GetAtt`` returns for ``attribute``; None for one not known locally."""
        values = attributes_of(self, region)
        return values.get(attribute)

    def resolved_properties(self, declared: Mapping[str, AwsResource], region: str) -> Any:
        """The properties with each ``Ref``/``Fn::GetAtt`` to a declared resource resolved."""
        return _resolve(self.properties, declared, region)


def attributes_of(resource: AwsResource, region: str) -> dict[str, str]:
    """The ``Fn::GetAtt`` attributes known locally (a stream's ARN is not)."""
    kind = resource.type
    if kind is ResourceType.QUEUE:
        return {
            "Arn": resource.arn(region),
            "QueueName": resource.name,
            "QueueUrl": resource.ref(region),
        }
    if kind is ResourceType.TOPIC:
        return {"TopicArn": resource.arn(region), "TopicName": resource.name}
    if kind is ResourceType.BUCKET:
        return {
            "Arn": resource.arn(region),
            "DomainName": f"{resource.name}.s3.amazonaws.com",
            "RegionalDomainName": f"{resource.name}.s3.{region}.amazonaws.com",
        }
    return {"Arn": resource.arn(region)}


def default_name(kind: ResourceType, logical_id: str, properties: Mapping[str, Any]) -> str:
    """The name of a resource whose template gives none: its logical id.

    A bucket's is lower-cased (bucket names are); a FIFO queue's or topic's
    ends in ``.fifo``, as AWS requires.
    """
    if kind is ResourceType.BUCKET:
        return logical_id.lower()
    if kind is ResourceType.QUEUE and _true(properties.get("FifoQueue")):
        return f"{logical_id}.fifo"
    if kind is ResourceType.TOPIC and _true(properties.get("FifoTopic")):
        return f"{logical_id}.fifo"
    return logical_id


def endpoint_variable(service: str) -> str:
    """``AWS_ENDPOINT_URL_DYNAMODB``: the variable the AWS SDKs read a service's endpoint from."""
    name = _ENDPOINT_IDS.get(service, service.upper().replace("-", "_"))
    return f"AWS_ENDPOINT_URL_{name}"


def resolve_variables(
    variables: Mapping[str, str],
    resources: Mapping[str, AwsResource] | None,
    region: str,
) -> dict[str, str]:
    """``variables`` as the function sees them: each reference to a resource
    replaced by its value. With ``resources`` None (nothing creates them: no
    ``--mock-aws``), a variable that names one is left unset."""
    resolved = {}
    for name, value in variables.items():
        if not references(value):
            resolved[name] = value
        elif resources is not None:
            resolved[name] = substitute_references(
                value, lambda reference: _value(reference, resources, region)
            )
    return resolved


def _value(reference: Reference, resources: Mapping[str, AwsResource], region: str) -> str:
    resource = resources[reference.logical_id]  # checked when the config was read
    if reference.attribute is None:
        return resource.ref(region)
    return resource.attribute(reference.attribute, region) or ""


def _resolve(value: Any, declared: Mapping[str, AwsResource], region: str) -> Any:
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and isinstance(argument, str) and argument in declared:
                return declared[argument].ref(region)
            if name == "Fn::GetAtt":
                parts = argument.split(".", 1) if isinstance(argument, str) else argument
                if isinstance(parts, list) and len(parts) == 2 and parts[0] in declared:
                    return declared[parts[0]].attribute(str(parts[1]), region)
        return {key: _resolve(item, declared, region) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, declared, region) for item in value]
    return value


def _true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
