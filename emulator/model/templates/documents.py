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
from emulator.model.yaml_files import read_template_yaml

__all__ = ["read_document", "read_json"]


def read_document(path: Path, source: str) -> object:
    """A template's document: JSON if the file name ends in ``.json``, else YAML."""
    if path.suffix.lower() != ".json":
        return read_template_yaml(path)
    return read_json(path, source)


def read_json(path: Path, source: str) -> object:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ConfigError(f"cannot read the file ({reason})", source=source) from exc
    try:
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
