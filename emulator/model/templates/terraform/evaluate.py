"""Evaluating HCL expressions as Terraform does, as far as a local run allows.

A pure module. Values are Python's: ``str``, ``int``/``float``, ``bool``,
``None`` (null), ``list`` (tuples, lists and sets) and ``dict`` (objects and
maps), plus what :mod:`.values` adds: reference tokens for what AWS computes
and :class:`~.values.Unknown` for what cannot be evaluated locally, which
spreads through the operations and calls that use it, like Terraform's
unknown values. Names are looked up in a :class:`Scope`; functions are
:mod:`.builtins`. Reference: Terraform's "Expressions" documentation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from emulator.model.templates.terraform.syntax import (
    Binary,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Splat,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TupleExpr,
    Unary,
    Variable,
)
from emulator.model.templates.terraform.values import EvalError, Unknown, kind_of, to_string

__all__ = ["Evaluator", "Function", "Scope"]


class Scope:
    """The names an expression sees: the module's, and what ``for``/``each`` bind."""

    def __init__(self, names: Mapping[str, Any], parent: Scope | None = None) -> None:
        self._names = names
        self._parent = parent

    def lookup(self, name: str, line: int) -> Any:
        if name in self._names:
            return self._names[name]
        if self._parent is not None:
            return self._parent.lookup(name, line)
        raise EvalError(f"{name!r} is not declared", line)

    def child(self, names: Mapping[str, Any]) -> Scope:
        return Scope(names, self)


Function = Callable[[list[Any], int], Any]


