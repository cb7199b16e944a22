"""Reading a template file: YAML (with CloudFormation's short forms) or JSON.

JSON is read strictly: a duplicate key is an error (CloudFormation rejects
it; :mod:`json` would keep the last). Errors are
:class:`~emulator.errors.ConfigError` naming the file, line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import MAX_DEPTH, json_too_deep
from emulator.model.yaml_files import read_bounded, read_template_yaml

__all__ = ["read_document", "read_json"]


def read_document(path: Path, source: str) -> object:
    """A template's document: JSON if the file name ends in ``.json``, else YAML."""
    if path.suffix.lower() != ".json":
        return read_template_yaml(path)
    return read_json(path, source)


def read_json(path: Path, source: str) -> object:
    """A JSON document within the bounds of any configuration file (size, depth)."""
    raw = read_bounded(path)
    try:
        deep = json_too_deep(raw.decode(json.detect_encoding(raw), "replace"))
        if deep is not None:
            line, column = deep
            problem = f"line {line}, column {column}: nested deeper than {MAX_DEPTH} levels"
            raise ConfigError(problem, source=source)
        return json.loads(raw, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg.lower()}"
        raise ConfigError(problem, source=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text: {exc.reason}", source=source) from exc
    except _DuplicateKey as exc:
        raise ConfigError(f"invalid JSON: duplicate key {exc.args[0]!r}", source=source) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document
