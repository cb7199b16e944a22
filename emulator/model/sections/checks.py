"""Checks shared by every section of routes.yaml.

Each raises :class:`~emulator.errors.ConfigError` at the key it was given,
with what was expected and what was found (shortened): ``routes.x.timeout:
must be a number of seconds from 0.05 to 29, got 'x'``.
"""

from __future__ import annotations

import difflib
import enum
import keyword
import math
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TypeVar

from emulator.errors import ConfigError
from emulator.model.references import Reference

__all__ = [
    "MAX_WAIT",
    "MIN_WAIT",
    "check_keys",
    "choice",
    "code_uri",
    "environment",
    "flag",
    "handler_string",
    "mapping",
    "resource_reference",
    "seconds",
    "show",
    "strings",
    "suggest",
    "whole_bytes",
]

# AWS: TimeoutInMillis is 50-29000 for WebSocket APIs (botocore apigatewayv2 CreateIntegration).
MIN_WAIT, MAX_WAIT = 0.05, 29.0
# At most this many allowed keys are listed after a did-you-mean.
_LISTED_KEYS = 12
# What os.environ accepts as a name: not empty, no '=', no NUL.
_ENV_NAME = re.compile(r"[^=\x00]+")


def mapping(data: object, key: str, what: str) -> Mapping[object, object]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be {what}, got {show(data)}", key=key)
    return data


def check_keys(document: Mapping[object, object], allowed: Collection[str], where: str) -> None:
    for name in document:
        if name not in allowed:
            label = name if isinstance(name, str) else show(name)
            hint = suggest(name, allowed)
            problem = f"unknown key{hint}"
            if not hint or len(allowed) <= _LISTED_KEYS:
                # A long list after a good guess only buries the guess.
                problem += f" (allowed keys: {', '.join(allowed)})"
            raise ConfigError(problem, key=f"{where}.{label}" if where else label)


def suggest(word: object, choices: Collection[str]) -> str:
    """``, did you mean 'routeResponse'?`` for a near miss, else the empty string."""
    if not isinstance(word, str):
        return ""
    folded = {choice.lower(): choice for choice in choices}
    match = folded.get(word.replace("_", "").replace("-", "").lower())
    if match is None:
        close = difflib.get_close_matches(word, sorted(choices), n=1)
        match = close[0] if close else None
    return f", did you mean {match!r}?" if match else ""


def show(value: object) -> str:
    """``repr(value)``, shortened: an error message is no place for a 10 KB string."""
    try:
        text = repr(value)
    except ValueError:  # an int over sys.get_int_max_str_digits()
        return "<a very large int>"
    return text if len(text) <= 80 else f"{text[:40]}...{text[-37:]}"


def seconds(value: object, key: str, low: float = 0.0, high: float | None = None) -> float:
    """A finite number of seconds in [low, high], or > 0 when there is no high bound."""
    if high is None:
        problem = f"must be a positive number of seconds, got {show(value)}"
    else:
        problem = f"must be a number of seconds from {low:g} to {high:g}, got {show(value)}"
    # bool is an int in Python, and YAML 1.1 reads `yes`/`on` as true: not a duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(problem, key=key)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    in_range = number > low if high is None else low <= number <= high
    if not (math.isfinite(number) and in_range):
        raise ConfigError(problem, key=key)
    return number


def whole_bytes(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a whole number of bytes >= 1, got {show(value)}", key=key)
    return value


def flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {show(value)}", key=key)
    return value


def environment(data: object, key: str, *, references: bool = False) -> dict[str, str]:
    """Variables as strings, like Lambda's: bools become 'true'/'false', numbers str().

    With ``references``, a value may name a resource of ``resources:``
    (``!Ref ConnectionsTable``, ``!GetAtt Orders.Arn``): it is kept as a
    reference token (:mod:`emulator.model.references`), resolved when the
    function runs; whether the resource exists is checked with the section.
    """
    if data is None:
        return {}
    document = mapping(data, key, "a mapping of variable names to values")
    variables: dict[str, str] = {}
    for name, value in document.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            problem = f"variable names must be non-empty strings without '=', got {show(name)}"
            raise ConfigError(problem, key=key)
        if references and isinstance(value, Mapping):
            variables[name] = resource_reference(value, f"{key}.{name}").token()
        else:
            variables[name] = _env_value(value, f"{key}.{name}")
    return variables


def resource_reference(value: Mapping[object, object], key: str) -> Reference:
    """``{Ref: X}`` or ``{Fn::GetAtt: [X, Attribute]}`` (``!Ref X``, ``!GetAtt X.Attribute``)."""
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str) and argument:
            return Reference(argument)
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            if (
                isinstance(parts, list)
                and len(parts) == 2
                and all(isinstance(part, str) and part for part in parts)
            ):
                return Reference(parts[0], parts[1])
    problem = (
        "must be a string, number or boolean, or name a resource of 'resources'"
        f" (!Ref LogicalId or !GetAtt LogicalId.Attribute), got {show(value)}"
    )
    raise ConfigError(problem, key=key)


def _env_value(value: object, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise ConfigError(f"must be a string, number or boolean, got {show(value)}", key=key)
    try:
        text = str(value)
    except ValueError:  # an int over sys.get_int_max_str_digits()
        raise ConfigError("must be a number of at most 4300 digits", key=key) from None
    if "\x00" in text:  # os.environ refuses it
        raise ConfigError("must not contain a NUL character", key=key)
    return text


def strings(data: object, key: str) -> dict[str, str]:
    """A mapping of strings to strings (numbers and booleans are not)."""
    if data is None:
        return {}
    document = mapping(data, key, "a mapping of strings to strings")
    found: dict[str, str] = {}
    for name, value in document.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"keys must be non-empty strings, got {show(name)}", key=key)
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, got {show(value)}", key=f"{key}.{name}")
        found[name] = value
    return found


_Choice = TypeVar("_Choice", bound=enum.Enum)


def choice(
    data: object,
    kind: type[_Choice],
    key: str,
    *,
    required: bool = False,
    names: Collection[str] | None = None,
    hint: str = "",
) -> _Choice | None:
    """One of ``kind``'s values (or of ``names`` among them); ``hint`` follows a wrong one."""
    if data is None and not required:
        return None
    allowed = list(names) if names is not None else [member.value for member in kind]
    if data not in allowed:
        problem = f"must be one of {', '.join(allowed)}{suggest(data, allowed)}, got {show(data)}"
        raise ConfigError(problem + hint, key=key)
    return kind(data)


def code_uri(value: object, key: str) -> Path | None:
    """A folder, relative to the config's folder; whether it exists is checked on import."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        problem = "must be a folder relative to the config file, such as 'onconnect/'"
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    return Path(value)


def handler_string(value: object, key: str) -> str:
    problem = (
        "must be a Lambda handler 'module.function' of Python identifiers,"
        " such as 'handlers.chat.on_connect'"
    )
    if not isinstance(value, str):
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    parts = value.split(".")
    if len(parts) < 2 or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        hint = " (packages are separated by '.', not '/')" if "/" in value else ""
        raise ConfigError(f"{problem}, got {value!r}{hint}", key=key)
    return value