class Evaluator:
    """Evaluates expressions with the built-in ``functions``."""

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = functions

    def evaluate(self, expr: Expr, scope: Scope) -> Any:
        line = expr.line
        if isinstance(expr, Literal):
            return expr.value
        if isinstance(expr, TemplateExpr):
            return self._template(expr, scope)
        if isinstance(expr, Variable):
            return scope.lookup(expr.name, line)
        if isinstance(expr, GetAttr):
            return self._get_attr(self.evaluate(expr.target, scope), expr.name, line)
        if isinstance(expr, Index):
            return self._index(self.evaluate(expr.target, scope), expr.key, scope, line)
        if isinstance(expr, Splat):
            return self._splat(expr, scope)
        if isinstance(expr, TupleExpr):
            return [self.evaluate(item, scope) for item in expr.items]
        if isinstance(expr, ObjectExpr):
            return self._object(expr, scope)
        if isinstance(expr, Conditional):
            condition = self._bool(self.evaluate(expr.condition, scope), line)
            if isinstance(condition, Unknown):
                return condition
            return self.evaluate(expr.then if condition else expr.otherwise, scope)
        if isinstance(expr, Binary):
            return self._binary(expr, scope)
        if isinstance(expr, Unary):
            return self._unary(expr, scope)
        if isinstance(expr, ForExpr):
            return self._for(expr, scope)
        if isinstance(expr, Call):
            return self._call(expr, scope)
        raise EvalError(f"{type(expr).__name__} is not evaluated", line)

    # Templates

    def _template(self, expr: TemplateExpr, scope: Scope, *, whole: bool = True) -> Any:
        if (
            whole
            and len(expr.parts) == 1
            and not isinstance(expr.parts[0], TemplateIf | TemplateFor)
        ):
            return self.evaluate(expr.parts[0], scope)  # "${x}" is x itself, as in Terraform
        pieces = []
        for part in expr.parts:
            if isinstance(part, TemplateIf):
                condition = self._bool(self.evaluate(part.condition, scope), part.line)
                if isinstance(condition, Unknown):
                    return condition
                value: Any = self._text(part.then if condition else part.otherwise, scope)
            elif isinstance(part, TemplateFor):
                try:
                    iterations = self._iterate(part, scope)
                except _Unknowable as exc:
                    return exc.value
                texts = [self._text(part.body, scope.child(names)) for names in iterations]
                value = next((t for t in texts if isinstance(t, Unknown)), "".join(map(str, texts)))
            else:
                value = to_string(self.evaluate(part, scope), part.line)
            if isinstance(value, Unknown):
                return value
            pieces.append(value)
        return "".join(pieces)

    def _text(self, template: TemplateExpr, scope: Scope) -> str | Unknown:
        value = self._template(template, scope, whole=False)
        return value if isinstance(value, Unknown) else to_string(value, template.line)

    # References

    def _get_attr(self, target: Any, name: str, line: int) -> Any:
        if isinstance(target, Unknown):
            return target
        if isinstance(target, dict):
            if name not in target:
                raise EvalError(f"the object has no attribute {name!r}", line)
            return target[name]
        if hasattr(target, "get") and not isinstance(target, list | str):
            return target.get(name, line)
        raise EvalError(f"a {kind_of(target)} has no attribute {name!r}", line)

    def _index(self, target: Any, key_expr: Expr, scope: Scope, line: int) -> Any:
        key = self.evaluate(key_expr, scope)
        for value in (target, key):
            if isinstance(value, Unknown):
                return value
        if isinstance(target, list):
            try:
                number = _number(key, line)
            except EvalError:
                number = math.nan
            if isinstance(number, Unknown) or (
                isinstance(number, float) and not number.is_integer()
            ):
                raise EvalError(f"a list index must be a whole number, got {key!r}", line)
            if not 0 <= int(number) < len(target):
                raise EvalError(f"index {int(number)} is out of range (length {len(target)})", line)
            return target[int(number)]
        if isinstance(target, dict):
            name = to_string(key, line)
            if name not in target:
                raise EvalError(f"the map has no key {name!r}", line)
            return target[name]
        if hasattr(target, "get") and not isinstance(target, str):
            name = to_string(key, line)
            return target.get(name, line) if isinstance(name, str) else name
        raise EvalError(f"a {kind_of(target)} cannot be indexed", line)

    def _splat(self, expr: Splat, scope: Scope) -> Any:
        target = self.evaluate(expr.target, scope)
        if isinstance(target, Unknown):
            return target
        items = target if isinstance(target, list) else [] if target is None else [target]
        results = []
        for item in items:
            value = item
            for step in expr.steps:
                if isinstance(step, GetAttr):
                    value = self._get_attr(value, step.name, step.line)
                else:
                    value = self._index(value, step.key, scope, step.line)
            results.append(value)
        return results

    def _object(self, expr: ObjectExpr, scope: Scope) -> Any:
        result: dict[str, Any] = {}
        for key_expr, value_expr in expr.items:
            key = to_string(self.evaluate(key_expr, scope), key_expr.line)
            if isinstance(key, Unknown):
                return key
            result[key] = self.evaluate(value_expr, scope)
        return result

    # Operators

    def _binary(self, expr: Binary, scope: Scope) -> Any:
        operator, line = expr.operator, expr.line
        left = self.evaluate(expr.left, scope)
        if operator in ("&&", "||"):
            first = self._bool(left, line)
            if isinstance(first, Unknown):
                return first
            if first is (operator == "||"):
                return first
            return self._bool(self.evaluate(expr.right, scope), line)
        right = self.evaluate(expr.right, scope)
        for value in (left, right):
            if isinstance(value, Unknown):
                return value
        if operator == "==":
            return _equal(left, right)
        if operator == "!=":
            return not _equal(left, right)
        a, b = _number(left, line), _number(right, line)
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            return a if isinstance(a, Unknown) else b
        if operator in ("/", "%") and b == 0:
            raise EvalError("division by zero", line)
        result = _ARITHMETIC[operator](a, b)
        if isinstance(result, float) and result.is_integer() and operator != "/":
            return int(result)
        return result

    def _unary(self, expr: Unary, scope: Scope) -> Any:
        value = self.evaluate(expr.operand, scope)
        if expr.operator == "!":
            flag = self._bool(value, expr.line)
            return flag if isinstance(flag, Unknown) else not flag
        number = _number(value, expr.line)
        return number if isinstance(number, Unknown) else -number

    @staticmethod
    def _bool(value: Any, line: int) -> bool | Unknown:
        if isinstance(value, bool):
            return value
        if isinstance(value, Unknown):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise EvalError(f"expected true or false, got {value!r}", line)

    # for expressions and calls

    def _iterate(self, expr: ForExpr | TemplateFor, scope: Scope) -> list[dict[str, Any]]:
        collection = self.evaluate(expr.collection, scope)
        if isinstance(collection, Unknown):
            raise _Unknowable(collection)
        if isinstance(collection, dict):
            pairs: list[tuple[Any, Any]] = sorted(collection.items())  # Terraform: key order
        elif isinstance(collection, list):
            pairs = list(enumerate(collection))
        else:
            raise EvalError(f"a for expression needs a list or map, got {collection!r}", expr.line)
        names = []
        for key, value in pairs:
            bound = {expr.value_name: value}
            if expr.key_name is not None:
                bound[expr.key_name] = key
            names.append(bound)
        return names

    def _for(self, expr: ForExpr, scope: Scope) -> Any:
        try:
            iterations = self._iterate(expr, scope)
        except _Unknowable as exc:
            return exc.value
        items: list[Any] = []
        grouped: dict[str, Any] = {}
        for names in iterations:
            inner = scope.child(names)
            if expr.condition is not None:
                keep = self._bool(self.evaluate(expr.condition, inner), expr.line)
                if isinstance(keep, Unknown):
                    return keep
                if not keep:
                    continue
            value = self.evaluate(expr.value, inner)
            if expr.key is None:
                items.append(value)
                continue
            key = to_string(self.evaluate(expr.key, inner), expr.line)
            if isinstance(key, Unknown):
                return key
            if expr.group:
                grouped.setdefault(key, []).append(value)
            elif key in grouped:
                raise EvalError(
                    f"two items have the key {key!r} (add ... to group them)", expr.line
                )
            else:
                grouped[key] = value
        return items if expr.key is None else grouped

    def _call(self, expr: Call, scope: Scope) -> Any:
        if expr.name in ("try", "can"):
            return self._try(expr, scope)
        function = self.functions.get(expr.name)
        if function is None:
            raise EvalError(f"unknown function {expr.name}()", expr.line)
        args = [self.evaluate(arg, scope) for arg in expr.args]
        if expr.expand_last and args:
            last = args.pop()
            if isinstance(last, Unknown):
                return last
            if not isinstance(last, list):
                raise EvalError(f"only a list can be expanded with ..., got {last!r}", expr.line)
            args.extend(last)
        unknown = next((arg for arg in args if isinstance(arg, Unknown)), None)
        if unknown is not None:
            return unknown
        return function(args, expr.line)

    def _try(self, expr: Call, scope: Scope) -> Any:
        for arg in expr.args:
            try:
                value = self.evaluate(arg, scope)
            except EvalError:
                continue
            if isinstance(value, Unknown):
                return value
            return True if expr.name == "can" else value
        if expr.name == "can":
            return False
        raise EvalError("no argument of try() could be evaluated", expr.line)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": math.fmod,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


class _Unknowable(Exception):
    def __init__(self, value: Unknown) -> None:
        self.value = value


def _number(value: Any, line: int) -> Any:
    if isinstance(value, Unknown) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return int(number) if number.is_integer() and "." not in value else number
    raise EvalError(f"expected a number, got {value!r}", line)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)
