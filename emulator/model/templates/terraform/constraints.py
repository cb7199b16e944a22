"""A variable's ``type`` constraint, applied to its value as Terraform does.

A pure module. ``string``, ``number``, ``bool`` convert between each other
(``5`` becomes ``"5"`` for a string); ``list``, ``set``, ``map``, ``tuple``
and ``object`` convert their elements; an ``object`` attribute declared
``optional(type, default)`` gets its default when the value leaves it out,
and attributes the type does not declare are dropped. ``any`` keeps the value.
Reference: Terraform's "Type Constraints" documentation.
"""

from __future__ import annotations

from typing import Any

from emulator.model.templates.terraform.syntax import Call, Expr, ObjectExpr, TupleExpr, Variable
from emulator.model.templates.terraform.values import EvalError, Unknown, to_string

__all__ = ["convert"]


def convert(value: Any, constraint: Expr | None, default_of: Any) -> Any:
    """``value`` as type ``constraint`` (None: any); ``default_of(expr)`` evaluates
    an ``optional()`` default. Raises :class:`EvalError` when it cannot convert."""
    if constraint is None or isinstance(value, Unknown) or value is None:
        return value
    line = constraint.line
    if isinstance(constraint, Variable):
        return _primitive(value, constraint.name, line)
    if not isinstance(constraint, Call) or not constraint.args:
        raise EvalError("not a type constraint", line)
    kind, argument = constraint.name, constraint.args[0]
    if kind in ("list", "set"):
        items = _sequence(value, kind, line)
        converted = [convert(item, argument, default_of) for item in items]
        return (
            list(dict.fromkeys(converted)) if kind == "set" and _hashable(converted) else converted
        )
    if kind == "map":
        mapping = _mapping(value, line)
        return {key: convert(item, argument, default_of) for key, item in mapping.items()}
    if kind == "tuple" and isinstance(argument, TupleExpr):
        items = _sequence(value, kind, line)
        if len(items) != len(argument.items):
            raise EvalError(f"a tuple of {len(argument.items)} is expected, got {value!r}", line)
        return [convert(i, t, default_of) for i, t in zip(items, argument.items, strict=True)]
    if kind == "object" and isinstance(argument, ObjectExpr):
        return _object(_mapping(value, line), argument, default_of)
    if kind == "optional":
        return convert(value, argument, default_of)
    raise EvalError(f"unknown type constraint {kind}()", line)


def _object(value: dict[str, Any], declared: ObjectExpr, default_of: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_expr, attribute_type in declared.items:
        name = str(getattr(key_expr, "value", ""))
        optional = isinstance(attribute_type, Call) and attribute_type.name == "optional"
        if name in value:
            result[name] = convert(value[name], attribute_type, default_of)
        elif optional:
            assert isinstance(attribute_type, Call)
            default = default_of(attribute_type.args[1]) if len(attribute_type.args) > 1 else None
            result[name] = convert(default, attribute_type.args[0], default_of)
        else:
            raise EvalError(f"attribute {name!r} is required", declared.line)
    return result


def _primitive(value: Any, kind: str, line: int) -> Any:
    if kind == "any":
        return value
    if kind == "string":
        if isinstance(value, dict | list):
            raise EvalError(f"a string is expected, got {value!r}", line)
        return to_string(value, line)
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            number = float(str(value))
        except ValueError:
            raise EvalError(f"a number is expected, got {value!r}", line) from None
        return int(number) if number.is_integer() else number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise EvalError(f"true or false is expected, got {value!r}", line)
    raise EvalError(f"unknown type {kind!r}", line)


def _sequence(value: Any, kind: str, line: int) -> list[Any]:
    if not isinstance(value, list):
        raise EvalError(f"a {kind} is expected, got {value!r}", line)
    return value


def _mapping(value: Any, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvalError(f"a map or object is expected, got {value!r}", line)
    return value


def _hashable(values: list[Any]) -> bool:
    return all(isinstance(v, str | int | float | bool) for v in values)
