"""Mapping templates: Velocity (VTL) with API Gateway's variables (spec §A.5, §A.9).

The only module importing the Velocity engine, ``airspeed`` from the PyPI
package ``airspeed-ext`` (LocalStack's fork, whose test suite is snapshotted
against API Gateway: undefined references render as ``""``, booleans as
``true``, ``""`` escapes a quote inside a string literal). Pure: rendering is a
function of the template and the variables.

What this module adds is only API Gateway's own surface (spec §A.9.3):

* ``$input``: ``body``, ``json(path)``, ``path(path)``, ``params()`` and
  ``params(name)``; JSONPath is evaluated by :mod:`emulator.model.selection`;
* ``$util``: ``escapeJavaScript``, ``parseJson``, ``urlEncode``, ``urlDecode``,
  ``base64Encode``, ``base64Decode``;
* ``$context`` and ``$stageVariables``; maps print Java-style, ``{a=1, b=2}``, as
  AWS's do (``$input.params().get('header')`` → ``{Host=..., X-Forwarded-Port=443}``);
  lists print as JSON;
* the Java ``String`` and ``Map`` methods AWS templates use that the engine
  lacks (``toLowerCase``, ``trim``, ``containsKey``...). They are registered in
  the engine's table of extra methods at import: additive, for ``str``, ``dict``
  and this module's map and list types only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote_plus, unquote_plus

import airspeed  # type: ignore[import-untyped]
from airspeed import operators

from emulator.errors import EmulatorError, SelectionExpressionError
from emulator.model.selection import SelectionExpression, compile_expression

__all__ = [
    "TemplateError",
    "VtlList",
    "VtlMap",
    "VtlVariables",
    "check_template",
    "params_of",
    "render",
    "wrap",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MISSING: Final = object()


class TemplateError(EmulatorError):
    """A mapping template that does not parse or fails while rendering."""


@dataclass(frozen=True)
class VtlVariables:
    """What a template sees.

    ``body`` is ``$input.body`` (the frame on MESSAGE, the integration
    response's body in a response template, ``""`` on CONNECT); ``document``
    its parsed JSON (None if ``is_json`` is false). ``params`` holds
    ``path``/``querystring``/``header`` maps for ``$input.params()``.
    """

    body: str = ""
    document: object = None
    is_json: bool = False
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    stage_variables: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    params: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)


class VtlMap(dict[str, Any]):
    """A map that prints as Java's ``{k=v, k2=v2}``."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={_text(v)}" for k, v in self.items()) + "}"


class VtlList(list[Any]):
    """A list that prints as JSON, as a JSONPath result does on AWS."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"), ensure_ascii=False, default=str)


def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wrap(value: object) -> Any:
    """JSON values as template values: dicts as :class:`VtlMap`, lists as :class:`VtlList`."""
    if isinstance(value, Mapping):
        return VtlMap({str(k): wrap(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return VtlList(wrap(v) for v in value)
    return value


def check_template(text: str) -> str | None:
    """Why ``text`` does not parse as a template, or None."""
    try:
        _compile(text)
    except TemplateError as exc:
        return str(exc)
    return None


def render(text: str, variables: VtlVariables) -> str:
    """Render ``text``; raises :class:`TemplateError`."""
    template = _compile(text)
    namespace = {
        "input": _Input(variables),
        "util": _UTIL,
        "context": wrap(variables.context),
        "stageVariables": wrap(variables.stage_variables),
    }
    try:
        return str(template.merge(namespace))
    except airspeed.TemplateError as exc:
        cause = exc.__cause__ or exc
        raise TemplateError(f"template failed: {type(cause).__name__}: {cause}") from exc
    except Exception as exc:  # a helper raised on the template's arguments
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from exc


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> Any:
    template = airspeed.Template(text)
    try:
        template.ensure_compiled()
    except airspeed.TemplateError as exc:
        raise TemplateError(f"template does not parse: {exc}") from exc
    return template


@functools.lru_cache(maxsize=256)
def _json_path(path: str) -> SelectionExpression:
    # `$.a.b` in a template is `$request.body.a.b` in a selection expression.
    if not path.startswith("$"):
        raise TemplateError(f"JSONPath must start with '$', got {path!r}")
    try:
        return compile_expression("${request.body" + path[1:] + "}")
    except SelectionExpressionError as exc:
        raise TemplateError(f"invalid JSONPath {path!r}: {exc.problem}") from exc


def _find(document: object, path: str) -> object:
    _, (trace,) = _json_path(path).trace(document)
    return trace.value if trace.found else _MISSING


class _Input:
    """``$input`` (DG:api-gateway-mapping-template-reference, "$input Variables")."""

    def __init__(self, variables: VtlVariables) -> None:
        self._variables = variables
        self.body = variables.body

    def json(self, path: str = "$") -> str:
        """The JSONPath's value as JSON text; ``""`` when nothing matches (UNKNOWN)."""
        if not self._variables.is_json:
            return ""
        value = _find(self._variables.document, str(path))
        if value is _MISSING:
            return ""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def path(self, path: str) -> Any:
        """The JSONPath's value as an object (``$input.path('$.pets').size()``)."""
        if not self._variables.is_json:
            return None
        value = _find(self._variables.document, str(path))
        return None if value is _MISSING else wrap(value)

    def params(self, name: str | None = None) -> Any:
        params = self._variables.params
        if name is None:
            return VtlMap({kind: VtlMap(params.get(kind, {})) for kind in _PARAM_KINDS})
        # AWS: path, then querystring, then header.
        for kind in _PARAM_KINDS:
            values = params.get(kind, {})
            if kind == "header":
                lowered = {k.lower(): v for k, v in values.items()}
                if str(name).lower() in lowered:
                    return lowered[str(name).lower()]
            elif name in values:
                return values[name]
        return ""


_PARAM_KINDS: Final = ("path", "querystring", "header")


class _Util:
    """``$util`` (DG:api-gateway-mapping-template-reference, "$util Variables")."""

    @staticmethod
    def escapeJavaScript(text: object) -> str:  # AWS's names, camelCase
        if text is None:
            return "null"
        # JavaScript string rules; `'` becomes `\'` as on AWS. Non-ASCII stays (UNKNOWN).
        escaped = json.dumps(_text(text), ensure_ascii=False)[1:-1]
        return escaped.replace("'", "\\'")

    @staticmethod
    def parseJson(text: object) -> Any:
        try:
            return wrap(json.loads(str(text)))
        except ValueError as exc:
            raise TemplateError(f"$util.parseJson: not JSON: {exc}") from exc

    @staticmethod
    def urlEncode(text: object) -> str:
        return quote_plus(_text(text), safe="")

    @staticmethod
    def urlDecode(text: object) -> str:
        return unquote_plus(_text(text))

    @staticmethod
    def base64Encode(text: object) -> str:
        return base64.b64encode(_text(text).encode("utf-8")).decode("ascii")

    @staticmethod
    def base64Decode(text: object) -> str:
        try:
            return base64.b64decode(_text(text), validate=True).decode("utf-8", "replace")
        except binascii.Error as exc:
            raise TemplateError(f"$util.base64Decode: not base64: {exc}") from exc


_UTIL: Final = _Util()


def _index_of(text: str, part: str) -> int:
    return text.find(part)


# Java String and Map methods templates call (java.lang.String, java.util.Map).
_STRING_METHODS: dict[str, Any] = {
    "toLowerCase": lambda self: self.lower(),
    "toUpperCase": lambda self: self.upper(),
    "trim": lambda self: self.strip(),
    "equals": lambda self, other: self == other,
    "equalsIgnoreCase": lambda self, other: (
        isinstance(other, str) and self.lower() == other.lower()
    ),
    "replace": lambda self, old, new: self.replace(str(old), str(new)),
    "split": lambda self, pattern: VtlList(re.split(pattern, self)),
    "endsWith": lambda self, suffix: self.endswith(suffix),
    "isEmpty": lambda self: not self,
    "indexOf": _index_of,
    "lastIndexOf": lambda self, part: self.rfind(part),
    "charAt": lambda self, index: self[index],
    "toString": lambda self: self,
}
_MAP_METHODS: dict[str, Any] = {
    "containsKey": lambda self, key: key in self,
    "containsValue": lambda self, value: value in self.values(),
    "size": lambda self: len(self),
    "isEmpty": lambda self: not self,
    "values": lambda self: VtlList(self.values()),
    "entrySet": lambda self: VtlList(VtlMap(key=k, value=v) for k, v in self.items()),
    "remove": lambda self, key: self.pop(key, None),
}


def _register(table: dict[type, dict[str, Any]]) -> None:
    for name, method in _STRING_METHODS.items():
        table[str].setdefault(name, method)
    table[dict] = {**_MAP_METHODS, **table[dict]}
    table[VtlMap] = {**table[dict], "toString": lambda self: str(self)}
    table[VtlList] = {**table[list], "toString": lambda self: str(self)}


_register(operators.__additional_methods__)


def params_of(
    headers: Mapping[str, Sequence[str]], query: Mapping[str, Sequence[str]]
) -> Mapping[str, Mapping[str, str]]:
    """``$input.params()``'s maps from multi-value headers and query (last value wins)."""
    return {
        "path": {},
        "querystring": {name: values[-1] for name, values in query.items() if values},
        "header": {name: values[-1] for name, values in headers.items() if values},
    }
