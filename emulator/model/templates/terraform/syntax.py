"""The HCL syntax the Terraform importer evaluates, as plain values.

A pure module. :mod:`.hcl` turns python-hcl2's parse tree into these frozen
dataclasses, so that nothing else depends on the parser's classes. Every
expression knows the line it starts on, for messages. The subset is the one
Terraform configurations use: literals, templates (``"${...}"`` with
``%{if}``/``%{for}`` directives, heredocs), references (``var.x``,
``aws_lambda_function.f.arn``, ``local.m["k"]``, splats), function calls,
tuples and objects, ``for`` expressions, conditionals and operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Attribute",
    "Binary",
    "Block",
    "Body",
    "Call",
    "Conditional",
    "Expr",
    "ForExpr",
    "GetAttr",
    "Index",
    "Literal",
    "ObjectExpr",
    "Splat",
    "TemplateExpr",
    "TemplateFor",
    "TemplateIf",
    "TupleExpr",
    "Unary",
    "Variable",
]


@dataclass(frozen=True)
class Expr:
    line: int


@dataclass(frozen=True)
class Literal(Expr):
    value: str | int | float | bool | None


@dataclass(frozen=True)
class TemplateExpr(Expr):
    """A string template: its parts' values, written as strings, in order."""

    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class TemplateIf(Expr):
    condition: Expr
    then: TemplateExpr
    otherwise: TemplateExpr


@dataclass(frozen=True)
class TemplateFor(Expr):
    key_name: str | None
    value_name: str
    collection: Expr
    body: TemplateExpr


@dataclass(frozen=True)
class Variable(Expr):
    """A bare name: the root of a reference (``var``, ``local``, a resource type)."""

    name: str


@dataclass(frozen=True)
class GetAttr(Expr):
    target: Expr
    name: str


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    key: Expr


@dataclass(frozen=True)
class Splat(Expr):
    """``target[*].a[0]``: ``steps`` (GetAttr/Index on a placeholder) applied to each item."""

    target: Expr
    steps: tuple[GetAttr | Index, ...]


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]
    expand_last: bool = False  # f(list...)


@dataclass(frozen=True)
class TupleExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ObjectExpr(Expr):
    items: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True)
class Conditional(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True)
class Binary(Expr):
    operator: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary(Expr):
    operator: str
    operand: Expr


@dataclass(frozen=True)
class ForExpr(Expr):
    """``[for k, v in c : value if cond]``, or ``{for ... : key => value...}`` with ``key``."""

    key_name: str | None
    value_name: str
    collection: Expr
    key: Expr | None
    value: Expr
    condition: Expr | None
    group: bool = False


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Expr
    line: int


@dataclass(frozen=True)
class Body:
    attributes: Mapping[str, Attribute]
    blocks: tuple[Block, ...]

    def blocks_of(self, kind: str) -> list[Block]:
        return [block for block in self.blocks if block.type == kind]


@dataclass(frozen=True)
class Block:
    """``type "label" "label" { body }``, in ``file`` (as given), at ``line``."""

    type: str
    labels: tuple[str, ...]
    body: Body
    file: str
    line: int
