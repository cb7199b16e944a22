"""Serving a WebSocket API described by an infrastructure template.

:func:`load_template` reads an AWS SAM or CloudFormation template (YAML or
JSON) or a Serverless Framework ``serverless.yml`` and returns an
:class:`ImportedApi`: an :class:`~emulator.model.config.ApiConfig` for
:class:`~emulator.app.Emulator`, plus what could not be imported (routes whose
function is not Python, values only known once deployed), so that nothing is
dropped silently. Pure: the only I/O is reading the template (and checking
that code folders exist); the process environment is passed in.

Modules: :mod:`.cloudformation` and :mod:`.serverless` (the two formats),
:mod:`.functions` (a template's Lambda functions), :mod:`.intrinsics`
(CloudFormation's functions), :mod:`.variables` (the framework's ``${...}``),
:mod:`.model` (the values, and the routes.yaml document they become).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import MAX_DEPTH, json_too_deep
from emulator.model.templates.cloudformation import import_cloudformation
from emulator.model.templates.model import AuthorizerSpec, ImportedApi
from emulator.model.templates.serverless import import_serverless
from emulator.model.yaml_files import read_bounded, read_template_yaml

__all__ = ["AuthorizerSpec", "ImportedApi", "load_template"]


def load_template(
    path: str | os.PathLike[str],
    *,
    api: str | None = None,
    parameters: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    api_id: str | None = None,
) -> ImportedApi:
    """Import the WebSocket API of a template; its code folders resolve from its folder.

    ``api`` picks one API by logical id (required when the template has more
    than one). ``parameters`` are CloudFormation parameter values (over each
    parameter's ``Default``), or for a serverless.yml the CLI options
    ``${opt:...}`` reads (``stage``, ``region``). ``environ`` is what
    ``${env:...}`` reads: pass ``os.environ`` to behave like the framework's
    CLI; None reads nothing. ``api_id`` is the id the emulator will serve the
    API under (``Emulator(api_id=...)``): references to the API itself
    (``!Ref Api``, ``${Api}`` in a ``CALLBACK_URL``, ``!GetAtt Api.ApiId``)
    resolve to it; without it they are only known once deployed. Raises
    :class:`ConfigError`.
    """
    source = os.fspath(path)
    try:
        return _load(Path(path), source, api, parameters, environ, api_id)
    except ConfigError as exc:
        if exc.source:
            raise
        raise exc.at("", source) from exc.__cause__


def _load(
    path: Path,
    source: str,
    api: str | None,
    parameters: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    api_id: str | None = None,
) -> ImportedApi:
    base_dir = path.absolute().parent
    document = _read(path, source)
    if not isinstance(document, Mapping):
        raise ConfigError(f"must be a mapping, got {type(document).__name__}", source=source)
    if "Resources" in document:
        return import_cloudformation(
            document,
            base_dir=base_dir,
            source=source,
            api=api,
            parameters=parameters,
            api_id=api_id,
        )
    if "service" in document or "functions" in document:
        return import_serverless(
            document,
            base_dir=base_dir,
            source=source,
            api=api,
            options=parameters,
            environ=environ,
            api_id=api_id,
        )
    problem = (
        "is neither a CloudFormation or SAM template (no 'Resources')"
        " nor a serverless.yml (no 'service')"
    )
    raise ConfigError(problem, source=source)


def _read(path: Path, source: str) -> object:
    if path.suffix.lower() != ".json":
        return read_template_yaml(path)
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
            raise _DuplicateKey(key)  # CloudFormation rejects it; json would keep the last
        document[key] = value
    return document
