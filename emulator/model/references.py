"""References to resources inside resolved strings: ``Ref X`` and ``Fn::GetAtt X.Attr``.

A pure module. A value that names a resource whose name or ARN is not known
yet (known once deployed, or once the emulator knows the region it serves)
holds a *reference token* where the value goes, so that
``!Sub arn:...:functions/${OnConnectFunction.Arn}/invocations`` still says
which function it names. :func:`references` reads the tokens back, and
:func:`substitute_references` replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "Reference",
    "has_references",
    "printable",
    "references",
    "substitute_references",
]

# Private-use characters: they never occur in a real template.
_OPEN, _CLOSE = "\ue000", "\ue001"
_TOKEN = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")


@dataclass(frozen=True)
class Reference:
    """A resource named by ``Ref`` (``attribute`` None) or ``Fn::GetAtt``."""

    logical_id: str
    attribute: str | None = None

    def token(self) -> str:
        suffix = f".{self.attribute}" if self.attribute is not None else ""
        return f"{_OPEN}{self.logical_id}{suffix}{_CLOSE}"

    def __str__(self) -> str:
        if self.attribute is None:
            return f"Ref {self.logical_id}"
        return f"Fn::GetAtt {self.logical_id}.{self.attribute}"


def references(value: str) -> list[Reference]:
    """The resources a resolved string refers to, in order."""
    found = []
    for inner in _TOKEN.findall(value):
        logical_id, dot, attribute = inner.partition(".")
        found.append(Reference(logical_id, attribute if dot else None))
    return found


def substitute_references(value: str, replacement: Callable[[Reference], str]) -> str:
    """A resolved string with each reference token replaced by ``replacement(reference)``."""

    def replace(match: re.Match[str]) -> str:
        logical_id, dot, attribute = match.group(1).partition(".")
        return replacement(Reference(logical_id, attribute if dot else None))

    return _TOKEN.sub(replace, value)


def printable(value: str) -> str:
    """A resolved string for a message: reference tokens written as ``${Logical.Attr}``."""
    return _TOKEN.sub(lambda match: "${" + match.group(1) + "}", value)


def has_references(value: object) -> bool:
    """Whether a resolved value holds a reference token anywhere."""
    if isinstance(value, str):
        return _OPEN in value
    if isinstance(value, Mapping):
        return any(has_references(v) for v in value.values())
    if isinstance(value, list):
        return any(has_references(v) for v in value)
    return False
