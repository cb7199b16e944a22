"""CloudFormation's intrinsic functions, evaluated as far as a local run allows.

A pure module. :class:`Resolver` evaluates ``Ref``, ``Fn::Sub``, ``Fn::Join``,
``Fn::If``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``, ``Fn::Base64`` and
the condition functions against a template's ``Parameters`` (overrides, then
``Default``), ``Mappings`` and ``Conditions``, with fixed pseudo parameters
(``AWS::Region`` us-east-1, ``AWS::AccountId`` 000000000000, ...). Given the
other stacks of the same deployment (:class:`OtherStacks`, as a CDK cloud
assembly has them), it also evaluates ``Fn::ImportValue`` and CDK's
``Fn::GetStackOutput``.

What only exists once a stack is deployed (a resource's generated name or ARN,
an export of a stack not at hand, the account's availability zones) is never
guessed.
A reference to a resource becomes a *reference token* inside the resolved
string, so that ``!Sub arn:...:functions/${OnConnectFunction.Arn}/invocations``
still says which function it names (:func:`references`); the callers decide
whether a token is fine there (linking a route to its function) or not (an
environment variable's value). Everything else that cannot be evaluated raises
:class:`Unresolvable`, whose message says why.

Resolving is bounded (:class:`~emulator.model.bounds.Budget`): references
may repeat references (a ``Fn::Join`` of names that are joins themselves), so
the values visited and the text made are counted, past the budget a
:class:`~emulator.errors.ConfigError`; references that nest too deeply, or in a
cycle, are :class:`Unresolvable`.

Reference: CloudFormation User Guide, "Intrinsic function reference" and
"Pseudo parameters reference".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Protocol

from emulator.model.bounds import MAX_DEPTH, Budget
from emulator.model.references import (
    Reference,
    has_references,
    printable,
    references,
    substitute_references,
)
from emulator.model.resources import ACCOUNT_ID

__all__ = [
    "ACCOUNT_ID",
    "NO_VALUE",
    "PARTITION",
    "REGION",
    "STACK_NAME",
    "OtherStacks",
    "Reference",
    "Resolver",
    "Unresolvable",
    "has_references",
    "is_intrinsic",
    "printable",
    "references",
    "substitute_references",
]

REGION = "us-east-1"
PARTITION = "aws"
STACK_NAME = "local"  # the emulator's stand-in for a deployed stack's name

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

# Resource types whose Ref is a name given in one of their properties
# (each type's "Return values" section in the CloudFormation User Guide).
_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::SSM::Parameter": "Name",
    "AWS::ApiGatewayV2::Stage": "StageName",
}


class Unresolvable(Exception):
    """A value that cannot be computed without AWS, or a malformed intrinsic."""


class OtherStacks(Protocol):
    """The other stacks deployed with a template: their outputs, resolved.

    Each method returns the output's value, or raises :class:`Unresolvable`
    saying why it is not known locally.
    """

    def output(self, stack_name: str, output_name: str) -> Any:
        """``Outputs.<output_name>.Value`` of the stack named ``stack_name``."""
        ...

    def export(self, name: str) -> Any:
        """The value of the output whose ``Export.Name`` is ``name``."""
        ...


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()
"""What ``Ref: AWS::NoValue`` resolves to: the property is absent."""


def is_intrinsic(value: object) -> bool:
    """Whether ``value`` is one intrinsic function call (``{"Ref": ...}``, ``{"Fn::X": ...}``)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    (name,) = value
    return name in ("Ref", "Condition") or (isinstance(name, str) and name.startswith("Fn::"))


