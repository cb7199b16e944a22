"""Writing HCL text, laid out as ``terraform fmt`` does.

A pure module. The document is in python-hcl2's dict form: a block is a
dict holding ``"__is_block__": True`` (under its labels, each a quoted
string key); an attribute's value is a quoted HCL string (``'"text"'``,
written as it is), an expression (``"${aws_x.y.id}"``, written without the
``${}``), a number, a bool, a list, or a dict (an object). python-hcl2's
own writer is not used: it drops the quote before ``$${`` in a string such
as ``"\\"$${x}\\""`` (8.1.4), which a mapping template holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["BLOCK", "quoted", "write_hcl"]

BLOCK = "__is_block__"
_INDENT = "  "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def quoted(text: str, *, template: bool = False) -> str:
    """A quoted HCL string; ``${`` and ``%{`` are written literally unless ``template``."""
    escaped = json.dumps(text, ensure_ascii=False)
    if not template:
        escaped = escaped.replace("${", "$${").replace("%{", "%%{")
    return escaped


def write_hcl(document: Mapping[str, Any]) -> str:
    """The HCL text of a document (top-level blocks only)."""
    return "\n".join(_body(document, 0, top=True)).strip("\n") + "\n"


def _body(body: Mapping[str, Any], depth: int, *, top: bool = False) -> list[str]:
    pad = _INDENT * depth
    attributes = [(k, v) for k, v in body.items() if k != BLOCK and not _is_blocks(v)]
    blocks = [(k, v) for k, v in body.items() if _is_blocks(v)]
    lines: list[str] = []
    width = max((len(_key(k)) for k, _ in attributes), default=0)
    for name, value in attributes:
        text = _value(value, depth)
        lines.append(f"{pad}{_key(name).ljust(width)} = {text}")
    for name, items in blocks:
        for item in items:
            labels, inner = _labels(item)
            if lines and (not top or lines[-1] != ""):
                lines.append("")
            header = " ".join([name, *labels])
            lines.append(f"{pad}{header} {{")
            lines.extend(_body(inner, depth + 1))
            lines.append(f"{pad}}}")
            if top:
                lines.append("")
    return lines


def _is_blocks(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, Mapping) and _labels(item)[1].get(BLOCK) for item in value)
    )


def _labels(item: Mapping[str, Any]) -> tuple[list[str], Mapping[str, Any]]:
    labels: list[str] = []
    while BLOCK not in item and len(item) == 1:
        ((label, inner),) = item.items()
        if not isinstance(inner, Mapping):
            break
        labels.append(label)
        item = inner
    return labels, item


def _key(name: str) -> str:
    return name if name.startswith('"') or _IDENTIFIER.fullmatch(name) else f'"{name}"'


def _value(value: Any, depth: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}") and not value.startswith('"'):
            return value[2:-1]
        return value  # already a quoted HCL string
    if isinstance(value, list):
        return "[" + ", ".join(_value(item, depth) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        pad = _INDENT * (depth + 1)
        width = max(len(_key(k)) for k in value)
        inner = [f"{pad}{_key(k).ljust(width)} = {_value(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + "\n".join(inner) + "\n" + _INDENT * depth + "}"
    raise TypeError(f"not an HCL value: {value!r}")
