"""The ``resources`` section: tables, queues, topics and buckets, in CloudFormation form.

Written as a template's ``Resources`` are, so that one can be copied from the
other::

    resources:
      ConnectionsTable:
        Type: AWS::DynamoDB::Table
        Properties:
          AttributeDefinitions: [{AttributeName: connectionId, AttributeType: S}]
          KeySchema: [{AttributeName: connectionId, KeyType: HASH}]
          BillingMode: PAY_PER_REQUEST
    environment:
      TABLE_NAME: !Ref ConnectionsTable

What CloudFormation would refuse is refused here with the key it is at: a
missing key schema, a key attribute without a definition, a name AWS does not
allow. A property may name another resource of the section (a dead-letter
queue's ``!GetAtt DeadLetters.Arn``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from emulator.errors import ConfigError
from emulator.model.references import references
from emulator.model.resources import AwsResource, ResourceType, attributes_of, default_name
from emulator.model.sections.checks import check_keys, mapping, show, suggest

__all__ = ["check_references", "parse_resources"]

_RESOURCE_KEYS = ("Type", "Properties", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy")
# AWS: the names each service allows (botocore's models, the services' guides).
_NAMES = {
    ResourceType.TABLE: (re.compile(r"[A-Za-z0-9_.-]{3,255}"), "3 to 255 of A-Z a-z 0-9 _ . -"),
    ResourceType.SIMPLE_TABLE: (
        re.compile(r"[A-Za-z0-9_.-]{3,255}"),
        "3 to 255 of A-Z a-z 0-9 _ . -",
    ),
    ResourceType.QUEUE: (
        re.compile(r"[A-Za-z0-9_-]{1,75}(\.fifo)?|[A-Za-z0-9_-]{76,80}"),
        "1 to 80 of A-Z a-z 0-9 _ - (a FIFO queue's ending in .fifo)",
    ),
    ResourceType.TOPIC: (
        re.compile(r"[A-Za-z0-9_-]{1,251}(\.fifo)?|[A-Za-z0-9_-]{252,256}"),
        "1 to 256 of A-Z a-z 0-9 _ - (a FIFO topic's ending in .fifo)",
    ),
    ResourceType.BUCKET: (
        re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
        "3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit",
    ),
}
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")
_KEY_TYPES = ("HASH", "RANGE")
_ATTRIBUTE_TYPES = ("S", "N", "B")
_BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")
_SIMPLE_KEY_TYPES = ("String", "Number", "Binary")


def parse_resources(data: object) -> dict[str, AwsResource]:
    """The section's resources, by logical id, in file order."""
    if data is None:
        return {}
    document = mapping(data, "resources", "a mapping of logical ids to resources")
    found: dict[str, AwsResource] = {}
    for logical_id, value in document.items():
        if not isinstance(logical_id, str) or not _LOGICAL_ID.fullmatch(logical_id):
            problem = (
                f"logical ids are 1 to 255 of A-Z a-z 0-9 (CloudFormation), got {show(logical_id)}"
            )
            raise ConfigError(problem, key="resources")
        where = f"resources.{logical_id}"
        found[logical_id] = _resource(logical_id, value, where)
    for logical_id, resource in found.items():
        _check_property_references(resource.properties, found, f"resources.{logical_id}.Properties")
    return found


def check_references(
    variables: Mapping[str, str], resources: Mapping[str, AwsResource], key: str
) -> None:
    """Each variable that names a resource names one of ``resources``, by an attribute it has."""
    for name, value in variables.items():
        for reference in references(value):
            resource = resources.get(reference.logical_id)
            if resource is None:
                declared = sorted(resources)
                hint = suggest(reference.logical_id, declared)
                known = ", ".join(declared) or "none declared"
                problem = f"{reference} names no resource of 'resources'{hint} (resources: {known})"
                raise ConfigError(problem, key=f"{key}.{name}")
            if reference.attribute is not None:
                known_attributes = sorted(attributes_of(resource, "us-east-1"))
                if reference.attribute not in known_attributes:
                    problem = (
                        f"{reference}: a {resource.type.value} has no attribute"
                        f" {reference.attribute!r} known locally"
                        f" (attributes: {', '.join(known_attributes)})"
                    )
                    raise ConfigError(problem, key=f"{key}.{name}")


def _resource(logical_id: str, value: object, where: str) -> AwsResource:
    document = mapping(value, where, "a mapping with a 'Type' (and 'Properties')")
    check_keys(document, _RESOURCE_KEYS, where)
    kind = document.get("Type")
    types = [member.value for member in ResourceType]
    if kind not in types:
        problem = (
            f"must be one of {', '.join(types)}{suggest(kind, types)}"
            " (the types created locally), got " + show(kind)
        )
        raise ConfigError(problem, key=f"{where}.Type")
    resource_type = ResourceType(kind)
    raw = document.get("Properties")
    given = {} if raw is None else mapping(raw, f"{where}.Properties", "a mapping")
    properties: dict[str, Any] = {str(name): item for name, item in given.items()}
    check = _CHECKS[resource_type]
    check(properties, f"{where}.Properties")
    name_key = f"{where}.Properties.{resource_type.name_property}"
    name = properties.get(resource_type.name_property)
    if name is None:
        name = default_name(resource_type, logical_id, properties)
        name_key = where
    pattern, allowed = _NAMES[resource_type]
    if not isinstance(name, str) or not pattern.fullmatch(name):
        what = "its logical id" if name_key == where else "the name"
        problem = f"{what} must be a valid name: {allowed}, got {show(name)}"
        if name_key == where:
            problem += f"; give it a {resource_type.name_property}"
        raise ConfigError(problem, key=name_key)
    return AwsResource(logical_id, resource_type, name, MappingProxyType(properties))


