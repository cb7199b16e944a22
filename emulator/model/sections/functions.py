"""The ``functions`` section, and the functions that routes' handlers imply.

A function declared here has the settings Lambda's ``CreateFunction`` takes
(``handler``, ``timeout``, ``memorySize``, ``environment``, ``codeUri``,
``loggingConfig``); a route (or the authorizer) uses it with ``function:
NAME``. A route's ``handler:`` makes an implicit function with Lambda's
defaults. Every function's environment is checked as Lambda checks it when
it is configured (lambda-runtime-spec §1.2): reserved keys, names, 4 KB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType

from emulator.errors import ConfigError
from emulator.model.function import (
    DEFAULT_MEMORY_SIZE,
    DEFAULT_TIMEOUT,
    FunctionConfig,
    LogFormat,
    LoggingConfig,
    function_name_for,
)
from emulator.model.sections.checks import (
    check_keys,
    choice,
    code_uri,
    environment,
    handler_string,
    mapping,
    show,
    suggest,
)

__all__ = ["FUNCTION_SETTINGS", "Functions", "check_environment"]

# What a `functions` entry may say (botocore lambda CreateFunction, camelCase).
FUNCTION_SETTINGS = (
    "handler",
    "timeout",
    "memorySize",
    "environment",
    "codeUri",
    "loggingConfig",
)
_LOGGING_KEYS = ("logFormat", "applicationLogLevel", "systemLogLevel")
# AWS: ApplicationLogLevel and SystemLogLevel values (botocore lambda LoggingConfig).
_APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
# AWS: function names are 1-64 of [a-zA-Z0-9-_] (botocore lambda FunctionName).
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# AWS: Timeout 1-900 s, MemorySize 128-10240 MB (lambda-runtime-spec §3.1).
_MAX_TIMEOUT = 900
_MIN_MEMORY, _MAX_MEMORY = 128, 10240
# AWS: EnvironmentVariableName, and the variables Lambda sets itself (spec §1.2).
_VARIABLE_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
RESERVED = (
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    # UNKNOWN whether AWS rejects these two; the spec recommends rejecting them (§1.2).
    "AWS_LAMBDA_LOG_FORMAT",
    "AWS_LAMBDA_LOG_LEVEL",
)
_MAX_ENVIRONMENT_BYTES = 4096


class Functions:
    """The functions of one document, by name: declared ones and implicit ones.

    Routes whose ``handler:`` names the same handler with the same code folder
    and environment share one implicit function, as they would share one
    deployed Lambda; a second, different function of the same handler is
    named ``NAME-2``.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, FunctionConfig] = {}
        self._declared: set[str] = set()

    def declare(self, data: object, common: Mapping[str, str]) -> None:
        """Read the ``functions`` section."""
        if data is None:
            return
        document = mapping(data, "functions", "a mapping of function names to functions")
        for name, value in document.items():
            if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
                problem = (
                    f"function names are 1 to 64 of A-Z a-z 0-9 - _ (Lambda), got {show(name)}"
                )
                raise ConfigError(problem, key="functions")
            where = f"functions.{name}"
            settings = mapping(value, where, "a mapping with a 'handler' key")
            check_keys(settings, FUNCTION_SETTINGS, where)
            if "handler" not in settings:
                raise ConfigError("missing the required key 'handler'", key=where)
            self.by_name[name] = FunctionConfig(
                name,
                handler_string(settings["handler"], f"{where}.handler"),
                own_environment(settings, common, where),
                code_uri(settings.get("codeUri"), f"{where}.codeUri"),
                _timeout(settings.get("timeout", int(DEFAULT_TIMEOUT)), f"{where}.timeout"),
                _memory(settings.get("memorySize", DEFAULT_MEMORY_SIZE), f"{where}.memorySize"),
                _logging(settings.get("loggingConfig"), f"{where}.loggingConfig"),
                where=where,
            )
            self._declared.add(name)

    def named(self, value: object, key: str) -> FunctionConfig:
        """The declared function a ``function:`` key at ``key`` names."""
        if isinstance(value, str) and value in self._declared:
            return self.by_name[value]
        declared = sorted(self._declared)
        hint = suggest(value, declared)
        known = ", ".join(declared) or "none declared"
        problem = f"names no function of 'functions'{hint} (functions: {known}), got {show(value)}"
        raise ConfigError(problem, key=key)

    def implicit(
        self, handler: str, variables: Mapping[str, str], folder: object, where: str
    ) -> FunctionConfig:
        """The function of a ``handler:`` at ``where``, shared with any identical one."""
        base = function_name_for(handler)
        folder_path = code_uri(folder, f"{where}.codeUri")
        name, number = base, 2
        while name in self.by_name:
            existing = self.by_name[name]
            if name not in self._declared and existing == FunctionConfig(
                existing.name, handler, variables, folder_path
            ):
                return existing
            name, number = f"{base[: 64 - len(str(number)) - 1]}-{number}", number + 1
        function = FunctionConfig(name, handler, variables, folder_path, where=where)
        self.by_name[name] = function
        return function


