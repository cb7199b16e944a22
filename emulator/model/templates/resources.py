"""A template's tables, queues, topics and buckets: the ``resources`` its API is served with.

A pure module. :func:`declare_resources` finds the resources of the types
created locally (:class:`~emulator.model.resources.ResourceType`) in a
template's ``Resources`` (a serverless.yml's ``resources.Resources``),
binds what ``Ref`` and ``Fn::GetAtt`` return for each in the template's
:class:`~emulator.model.templates.intrinsics.Resolver` (so that
``TABLE_NAME: !Ref ConnectionsTable``, ``QUEUE_URL: !Ref Orders`` and
``!GetAtt Orders.Arn`` resolve as the functions would see them on AWS), and
returns them as routes.yaml's ``resources:`` section, properties resolved.

A resource without a name is named after its logical id
(:func:`~emulator.model.resources.default_name`) where CloudFormation would
generate one: the name ``--mock-aws`` creates it under, and the one to give
it in a local DynamoDB of your own. A property that cannot be resolved
locally is left out, with a warning; a resource whose name cannot be is left
out entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.model.references import has_references, printable
from emulator.model.resources import AwsResource, ResourceType, attributes_of, default_name
from emulator.model.templates.intrinsics import NO_VALUE, Resolver, Unresolvable

__all__ = ["declare_resources"]

_TYPES = {member.value: member for member in ResourceType}


def declare_resources(
    resources: Mapping[str, Any],
    resolver: Resolver,
    *,
    exists: Callable[[str], bool],
    warnings: list[str],
    prefix: str = "Resources",
) -> dict[str, dict[str, Any]]:
    """The routes.yaml ``resources:`` entries of ``resources`` (a template's ``Resources``).

    ``exists`` says whether a logical id's ``Condition`` holds; ``prefix``
    names the section in warnings (``resources.Resources`` in a serverless.yml).
    """
    found: dict[str, tuple[ResourceType, Mapping[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, Mapping):
            continue
        kind = _TYPES.get(str(resource.get("Type")))
        if kind is None or not exists(str(logical_id)):
            continue
        properties = resource.get("Properties")
        found[str(logical_id)] = (kind, properties if isinstance(properties, Mapping) else {})
    names: dict[str, str] = {}
    for logical_id, (kind, properties) in found.items():
        where = f"{prefix}.{logical_id}.Properties.{kind.name_property}"
        raw = properties.get(kind.name_property)
        name = _resolved(resolver, raw, where, warnings) if raw is not None else None
        if raw is not None and not isinstance(name, str):
            warnings.append(f"{prefix}.{logical_id}: its name is not known locally; not created")
            continue
        if name is None:
            name = default_name(kind, logical_id, _scalars(properties, resolver))
        names[logical_id] = name
        resource = AwsResource(logical_id, kind, name, {})
        resolver.bind(
            logical_id, resource.ref(resolver.region), attributes_of(resource, resolver.region)
        )
    declared: dict[str, dict[str, Any]] = {}
    for logical_id, name in names.items():
        kind, properties = found[logical_id]
        resolved: dict[str, Any] = {}
        for property_name, raw in properties.items():
            where = f"{prefix}.{logical_id}.Properties.{property_name}"
            value = _resolved(resolver, raw, where, warnings)
            if value is not None:
                resolved[str(property_name)] = value
        resolved[kind.name_property] = name
        declared[logical_id] = {"Type": kind.value, "Properties": resolved}
    return declared


def _resolved(resolver: Resolver, raw: Any, where: str, warnings: list[str]) -> Any:
    """``raw`` resolved, or None (and a warning) when it is not known locally."""
    try:
        value = resolver.resolve(raw)
    except Unresolvable as exc:
        warnings.append(f"{where}: cannot be resolved locally ({exc}); left out")
        return None
    if value is NO_VALUE:
        return None
    if has_references(value):
        shown = printable(value) if isinstance(value, str) else "a value"
        warnings.append(f"{where}: {shown!r} is only known once deployed; left out")
        return None
    return value


def _scalars(properties: Mapping[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The flags a default name depends on (``FifoQueue``), resolved where possible."""
    flags = {}
    for name in ("FifoQueue", "FifoTopic"):
        if name in properties:
            try:
                flags[name] = resolver.resolve(properties[name])
            except Unresolvable:
                continue
    return flags
