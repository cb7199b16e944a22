"""The ``models`` section: JSON schemas that routes validate messages against (spec §A.7.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from emulator.errors import ConfigError
from emulator.model.api import ModelConfig
from emulator.model.bounds import parse_json
from emulator.model.sections.checks import check_keys, mapping, show

__all__ = ["parse_models"]

_MODEL_KEYS = ("schema", "contentType")
# AWS: model names are alphanumeric (botocore apigatewayv2 CreateModel).
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")


def parse_models(data: object) -> dict[str, ModelConfig]:
    if data is None:
        return {}
    document = mapping(data, "models", "a mapping of model names to models with a 'schema'")
    models: dict[str, ModelConfig] = {}
    for name, value in document.items():
        if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
            problem = f"model names must be alphanumeric (AWS), got {show(name)}"
            raise ConfigError(problem, key="models")
        where = f"models.{name}"
        model = mapping(value, where, "a mapping with a 'schema' (a JSON schema)")
        check_keys(model, _MODEL_KEYS, where)
        schema = model.get("schema")
        if isinstance(schema, str):  # CloudFormation allows the schema as JSON text
            try:
                schema = parse_json(schema)
            except ValueError as exc:
                raise ConfigError(f"is not valid JSON: {exc}", key=f"{where}.schema") from exc
        if not isinstance(schema, Mapping):
            problem = f"must be a JSON schema (a mapping), got {show(schema)}"
            raise ConfigError(problem, key=f"{where}.schema")
        content_type = model.get("contentType", "application/json")
        if not isinstance(content_type, str):
            problem = f"must be a media type such as 'application/json', got {show(content_type)}"
            raise ConfigError(problem, key=f"{where}.contentType")
        models[name] = ModelConfig(name, dict(schema), content_type)
    return models