def own_environment(
    settings: Mapping[object, object], common: Mapping[str, str], where: str
) -> Mapping[str, str]:
    """A function's environment: the top-level one with its own over it, checked."""
    key = f"{where}.environment"
    own = environment(settings.get("environment"), key, references=True)
    if not own:
        return common
    check_environment(own, key)
    merged = {**common, **own}
    # Lambda's 4 KB is the whole set the function gets (SAM's Globals merge the same way).
    check_environment(merged, key)
    return MappingProxyType(merged)


def check_environment(variables: Mapping[str, str], key: str) -> None:
    """Lambda's checks of a function's variables, with its messages (spec §1.2)."""
    reserved = [name for name in variables if name in RESERVED]
    if reserved:
        raise ConfigError(
            "Lambda was unable to configure your environment variables because the environment"
            " variables you have provided contains reserved keys that are currently not"
            " supported for modification. Reserved keys used in this request: "
            + ", ".join(reserved),
            key=key,
        )
    for name in variables:
        if not _VARIABLE_NAME.fullmatch(name):
            problem = (
                f"variable names are a letter then letters, digits or _ (Lambda), got {name!r}"
            )
            raise ConfigError(problem, key=key)
    # UNKNOWN how AWS measures 4 KB; the spec recommends the compact JSON's UTF-8 length.
    size = len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())
    if size > _MAX_ENVIRONMENT_BYTES:
        raise ConfigError(
            "Lambda was unable to configure your environment variables because the environment"
            f" variables you have provided exceeded the 4KB limit. Measured size: {size} bytes",
            key=key,
        )


def _timeout(value: object, key: str) -> float:
    problem = f"must be a whole number of seconds from 1 to {_MAX_TIMEOUT} (Lambda's Timeout)"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_TIMEOUT:
        raise ConfigError(f"{problem}, got {show(value)}", key=key)
    return float(value)


def _memory(value: object, key: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not _MIN_MEMORY <= value <= _MAX_MEMORY
    ):
        problem = f"must be a whole number of MB from {_MIN_MEMORY} to {_MAX_MEMORY}"
        raise ConfigError(f"{problem} (Lambda's MemorySize), got {show(value)}", key=key)
    return value


def _logging(data: object, key: str) -> LoggingConfig:
    if data is None:
        return LoggingConfig()
    document = mapping(data, key, "a mapping such as {logFormat: JSON}")
    check_keys(document, _LOGGING_KEYS, key)
    log_format = choice(document.get("logFormat"), LogFormat, f"{key}.logFormat")
    levels = []
    for name, allowed in (
        ("applicationLogLevel", _APPLICATION_LEVELS),
        ("systemLogLevel", _SYSTEM_LEVELS),
    ):
        level = document.get(name)
        if level is not None and level not in allowed:
            problem = f"must be one of {', '.join(allowed)}{suggest(level, allowed)}"
            raise ConfigError(f"{problem}, got {show(level)}", key=f"{key}.{name}")
        levels.append(level if isinstance(level, str) else None)
    if (levels[0] or levels[1]) and log_format is not LogFormat.JSON:
        # AWS: "log-level filtering only applies to JSON logs" (lambda-runtime-spec §4.5).
        problem = "log levels apply only with logFormat: JSON (as on Lambda)"
        raise ConfigError(problem, key=key)
    return LoggingConfig(log_format or LogFormat.TEXT, levels[0], levels[1])
