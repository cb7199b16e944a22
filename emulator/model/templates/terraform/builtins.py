"""Terraform's built-in functions that a configuration's names and settings use.

A pure module, but for ``file()``, which reads a file beside the
configuration. String, collection, number, encoding and type-conversion
functions are evaluated; those that need what only exists at plan time (the
hash of a zip ``archive_file`` builds, the clock, a random id) give an
:class:`~.evaluate.Unknown` naming themselves. Reference: Terraform's
"Functions" documentation (each function's page).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.model.bounds import MAX_FILE_BYTES, parse_json
from emulator.model.templates.terraform.evaluate import Function
from emulator.model.templates.terraform.values import EvalError, Unknown, to_string

__all__ = ["builtins"]

# Known to Terraform, not evaluated here: each gives an Unknown saying so.
_NOT_LOCAL = (
    "filebase64sha256",
    "filesha256",
    "filesha1",
    "filemd5",
    "filebase64sha512",
    "filesha512",
    "timestamp",
    "plantimestamp",
    "uuid",
    "uuidv5",
    "bcrypt",
    "templatefile",
    "fileset",
    "filebase64",
)


def builtins(base_dir: Path) -> dict[str, Function]:
    """Every function, ``file()`` reading paths relative to ``base_dir``."""
    functions: dict[str, Function] = {
        name: _wrap(function, name) for name, function in _SIMPLE.items()
    }
    functions["file"] = _wrap(lambda path: _file(base_dir / _text(path)), "file")
    functions["abspath"] = _wrap(lambda path: str((base_dir / _text(path)).resolve()), "abspath")
    for name in _NOT_LOCAL:
        functions[name] = _not_local(name)
    return functions


def _file(path: Path) -> str:
    """``file()``: a UTF-8 file, as large as a configuration file may be."""
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES // (1 << 20)} MiB, the most read")
    return raw.decode("utf-8")


def _jsondecode(text: str) -> Any:
    """``jsondecode()``, as deep as any JSON the emulator reads (a ValueError past it)."""
    return parse_json(text)


def _not_local(name: str) -> Function:
    def call(args: list[Any], line: int) -> Any:
        return Unknown(f"{name}() is not evaluated locally")

    return call


def _wrap(function: Callable[..., Any], name: str) -> Function:
    """Terraform's function ``name``: its errors say ``name(): why`` at the call's line."""

    def call(args: list[Any], line: int) -> Any:
        try:
            return function(*args)
        except EvalError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, OSError) as exc:
            raise EvalError(f"{name}(): {exc}", line) from exc

    return call


def _text(value: Any) -> str:
    text = to_string(value, 0)
    if isinstance(text, Unknown):
        raise ValueError(text.reason)
    return text


def _lookup(mapping: dict[str, Any], key: Any, *default: Any) -> Any:
    if _text(key) in mapping:
        return mapping[_text(key)]
    if default:
        return default[0]
    raise KeyError(f"no key {_text(key)!r} and no default")


def _format(spec: str, *values: Any) -> str:
    remaining = list(values)

    def replace(match: re.Match[str]) -> str:
        verb = match.group(2)
        if verb == "%":
            return "%"
        value = remaining.pop(0)
        if verb == "q":
            return json.dumps(_text(value))
        if verb == "d":
            return ("%" + match.group(1) + "d") % int(float(_text(value)))
        if verb in "fegEG":
            return ("%" + match.group(1) + verb) % float(_text(value))
        if verb == "v" and isinstance(value, dict | list):
            return _jsonencode(value)
        return ("%" + match.group(1) + "s") % _text(value)

    return re.sub(r"%([-+ #0-9.]*)([sdvqfegEG%])", replace, spec)


def _replace(text: Any, search: Any, replacement: Any) -> str:
    pattern = _text(search)
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        # Terraform's $1 and ${name} references; Python's are \1 and \g<name>.
        python = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", _text(replacement))
        return re.sub(pattern[1:-1], python, _text(text))
    return _text(text).replace(pattern, _text(replacement))


def _jsonencode(value: Any) -> str:
    def plain(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: plain(item[key]) for key in sorted(item)}  # Terraform sorts keys
        if isinstance(item, list):
            return [plain(member) for member in item]
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, Unknown):
            raise ValueError(item.reason)
        return item

    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mapping in maps:
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise TypeError(f"expected maps, got {mapping!r}")
        merged.update(mapping)
    return merged


def _toset(values: Any) -> list[Any]:
    unique = list(dict.fromkeys(_text(v) if not isinstance(v, dict | list) else v for v in values))
    return sorted(unique) if all(isinstance(v, str) for v in unique) else unique


def _flatten(values: Any) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(_flatten(value) if isinstance(value, list) else [value])
    return flat


def _number(value: Any) -> int | float:
    number = float(_text(value))
    return int(number) if number.is_integer() else number


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def call(*values: Any) -> Any:
        if not values:
            raise ValueError("needs at least one number")
        return pick(_number(v) for v in values)

    return call


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty argument")


def _element(values: list[Any], index: Any) -> Any:
    if not values:
        raise ValueError("the list is empty")
    return values[int(_number(index)) % len(values)]


def _substr(text: Any, offset: Any, length: Any) -> str:
    value, start, size = _text(text), int(_number(offset)), int(_number(length))
    if start < 0:
        start += len(value)
    return value[start:] if size == -1 else value[start : start + size]


def _hash(name: str) -> Callable[[Any], str]:
    return lambda text: hashlib.new(name, _text(text).encode("utf-8")).hexdigest()


_SIMPLE: dict[str, Callable[..., Any]] = {
    # strings
    "upper": lambda s: _text(s).upper(),
    "lower": lambda s: _text(s).lower(),
    "title": lambda s: _text(s).title(),
    "trimspace": lambda s: _text(s).strip(),
    "trim": lambda s, chars: _text(s).strip(_text(chars)),
    "trimprefix": lambda s, p: _text(s).removeprefix(_text(p)),
    "trimsuffix": lambda s, p: _text(s).removesuffix(_text(p)),
    "startswith": lambda s, p: _text(s).startswith(_text(p)),
    "endswith": lambda s, p: _text(s).endswith(_text(p)),
    "strcontains": lambda s, p: _text(p) in _text(s),
    "replace": _replace,
    "format": lambda spec, *values: _format(_text(spec), *values),
    "formatlist": lambda spec, *lists: [
        _format(_text(spec), *row) for row in zip(*lists, strict=True)
    ],
    "join": lambda sep, *lists: _text(sep).join(_text(v) for items in lists for v in items),
    "split": lambda sep, s: _text(s).split(_text(sep)),
    "substr": _substr,
    "regex": lambda pattern, s: _regex(_text(pattern), _text(s)),
    "tostring": lambda v: None if v is None else _text(v),
    "tonumber": lambda v: None if v is None else _number(v),
    "tobool": lambda v: None if v is None else {"true": True, "false": False}[_text(v)],
    # collections
    "length": lambda v: len(v if not isinstance(v, str) else _text(v)),
    "lookup": _lookup,
    "merge": _merge,
    "concat": lambda *lists: [item for items in lists for item in items],
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[key] for key in sorted(m)],
    "contains": lambda items, value: value in items,
    "element": _element,
    "coalesce": _coalesce,
    "coalescelist": lambda *lists: next(items for items in lists if items),
    "compact": lambda items: [item for item in items if item not in (None, "")],
    "distinct": lambda items: list(dict.fromkeys(items)),
    "flatten": _flatten,
    "toset": _toset,
    "tolist": list,
    "tomap": dict,
    "zipmap": lambda keys, values: dict(zip(map(_text, keys), values, strict=True)),
    "range": lambda *bounds: list(range(*(int(_number(b)) for b in bounds))),
    "one": lambda items: _one(items),
    "index": lambda items, value: items.index(value),
    "reverse": lambda items: list(reversed(items)),
    "sort": lambda items: sorted(_text(item) for item in items),
    # numbers
    "max": _extreme(max),
    "min": _extreme(min),
    "abs": lambda n: abs(_number(n)),
    "ceil": lambda n: math.ceil(_number(n)),
    "floor": lambda n: math.floor(_number(n)),
    # encodings and hashes
    "jsonencode": _jsonencode,
    "jsondecode": lambda s: _jsondecode(_text(s)),
    "base64encode": lambda s: base64.b64encode(_text(s).encode("utf-8")).decode("ascii"),
    "base64decode": lambda s: base64.b64decode(_text(s)).decode("utf-8"),
    "md5": _hash("md5"),
    "sha1": _hash("sha1"),
    "sha256": _hash("sha256"),
    # files and paths (pure path manipulation)
    "basename": lambda p: _text(p).rstrip("/").rsplit("/", 1)[-1],
    "dirname": lambda p: _text(p).rstrip("/").rsplit("/", 1)[0] if "/" in _text(p) else ".",
    "pathexpand": lambda p: _text(p),
}


def _one(items: list[Any]) -> Any:
    if len(items) > 1:
        raise ValueError(f"must have at most one element, got {len(items)}")
    return items[0] if items else None


def _regex(pattern: str, text: str) -> Any:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"{pattern!r} does not match {text!r}")
    if match.groupdict():
        return match.groupdict()
    return list(match.groups()) if match.groups() else match.group(0)