class Resolver:
    """Evaluates intrinsic functions in values of one template."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        *,
        stack_name: str = STACK_NAME,
        other_stacks: OtherStacks | None = None,
        region: str = REGION,
    ) -> None:
        self.region = region
        self._parameters = _section(template, "Parameters")
        self._resources = _section(template, "Resources")
        self._mappings = _section(template, "Mappings")
        self._conditions = _section(template, "Conditions")
        self._overrides = dict(parameters or {})
        self._other_stacks = other_stacks
        self._evaluated: dict[str, bool] = {}
        self._evaluating: list[str] = []
        self._bound: dict[str, str] = {}
        self._budget = Budget("intrinsic functions")
        self._depth = 0
        self._bound_attributes: dict[tuple[str, str], str] = {}
        self._pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}"
                "/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    def bind(
        self, logical_id: str, value: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        """Resolve ``Ref logical_id`` to ``value`` (and ``Fn::GetAtt`` of ``attributes``).

        For what is known locally although only a deployment would know it on
        AWS: the emulator's own API id for the API it serves.
        """
        self._bound[logical_id] = value
        for attribute, attribute_value in (attributes or {}).items():
            self._bound_attributes[(logical_id, attribute)] = attribute_value

    def bound(self, logical_id: str) -> str | None:
        """What :meth:`bind` made ``Ref logical_id`` resolve to, if anything."""
        return self._bound.get(logical_id)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated.

        ``AWS::NoValue`` drops a mapping's key or a list's item; at the top it
        is returned as :data:`NO_VALUE`. Raises :class:`Unresolvable`.
        """
        self._budget.spend()
        # Values nest at most MAX_DEPTH in a file; deeper is references that
        # refer to each other (a resource named after itself) or nest without end.
        if self._depth > _MAX_RESOLVE_DEPTH:
            raise Unresolvable("the references nest too deeply, or refer to each other in a cycle")
        self._depth += 1
        try:
            return self._resolve(value)
        finally:
            self._depth -= 1

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((name, argument),) = value.items()
                if name == "Ref" or (isinstance(name, str) and name.startswith("Fn::")):
                    return self._function(name, argument)
                if name == "Condition" and isinstance(argument, str):
                    return self.condition(argument)
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name in self._evaluated:
            return self._evaluated[name]
        if name not in self._conditions:
            raise Unresolvable(f"no condition named {name!r} in Conditions")
        if name in self._evaluating:
            cycle = " -> ".join([*self._evaluating, name])
            raise Unresolvable(f"the conditions refer to each other: {cycle}")
        self._evaluating.append(name)
        try:
            value = self.resolve(self._conditions[name])
        finally:
            self._evaluating.pop()
        if not isinstance(value, bool):
            raise Unresolvable(f"condition {name!r} is not true or false, got {value!r}")
        self._evaluated[name] = value
        return value

    def template_resources(self) -> Mapping[str, Any]:
        """The template's ``Resources`` section."""
        return self._resources

    def resource_exists(self, logical_id: str) -> bool:
        """False for a resource whose ``Condition`` is false."""
        resource = self._resources.get(logical_id)
        if not isinstance(resource, Mapping):
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    # Each function, named as in the User Guide

    def _function(self, name: str, argument: Any) -> Any:
        handler = getattr(self, "_fn_" + name.removeprefix("Fn::").lower(), None)
        if name == "Ref":
            return self._ref(argument)
        if handler is None:
            raise Unresolvable(f"{name} is not evaluated locally")
        return handler(argument)

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise Unresolvable(f"Ref takes a name, got {name!r}")
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._bound:
            return self._bound[name]
        if name in self._parameters:
            return self._parameter(name)
        if name in self._resources:
            resource = self._resources[name]
            prop = _NAME_PROPERTIES.get(str(resource.get("Type")))
            properties = resource.get("Properties")
            if prop and isinstance(properties, Mapping) and prop in properties:
                physical = self.resolve(properties[prop])
                if isinstance(physical, str) and not has_references(physical):
                    return physical
            return Reference(name).token()
        raise Unresolvable(f"Ref {name!r}: no parameter or resource of that name")

    def _parameter(self, name: str) -> Any:
        declaration = self._parameters[name]
        if name in self._overrides:
            value: Any = self._overrides[name]
        elif isinstance(declaration, Mapping) and "Default" in declaration:
            value = declaration["Default"]
        else:
            raise Unresolvable(f"parameter {name!r} has no Default and no value was given")
        kind = str(declaration.get("Type", "String")) if isinstance(declaration, Mapping) else ""
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [part.strip() for part in _text(value).split(",")] if value != "" else []
        return _text(value)

    def _fn_getatt(self, argument: Any) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        parts = self.resolve(argument)
        if not (
            isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)
        ):
            raise Unresolvable(f"Fn::GetAtt takes [LogicalId, Attribute], got {argument!r}")
        if (parts[0], parts[1]) in self._bound_attributes:
            return self._bound_attributes[(parts[0], parts[1])]
        if parts[0] not in self._resources:
            raise Unresolvable(f"Fn::GetAtt {parts[0]!r}: no resource of that name")
        return Reference(parts[0], parts[1]).token()

    def _fn_sub(self, argument: Any) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], Mapping):
            argument, variables = argument
        if not isinstance(argument, str):
            raise Unresolvable(f"Fn::Sub takes a string or [string, variables], got {argument!r}")

        def replace(match: re.Match[str]) -> str:
            text = substitute(match.group(1))
            self._budget.spend(text=len(text))
            return text

        def substitute(inner: str) -> str:
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"  # ${!Literal} is written out as ${Literal}
            if inner in variables:
                return _text(self.resolve(variables[inner]))
            if "." in inner and inner not in self._pseudo and inner not in self._parameters:
                logical_id, attribute = inner.split(".", 1)
                return self._fn_getatt([logical_id, attribute])
            return _text(self._ref(inner))

        return _SUB_VARIABLE.sub(replace, argument)

    def _fn_join(self, argument: Any) -> str:
        parts = self.resolve(argument)
        if not (isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str)):
            raise Unresolvable(f"Fn::Join takes [delimiter, [values]], got {argument!r}")
        if not isinstance(parts[1], list):
            raise Unresolvable(f"Fn::Join needs a list of values, got {parts[1]!r}")
        texts = [_text(item) for item in parts[1]]
        # Counted before it is made: the parts may be one long text many times.
        self._budget.spend(text=sum(map(len, texts)) + len(parts[0]) * len(texts))
        return parts[0].join(texts)

    def _fn_select(self, argument: Any) -> Any:
        parts = self.resolve(argument)
        if not (isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], list)):
            raise Unresolvable(f"Fn::Select takes [index, [values]], got {argument!r}")
        try:
            index = int(parts[0])
            if index < 0:
                raise IndexError(index)
            return parts[1][index]
        except (ValueError, TypeError, IndexError):
            raise Unresolvable(f"Fn::Select: no item {parts[0]!r} in {parts[1]!r}") from None

    def _fn_split(self, argument: Any) -> list[str]:
        parts = self.resolve(argument)
        if not (isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str)):
            raise Unresolvable(f"Fn::Split takes [delimiter, string], got {argument!r}")
        pieces = _text(parts[1]).split(parts[0])
        self._budget.spend(len(pieces))
        return pieces

    def _fn_findinmap(self, argument: Any) -> Any:
        parts = self.resolve(argument)
        if not (isinstance(parts, list) and len(parts) == 3):
            raise Unresolvable(f"Fn::FindInMap takes [map, key, key], got {argument!r}")
        value: Any = self._mappings
        for part in parts:
            if not isinstance(value, Mapping) or _text(part) not in value:
                raise Unresolvable(f"Fn::FindInMap: no {parts!r} in Mappings")
            value = value[_text(part)]
        return self.resolve(value)

    def _fn_base64(self, argument: Any) -> str:
        text = _text(self.resolve(argument))
        self._budget.spend(text=len(text) * 2)
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _fn_if(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
            raise Unresolvable(f"Fn::If takes [condition, then, else], got {argument!r}")
        return self.resolve(argument[1] if self.condition(argument[0]) else argument[2])

    def _fn_equals(self, argument: Any) -> bool:
        parts = self.resolve(argument)
        if not (isinstance(parts, list) and len(parts) == 2):
            raise Unresolvable(f"Fn::Equals takes [value, value], got {argument!r}")
        return _text(parts[0]) == _text(parts[1])

    def _fn_not(self, argument: Any) -> bool:
        parts = self._booleans("Fn::Not", argument)
        if len(parts) != 1:
            raise Unresolvable(f"Fn::Not takes [condition], got {argument!r}")
        return not parts[0]

    def _fn_and(self, argument: Any) -> bool:
        return all(self._booleans("Fn::And", argument))

    def _fn_or(self, argument: Any) -> bool:
        return any(self._booleans("Fn::Or", argument))

    def _booleans(self, name: str, argument: Any) -> list[bool]:
        parts = self.resolve(argument)
        if not isinstance(parts, list) or not all(isinstance(p, bool) for p in parts):
            raise Unresolvable(f"{name} takes a list of conditions, got {argument!r}")
        return parts

    def _fn_importvalue(self, argument: Any) -> Any:
        name = self.resolve(argument)
        if self._other_stacks is None or not isinstance(name, str):
            raise Unresolvable(f"Fn::ImportValue {name!r} is another stack's export")
        return self._other_stacks.export(name)

    def _fn_getstackoutput(self, argument: Any) -> Any:
        """CDK's weak cross-stack reference (``@aws-cdk/core:defaultCrossStackReferences``)."""
        parts = self.resolve(argument)
        if not (
            isinstance(parts, Mapping)
            and isinstance(parts.get("StackName"), str)
            and isinstance(parts.get("OutputName"), str)
        ):
            raise Unresolvable(
                f"Fn::GetStackOutput takes {{StackName, OutputName}}, got {argument!r}"
            )
        stack, output = parts["StackName"], parts["OutputName"]
        if self._other_stacks is None:
            raise Unresolvable(f"Fn::GetStackOutput {output!r} is an output of stack {stack!r}")
        return self._other_stacks.output(stack, output)

    def _fn_getazs(self, argument: Any) -> Any:
        raise Unresolvable("Fn::GetAZs depends on the account's availability zones")

    def _fn_cidr(self, argument: Any) -> Any:
        raise Unresolvable("Fn::Cidr is not evaluated locally")


# Python frames: a few per level of resolve(), well inside the interpreter's limit.
_MAX_RESOLVE_DEPTH = MAX_DEPTH + 50


def _section(template: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = template.get(name)
    return section if isinstance(section, Mapping) else {}


def _text(value: Any) -> str:
    """A scalar as CloudFormation writes it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise Unresolvable(f"expected a string, got {value!r}")
