"""The values of the Terraform importer that a run of Terraform would only know later.

A pure module. An attribute AWS computes (an ARN, a generated id) is a
*reference token* inside a string (:func:`reference`), so that
``"integrations/${aws_apigatewayv2_integration.x.id}"`` still says which
integration it names (:func:`references`). What cannot be evaluated locally
is an :class:`Unknown` carrying the reason. A mistake in the configuration
raises :class:`EvalError` with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from emulator.model.references import has_references

__all__ = [
    "EvalError",
    "Unknown",
    "has_references",
    "kind_of",
    "printable",
    "reference",
    "references",
    "to_string",
]

# Private-use characters: they never occur in a real configuration. The opening
# one is the templates' (emulator.model.references), so that has_references
# finds Terraform's tokens too.
_OPEN, _SEPARATOR, _CLOSE = "\ue000", "\ue002", "\ue001"
_TOKEN = re.compile(f"{_OPEN}([^{_CLOSE}]*){_SEPARATOR}([^{_CLOSE}]*){_CLOSE}")


@dataclass(frozen=True)
class Unknown:
    """A value only known once deployed, or not evaluated locally; ``reason`` says which."""

    reason: str


class EvalError(Exception):
    """A configuration Terraform would reject; ``line`` is where."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def reference(address: str, attribute: str) -> str:
    """The token standing for ``address.attribute``, a value AWS computes."""
    return f"{_OPEN}{address}{_SEPARATOR}{attribute}{_CLOSE}"


def references(value: str) -> list[tuple[str, str]]:
    """The ``(address, attribute)`` pairs a string's tokens stand for, in order."""
    return [(match.group(1), match.group(2)) for match in _TOKEN.finditer(value)]


def printable(value: str) -> str:
    """A string for a message: each token written as ``${address.attribute}``."""
    return _TOKEN.sub(lambda m: "${" + m.group(1) + "." + m.group(2) + "}", value)


def to_string(value: Any, line: int) -> str | Unknown:
    """A primitive value as Terraform writes it into a string."""
    if isinstance(value, Unknown | str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        raise EvalError("a null value cannot be written into a string", line)
    raise EvalError(f"a {kind_of(value)} cannot be written into a string", line)


def kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__
