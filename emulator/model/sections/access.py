"""Who may connect: ``authorizer``, ``authorizationType``, ``iamCredentials``, ``apiKeys``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from emulator.errors import ConfigError
from emulator.model.api import AUTHORIZATION_TYPES, ApiKeyConfig, AuthorizerConfig, Limits
from emulator.model.identity import parse_identity_sources
from emulator.model.sections.checks import check_keys, flag, mapping, show
from emulator.model.sections.functions import Functions
from emulator.model.sections.integrations import wait
from emulator.model.sections.routes import HANDLER_KEYS, function_of, handler_document

__all__ = ["parse_api_keys", "parse_authorization_type", "parse_authorizer", "parse_credentials"]

_AUTHORIZER_KEYS = ("handler", "function", "identitySource", "timeout", "environment", "codeUri")
_API_KEY_KEYS = ("value", "id", "name", "enabled", "stages")


def parse_authorizer(
    data: object, common: Mapping[str, str], limits: Limits, functions: Functions
) -> AuthorizerConfig:
    document = mapping(data, "authorizer", "a mapping with a 'handler' key")
    check_keys(document, _AUTHORIZER_KEYS, "authorizer")
    own = {key: value for key, value in document.items() if key != "identitySource"}
    if "function" in own and "handler" not in own:
        check_keys(own, ("function", "timeout"), "authorizer")
        function = functions.named(own["function"], "authorizer.function")
        value: Mapping[object, object] = own
    else:
        value = handler_document(own, "authorizer", HANDLER_KEYS)
        function = function_of(value, own, common, "authorizer", functions)
    timeout, own_timeout = wait(value, "authorizer", limits)
    sources = document.get("identitySource") or []
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list):
        problem = "must be a list such as ['route.request.header.Authorization']"
        raise ConfigError(f"{problem}, got {show(sources)}", key="authorizer.identitySource")
    try:
        parse_identity_sources(sources)
    except ConfigError as exc:
        raise exc.at("authorizer.identitySource") from exc
    return AuthorizerConfig(function, tuple(sources), timeout, own_timeout)


def parse_authorization_type(value: object, authorizer: AuthorizerConfig | None) -> str:
    key = "authorizationType"
    if value is None:
        return "CUSTOM" if authorizer is not None else "NONE"
    if value not in AUTHORIZATION_TYPES:
        problem = f"must be one of {', '.join(AUTHORIZATION_TYPES)}, got {show(value)}"
        raise ConfigError(problem, key=key)
    if value == "CUSTOM" and authorizer is None:
        raise ConfigError("CUSTOM needs an 'authorizer' section", key=key)
    if value != "CUSTOM" and authorizer is not None:
        # AWS: one authorization type per route; the authorizer means CUSTOM.
        raise ConfigError(f"{value} cannot be used with an 'authorizer' section", key=key)
    return str(value)


def parse_credentials(data: object, key: str) -> dict[str, str]:
    if data is None:
        return {}
    document = mapping(data, key, "a mapping of access key ids to secret keys")
    credentials = {}
    for access_key, secret in document.items():
        if not isinstance(access_key, str) or not isinstance(secret, str) or not secret:
            problem = "must map access key ids to secret keys (strings)"
            raise ConfigError(f"{problem}, got {show(access_key)}: {show(secret)}", key=key)
        credentials[access_key] = secret
    return credentials


def parse_api_keys(data: object) -> tuple[ApiKeyConfig, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        problem = f"must be a list of keys (strings, or mappings with a 'value'), got {show(data)}"
        raise ConfigError(problem, key="apiKeys")
    keys: list[ApiKeyConfig] = []
    for index, item in enumerate(data):
        where = f"apiKeys[{index}]"
        if isinstance(item, str):
            item = {"value": item}
        entry = mapping(item, where, "a key (a string) or a mapping with a 'value'")
        check_keys(entry, _API_KEY_KEYS, where)
        value = entry.get("value")
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"must be a non-empty string, got {show(value)}", key=f"{where}.value"
            )
        key_id = entry.get("id", _api_key_id(value))
        name = entry.get("name")
        for field_name, field_value in (("id", key_id), ("name", name)):
            if field_value is not None and (not isinstance(field_value, str) or not field_value):
                problem = f"must be a non-empty string, got {show(field_value)}"
                raise ConfigError(problem, key=f"{where}.{field_name}")
        enabled = flag(entry.get("enabled", True), f"{where}.enabled")
        stages = entry.get("stages")
        if stages is not None and (
            not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)
        ):
            problem = f"must be a list of stage names, got {show(stages)}"
            raise ConfigError(problem, key=f"{where}.stages")
        keys.append(
            ApiKeyConfig(
                str(key_id),
                value,
                name if isinstance(name, str) else None,
                enabled,
                tuple(stages) if stages is not None else None,
            )
        )
    return tuple(keys)


def _api_key_id(value: str) -> str:
    """A stable 10-character id, like the ids AWS gives keys."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    return digest[:10]
