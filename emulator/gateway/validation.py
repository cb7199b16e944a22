"""Request validation: JSON-schema models on messages, required parameters on ``$connect``.

Implements spec §A.7. A pure module, and the only one importing ``jsonschema``.

* A route with a ``modelSelectionExpression`` validates every message before
  its integration runs, Lambda or not: "Model validation occurs if you provide
  a model selection expression for either proxy or non-proxy integrations"
  (DG:websocket-api-request-validation). The expression (route selection
  grammar) picks a key of ``requestModels``, else ``$default``; "If there is no
  matching model and ``$default`` isn't defined, the validation fails". A body
  that is not JSON fails too [INFER]. On failure the client gets the
  ``Bad request body`` frame, byte for byte as documented
  (DG:apigateway-websocket-api-routes-integrations), and the backend is not called.
* Models are JSON schemas, draft 4 unless their ``$schema`` names another draft.
* ``$connect``'s ``requestParameters`` marked ``required`` must be present:
  [UNKNOWN] on AWS; the spec recommends REST's 400 and message (§A.7.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from emulator.errors import ConfigError
from emulator.model.api import ModelConfig, RouteRequest
from emulator.model.selection import TooMuchWork, parse_body

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = [
    "ModelValidators",
    "bad_request_body",
    "missing_parameters",
    "missing_parameters_body",
]

_DEFAULT = "$default"


def bad_request_body(connection_id: str, message_id: str) -> str:
    """The frame of a message that failed validation, spacing and ``messageId`` as AWS's."""
    return (
        f'{{"message" : "Bad request body", "connectionId": "{connection_id}",'
        f' "messageId": "{message_id}"}}'
    )


class ModelValidators:
    """The API's models, compiled once; raises :class:`ConfigError` for an invalid schema."""

    def __init__(self, models: Mapping[str, ModelConfig]) -> None:
        self._validators: dict[str, Validator] = {}
        if not models:
            return
        # Imported only for an API with models: jsonschema costs start-up time.
        from jsonschema import Draft4Validator, validators
        from jsonschema.exceptions import SchemaError

        for name, model in models.items():
            schema: dict[str, Any] = dict(model.schema)
            cls = validators.validator_for(schema, default=Draft4Validator)
            try:
                cls.check_schema(schema)
            except SchemaError as exc:
                problem = f"is not a valid JSON schema: {exc.message}"
                raise ConfigError(problem, key=f"models.{name}.schema") from exc
            self._validators[name] = cls(schema)

    def check(self, request: RouteRequest, body: str) -> str | None:
        """Why ``body`` fails the route's validation (for logs), or None when it passes."""
        expression = request.model_selection_expression
        if expression is None:
            return None
        try:
            document = parse_body(body)
        except ValueError:
            return "the body is not JSON"
        try:
            key = expression.evaluate(document)
            name = request.request_models.get(key) or request.request_models.get(_DEFAULT)
            if name is None:
                return f"no model for {key!r} and no $default model"
            validator = self._validators[name]
            found = validator.iter_errors(document)  # type: ignore[arg-type]  # any JSON value
            errors = sorted(found, key=lambda error: (error.json_path, error.message))
        except (RecursionError, TooMuchWork):
            # A body nested past what a recursive schema or path can follow: it is
            # refused like any body that fails validation, not left to crash.
            return "the body is nested too deeply, or too large, to validate"
        if not errors:
            return None
        # AWS logs these as $context.error.validationErrorString.
        return f"model {name!r}: " + "; ".join(error.message for error in errors)


def missing_parameters(
    request: RouteRequest,
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]] | None,
) -> list[str]:
    """The required ``route.request.*`` parameters a ``$connect`` request lacks, by name."""
    header_names = {name.lower() for name, _ in headers}
    query_names = {name for name, _ in query or ()}
    missing = []
    for parameter, required in request.request_parameters.items():
        if not required:
            continue
        kind, _, name = parameter.removeprefix("route.request.").partition(".")
        present = name.lower() in header_names if kind == "header" else name in query_names
        if not present:
            missing.append(name)
    return missing


def missing_parameters_body(names: Sequence[str]) -> bytes:
    """The 400 body: REST's request validator message (spec §A.7.2)."""
    message = f"Missing required request parameters: [{', '.join(names)}]"
    return json.dumps({"message": message}).encode()