def _check_table(properties: Mapping[str, Any], where: str) -> None:
    definitions = _attribute_definitions(properties.get("AttributeDefinitions"), where)
    _key_schema(properties.get("KeySchema"), definitions, f"{where}.KeySchema")
    billing = properties.get("BillingMode", "PROVISIONED")
    if billing not in _BILLING_MODES:
        problem = f"must be PROVISIONED or PAY_PER_REQUEST, got {show(billing)}"
        raise ConfigError(problem, key=f"{where}.BillingMode")
    if billing == "PROVISIONED" and "ProvisionedThroughput" not in properties:
        problem = (
            "is required with BillingMode PROVISIONED (the default):"
            " give it, or BillingMode: PAY_PER_REQUEST"
        )
        raise ConfigError(problem, key=f"{where}.ProvisionedThroughput")
    for section in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = properties.get(section)
        if indexes is None:
            continue
        if not isinstance(indexes, list):
            raise ConfigError(
                f"must be a list of indexes, got {show(indexes)}", key=f"{where}.{section}"
            )
        for number, index in enumerate(indexes):
            at = f"{where}.{section}[{number}]"
            entry = mapping(index, at, "a mapping with IndexName, KeySchema and Projection")
            if not isinstance(entry.get("IndexName"), str) or not entry.get("IndexName"):
                raise ConfigError("is required: the index's name", key=f"{at}.IndexName")
            _key_schema(entry.get("KeySchema"), definitions, f"{at}.KeySchema")
            mapping(
                entry.get("Projection"),
                f"{at}.Projection",
                "a mapping such as {ProjectionType: ALL}",
            )


def _attribute_definitions(value: object, where: str) -> dict[str, str]:
    key = f"{where}.AttributeDefinitions"
    if not isinstance(value, list) or not value:
        problem = "is required: a list of {AttributeName, AttributeType} for the key attributes"
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    definitions = {}
    for number, item in enumerate(value):
        entry = mapping(item, f"{key}[{number}]", "a mapping with AttributeName and AttributeType")
        name, kind = entry.get("AttributeName"), entry.get("AttributeType")
        if not isinstance(name, str) or not name or kind not in _ATTRIBUTE_TYPES:
            problem = f"must have an AttributeName and an AttributeType S, N or B, got {show(item)}"
            raise ConfigError(problem, key=f"{key}[{number}]")
        definitions[name] = str(kind)
    return definitions


def _key_schema(value: object, definitions: Mapping[str, str], key: str) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        problem = "is required: a HASH key and optionally a RANGE key, as {AttributeName, KeyType}"
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    kinds = []
    for number, item in enumerate(value):
        entry = mapping(item, f"{key}[{number}]", "a mapping with AttributeName and KeyType")
        name, kind = entry.get("AttributeName"), entry.get("KeyType")
        if kind not in _KEY_TYPES:
            problem = f"must be HASH or RANGE, got {show(kind)}"
            raise ConfigError(problem, key=f"{key}[{number}].KeyType")
        if name not in definitions:
            defined = ", ".join(definitions)
            problem = f"{show(name)} has no AttributeDefinitions entry (defined: {defined})"
            raise ConfigError(problem, key=f"{key}[{number}].AttributeName")
        kinds.append(kind)
    if kinds[0] != "HASH" or kinds[1:] not in ([], ["RANGE"]):
        raise ConfigError(f"must be a HASH key, then optionally a RANGE key, got {kinds}", key=key)


def _check_simple_table(properties: Mapping[str, Any], where: str) -> None:
    key = properties.get("PrimaryKey")
    if key is None:
        return  # SAM: an `id` of type String
    entry = mapping(key, f"{where}.PrimaryKey", "a mapping with Name and Type")
    if not isinstance(entry.get("Name"), str) or entry.get("Type") not in _SIMPLE_KEY_TYPES:
        problem = f"must have a Name and a Type String, Number or Binary, got {show(key)}"
        raise ConfigError(problem, key=f"{where}.PrimaryKey")


def _check_nothing(properties: Mapping[str, Any], where: str) -> None:
    """Queues, topics and buckets: every property is optional."""


_CHECKS = {
    ResourceType.TABLE: _check_table,
    ResourceType.SIMPLE_TABLE: _check_simple_table,
    ResourceType.QUEUE: _check_nothing,
    ResourceType.TOPIC: _check_nothing,
    ResourceType.BUCKET: _check_nothing,
}


def _check_property_references(
    value: object, resources: Mapping[str, AwsResource], key: str
) -> None:
    """``Ref``/``Fn::GetAtt`` in properties name resources of the section; nothing else
    is evaluated here (there are no parameters to refer to)."""
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((name, argument),) = value.items()
            if isinstance(name, str) and (name == "Ref" or name.startswith("Fn::")):
                target = None
                if name == "Ref":
                    target = argument
                elif name == "Fn::GetAtt":
                    parts = argument.split(".", 1) if isinstance(argument, str) else argument
                    target = parts[0] if isinstance(parts, list) and len(parts) == 2 else None
                if not isinstance(target, str) or target not in resources:
                    problem = (
                        "only !Ref and !GetAtt naming a resource of 'resources' are evaluated"
                        f" here, got {show(dict(value))}"
                    )
                    raise ConfigError(problem, key=key)
                return
        for name, item in value.items():
            _check_property_references(item, resources, f"{key}.{name}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _check_property_references(item, resources, f"{key}[{number}]")
