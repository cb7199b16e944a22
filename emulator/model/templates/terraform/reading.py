"""Reading a Terraform resource's settings, each error and warning at its line.

A pure module. :class:`Reader` evaluates one setting at a time (so that a
setting that cannot be evaluated locally matters only where it is used),
turns a configuration mistake into a :class:`~emulator.errors.ConfigError`
naming the file, line, resource and setting, and finds the resources a
setting refers to (``integrations/${aws_apigatewayv2_integration.x.id}``).
"""

from __future__ import annotations

from typing import Any

from emulator.errors import ConfigError
from emulator.model.templates.model import MILLIS_PROBLEM, wait_seconds
from emulator.model.templates.terraform.configuration import Configuration, Instance
from emulator.model.templates.terraform.values import (
    EvalError,
    Unknown,
    has_references,
    printable,
    references,
    to_string,
)

__all__ = ["Reader", "env_text", "where"]


def where(instance: Instance, name: str | None = None) -> str:
    """``file:line: address.name``: where a setting is written."""
    attribute = instance.attribute(name) if name else None
    line = attribute.line if attribute is not None else instance.block.line
    suffix = f".{name}" if name else ""
    return f"{instance.block.file}:{line}: {instance.address}{suffix}"


class Reader:
    """The settings of one configuration's resources."""

    def __init__(self, configuration: Configuration, source: str) -> None:
        self.c = configuration
        self.source = source
        self.warnings = configuration.warnings
        self.by_address = {
            instance.address: instance
            for kind in (
                "aws_lambda_function",
                "aws_apigatewayv2_integration",
                "aws_apigatewayv2_authorizer",
                "aws_apigatewayv2_route",
            )
            for instance in configuration.instances(kind)
        }

    def value(self, instance: Instance, name: str) -> Any:
        """A setting's value; a configuration error names its file and line."""
        try:
            value = instance.value(name)
        except EvalError as exc:
            file = instance.block.file
            raise ConfigError(
                exc.problem, key=f"{instance.address}.{name}", source=f"{file}:{exc.line}"
            ) from exc
        return value

    def text(self, instance: Instance, name: str, *, references_ok: bool = False) -> str | None:
        value = self.value(instance, name)
        if value is None:
            return None
        problem = None
        if isinstance(value, Unknown):
            problem = f"cannot be evaluated locally: {value.reason}"
        elif isinstance(value, dict | list):
            problem = f"must be a string, got {value!r}"
        else:
            value = to_string(value, 0)
            if isinstance(value, str) and has_references(value) and not references_ok:
                problem = f"{printable(value)!r} is only known once deployed"
        if problem is not None:
            raise self.error(problem, instance, name)
        assert isinstance(value, str)
        return value

    def error(self, problem: str, instance: Instance, name: str | None = None) -> ConfigError:
        location, _, key = where(instance, name).partition(": ")
        return ConfigError(problem, key=key, source=location)

    def refers_to(self, value: str | None, address: str) -> bool:
        bound = self.c.bound.get((address, "id"))
        if value is None:
            return False
        return value == bound or any(ref == address for ref, _ in references(value))

    def of_api(self, kind: str, api: Instance) -> list[Instance]:
        return [
            instance
            for instance in self.c.instances(kind)
            if self.refers_to(self.text(instance, "api_id", references_ok=True), api.address)
        ]

    def strings(self, instance: Instance, name: str) -> dict[str, str]:
        """A map of strings; an entry not known locally is left out, with a warning."""
        value = self.value(instance, name)
        if value is None:
            return {}
        if isinstance(value, Unknown):
            self.warnings.append(
                f"{where(instance, name)}: cannot be evaluated locally ({value.reason});"
                " it is left out"
            )
            return {}
        if not isinstance(value, dict):
            raise self.error(f"must be a map, got {value!r}", instance, name)
        strings = {}
        for key, item in value.items():
            text = env_text(item)
            if text is None or has_references(text):
                shown = (
                    printable(text)
                    if isinstance(text, str)
                    else getattr(item, "reason", repr(item))
                )
                self.warnings.append(
                    f"{where(instance, name)}.{key}: {shown!r} is not known locally; it is left out"
                )
                continue
            strings[str(key)] = text
        return strings

    def plain(self, instance: Instance, name: str) -> str | None:
        """A setting known locally as a string, else None (no error)."""
        try:
            value = instance.value(name)
        except EvalError:
            return None
        return value if isinstance(value, str) and not has_references(value) else None

    def referenced(self, value: str | None, kind: str) -> Instance | None:
        for address, _ in references(value or ""):
            instance = self.by_address.get(address)
            if instance is not None and instance.type == kind:
                return instance
        return None

    def millis(self, integration: Instance) -> float | None:
        millis = self.value(integration, "timeout_milliseconds")
        if millis is None:
            return None
        seconds = wait_seconds(millis)
        if seconds is None:
            raise self.error(
                f"{MILLIS_PROBLEM}, got {millis!r}", integration, "timeout_milliseconds"
            )
        return seconds


def env_text(value: Any) -> str | None:
    if isinstance(value, Unknown) or value is None or isinstance(value, dict | list):
        return None
    text = to_string(value, 0)
    return text if isinstance(text, str) else None
