"""HCL expressions evaluated as Terraform evaluates them: table-driven, no files.

Each case is one expression, evaluated with ``var.*`` and ``local.*`` bound to
the values below; the expected values are Terraform's (its "Expressions" and
"Functions" documentation, and what ``terraform console`` prints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.model.templates.terraform.builtins import builtins
from emulator.model.templates.terraform.evaluate import Evaluator, Scope
from emulator.model.templates.terraform.hcl import parse_expression
from emulator.model.templates.terraform.values import (
    EvalError,
    Unknown,
    printable,
    reference,
    references,
)

VARIABLES = {
    "name": "simple-chat",
    "stage": "prod",
    "enabled": True,
    "routes": {"b": {"fn": "two", "timeout": 5}, "a": {"fn": "one", "timeout": 3}},
    "names": ["x", "y"],
    "count": 3,
    "missing": Unknown("variable 'missing' has no value"),
}


class _Namespace:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str, line: int) -> Any:
        if name not in self.values:
            raise EvalError(f"{name} is not declared", line)
        return self.values[name]


def evaluate(text: str) -> Any:
    scope = Scope(
        {
            "var": _Namespace(VARIABLES),
            "local": _Namespace({"arn": reference("aws_lambda_function.f", "arn")}),
            "path": {"module": ".", "root": "."},
        }
    )
    return Evaluator(builtins(Path("."))).evaluate(parse_expression(text, "test.tf", 1), scope)


CASES = [
    # literals and templates
    ('"plain"', "plain"),
    ('"${var.name}-${var.stage}"', "simple-chat-prod"),
    ('"${var.routes}"', VARIABLES["routes"]),  # a lone interpolation is the value itself
    ('"$${literal} %%{x}"', "${literal} %{x}"),
    ('"%{if var.enabled}on%{else}off%{endif}"', "on"),
    ('"%{for n in var.names}<${n}>%{endfor}"', "<x><y>"),
    ('"tab\\tquote\\" \\u00e9"', 'tab\tquote" \u00e9'),
    ("42", 42),
    ("-1", -1),
    ("1.5", 1.5),
    ("true", True),
    ("null", None),
    ('[1, "two", var.stage]', [1, "two", "prod"]),
    ('{ a = 1, "b-c" = var.stage, (var.stage) = 2 }', {"a": 1, "b-c": "prod", "prod": 2}),
    # references
    ('var.routes["a"].fn', "one"),
    ("var.routes.b.timeout", 5),
    ("var.names[1]", "y"),
    ("path.module", "."),
    # operators
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("7 / 2", 3.5),
    ("7 % 4", 3),
    ('var.stage == "prod" ? "WARNING" : "INFO"', "WARNING"),
    ("!var.enabled || var.count >= 3", True),
    ('"5" + 1', 6),  # strings convert to numbers, as in Terraform
    ("1 == 1.0", True),
    ('true == "true"', False),
    # for expressions and splats
    ("[for n in var.names : upper(n)]", ["X", "Y"]),
    ("{ for k, r in var.routes : k => r.fn }", {"a": "one", "b": "two"}),
    ("[for k, r in var.routes : k if r.timeout > 4]", ["b"]),
    (
        '{ for k, r in var.routes : r.timeout > 4 ? "slow" : "fast" => k... }',
        {"fast": ["a"], "slow": ["b"]},
    ),
    ("[{ a = 1 }, { a = 2 }][*].a", [1, 2]),
    # functions
    ('jsonencode({ statusCode = 200, body = "x" })', '{"body":"x","statusCode":200}'),
    ('lookup(var.routes, "c", "none")', "none"),
    ('format("%s-%03d %q", "a", 7, "b")', 'a-007 "b"'),
    ('replace(var.name, "-", "_")', "simple_chat"),
    ('replace("a1b22", "/[0-9]+/", "#")', "a#b#"),
    ("merge({ a = 1 }, { b = 2 }, { a = 3 })", {"a": 3, "b": 2}),
    ('toset(["b", "a", "b"])', ["a", "b"]),
    ("max([1, 5, 3]...)", 5),
    ("length(var.names)", 2),
    ('join(",", var.names)', "x,y"),
    ('split(",", "a,b")', ["a", "b"]),
    ('coalesce("", null, "x")', "x"),
    ('try(var.routes["c"].fn, "fallback")', "fallback"),
    ('can(var.routes["c"])', False),
    ('trimsuffix(upper(var.stage), "D")', "PRO"),
    ("keys(var.routes)", ["a", "b"]),
    ("element(var.names, 3)", "y"),
    ('substr("hello", 1, 3)', "ell"),
    ('base64encode("hi")', "aGk="),
    ('sha1("x")', "11f6ad8ec52a2984abaafd7c3b516503785c2072"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_an_expression_has_terraforms_value(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("var.missing", "variable 'missing' has no value"),
        ('"${var.missing}-x"', "variable 'missing' has no value"),
        ("upper(var.missing)", "variable 'missing' has no value"),
        ('filebase64sha256("build/a.zip")', "filebase64sha256() is not evaluated locally"),
        ("var.missing ? 1 : 2", "variable 'missing' has no value"),
        ("[for n in var.missing : n]", "variable 'missing' has no value"),
    ],
    ids=["variable", "template", "call", "plan-time-function", "condition", "for"],
)
def test_what_cannot_be_known_locally_is_unknown_with_its_reason(text: str, reason: str) -> None:
    value = evaluate(text)
    assert isinstance(value, Unknown)
    assert value.reason == reason


def test_a_computed_attribute_stays_a_reference_through_templates() -> None:
    value = evaluate('"arn:${local.arn}:x"')
    assert references(value) == [("aws_lambda_function.f", "arn")]
    assert printable(value) == "arn:${aws_lambda_function.f.arn}:x"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("var.nope", "nope is not declared"),
        ("nope.x", "'nope' is not declared"),
        ('var.names["a"]', "a list index must be a whole number, got 'a'"),
        ("var.names[5]", "index 5 is out of range (length 2)"),
        ('var.routes["c"]', "the map has no key 'c'"),
        ('1 + "a"', "expected a number, got 'a'"),
        ("1 / 0", "division by zero"),
        ('"${var.routes}x"', "a map cannot be written into a string"),
        ("nosuch(1)", "unknown function nosuch()"),
        ('lookup(var.routes, "c")', "lookup(): \"no key 'c' and no default\""),
        ('{ for n in var.names : "k" => n }', "two items have the key 'k' (add ... to group them)"),
    ],
)
def test_a_mistake_is_an_error_with_its_line(text: str, problem: str) -> None:
    with pytest.raises(EvalError) as raised:
        evaluate(text)
    assert raised.value.problem == problem
    assert raised.value.line == 1
