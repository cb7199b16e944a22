"""The Serverless Framework's ``${...}`` variables, resolved as far as a local run allows.

A pure module: the CLI options and the process environment are passed in.
Sources resolved: ``self:`` (the document itself), ``opt:`` (options such as
``stage``), ``env:``, ``sls:stage``, ``param:`` (``params.<stage>`` and
``params.default``), ``aws:region`` and ``aws:accountId``. A variable may list
fallbacks, ``${env:TABLE, self:custom.table, 'connections'}``, and nest,
``${self:custom.${sls:stage}.table}``. Other sources (``ssm:``, ``cf:``,
``s3:``, ``file(...)``) read AWS or other files: they are reported, never
guessed, unless a fallback applies. ``${AWS::Region}`` and other text that
names no variable source is left as is, for CloudFormation's ``Fn::Sub``.

Reference: Serverless Framework docs, "Variables" (``docs/guides/variables.md``).

Resolving is bounded (:class:`~emulator.model.bounds.Budget`): a variable may
stand for a list of variables each standing for a list, so a few lines can
expand to billions of values; past the budget it is a
:class:`~emulator.errors.ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import Budget
from emulator.model.templates.intrinsics import ACCOUNT_ID, REGION, Unresolvable

__all__ = ["Variables"]

_SOURCE = re.compile(r"\s*(self|opt|env|sls|aws|param|file|ssm|cf|s3|git|strToBool)\s*[:(]")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_MAX_DEPTH = 50
_CYCLE = f"the variables refer to each other in a cycle, or nest more than {_MAX_DEPTH} deep"
_MISSING = object()


class Variables:
    """Resolves variables in values of one serverless.yml document."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        options: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._document = document
        self._budget = Budget("serverless.yml variables")
        self._options = dict(options or {})
        self._environ = dict(environ or {})
        provider = document.get("provider")
        self._provider: Mapping[str, Any] = provider if isinstance(provider, Mapping) else {}
        # Provisional values, in case provider.stage itself refers to ${sls:stage}.
        self.stage = self._options.get("stage") or "dev"
        self.region = self._options.get("region") or REGION
        # The Serverless Framework: `${sls:stage}` is `${opt:stage, self:provider.stage, 'dev'}`.
        self.stage = self._options.get("stage") or self._setting("stage", "dev")
        self.region = self._options.get("region") or self._setting("region", REGION)

    def region_given(self) -> bool:
        """Whether the region comes from ``--region`` or provider.region, not the default."""
        return bool(self._options.get("region") or self._provider.get("region"))

    def _setting(self, name: str, default: str) -> str:
        try:
            value = self.resolve(self._provider.get(name))
        except Unresolvable as exc:
            problem = f"cannot be resolved locally: {exc}"
            raise ConfigError(problem, key=f"provider.{name}") from exc
        return str(value) if value not in (None, "") else default

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """``value`` with its variables resolved, in strings at any depth."""
        if depth > _MAX_DEPTH:
            raise Unresolvable(_CYCLE)
        self._budget.spend()
        if isinstance(value, str):
            return self._interpolate(value, depth)
        if isinstance(value, Mapping):
            return {key: self.resolve(item, depth) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, depth) for item in value]
        return value

    def resolve_leniently(self, value: Any) -> Any:
        """Like :meth:`resolve`, leaving a string that cannot be resolved as it is."""
        if isinstance(value, str):
            try:
                return self.resolve(value)
            except Unresolvable:
                return value
        if isinstance(value, Mapping):
            return {key: self.resolve_leniently(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve_leniently(item) for item in value]
        return value

    def _interpolate(self, text: str, depth: int) -> Any:
        pieces: list[str] = []
        position = 0
        while (start := text.find("${", position)) != -1:
            end = _closing_brace(text, start)
            # Each scan is paid for: nested, unclosed `${` would make them quadratic.
            self._budget.spend(text=(len(text) if end == -1 else end) - start)
            body = text[start + 2 : end] if end != -1 else ""
            if end == -1 or not _SOURCE.match(body):
                pieces.append(text[position : start + 2])  # CloudFormation's, or not a variable
                position = start + 2
                continue
            value = self._variable(body, depth + 1)
            if start == 0 and end == len(text) - 1:
                return value  # the whole string: the value keeps its type
            if isinstance(value, Mapping | list):
                raise Unresolvable(f"${{{body}}} is not a string and cannot be part of one")
            pieces.append(text[position:start])
            pieces.append(_text(value))
            position = end + 1
        pieces.append(text[position:])
        self._budget.spend(text=sum(map(len, pieces)))
        return "".join(pieces)

    def _variable(self, body: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise Unresolvable(_CYCLE)
        self._budget.spend(10, text=len(body))  # a variable is ten times a value's work
        reasons = []
        for term in _split(body):
            try:
                value = self._term(term.strip(), depth)
            except Unresolvable as exc:
                reasons.append(str(exc))
                continue
            if value is not _MISSING:
                return value
            reasons.append(f"{term.strip()} has no value")
        raise Unresolvable(f"${{{body}}}: " + "; ".join(reasons))

    def _term(self, term: str, depth: int) -> Any:
        if term.startswith("${") and term.endswith("}"):
            return self._interpolate(term, depth)
        if len(term) >= 2 and term[0] == term[-1] and term[0] in "'\"":
            return term[1:-1]
        if _NUMBER.fullmatch(term):
            return float(term) if "." in term else int(term)
        match = _SOURCE.match(term)
        if match is None:
            return term  # a bare word, such as a nested variable's value
        source = match.group(1)
        address = self._interpolate(term[match.end() :].strip(), depth)
        if not isinstance(address, str):
            raise Unresolvable(f"{term}: the address is not a string")
        if term[match.end() - 1] == "(" or source not in _LOCAL_SOURCES:
            raise Unresolvable(f"{source}: variables come from outside the file")
        return getattr(self, f"_source_{source}")(address, depth)

    def _source_self(self, address: str, depth: int) -> Any:
        value: Any = self._document
        for part in filter(None, address.split(".")):
            if not isinstance(value, Mapping) or part not in value:
                return _MISSING
            value = value[part]
        return self.resolve(value, depth)

    def _source_opt(self, address: str, depth: int) -> Any:
        return self._options.get(address, _MISSING)

    def _source_env(self, address: str, depth: int) -> Any:
        return self._environ.get(address, _MISSING)

    def _source_sls(self, address: str, depth: int) -> Any:
        if address == "stage":
            return self.stage
        raise Unresolvable(f"sls:{address} is not known locally")

    def _source_aws(self, address: str, depth: int) -> Any:
        known = {"region": self.region, "accountId": ACCOUNT_ID}
        if address not in known:
            raise Unresolvable(f"aws:{address} is not known locally")
        return known[address]

    def _source_param(self, address: str, depth: int) -> Any:
        if f"param:{address}" in self._options:
            return self._options[f"param:{address}"]
        params = self._document.get("params")
        if isinstance(params, Mapping):
            for section in (self.stage, "default"):
                values = params.get(section)
                if isinstance(values, Mapping) and address in values:
                    return self.resolve(values[address], depth)
        return _MISSING


_LOCAL_SOURCES = frozenset({"self", "opt", "env", "sls", "aws", "param"})


def _closing_brace(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` at ``start``, or -1."""
    depth = 0
    quote = ""
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif text.startswith("${", index):
            depth += 1
            index += 2
            continue
        elif char in "'\"" and depth:
            quote = char
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _split(body: str) -> list[str]:
    """A variable's terms: split at commas outside quotes and nested variables."""
    terms, current, depth, quote = [], [], 0, ""
    index = 0
    while index < len(body):
        char = body[index]
        if quote:
            quote = "" if char == quote else quote
        elif body.startswith("${", index):
            depth += 1
            current.append("${")
            index += 2
            continue
        elif char in "'\"":
            quote = char
        elif char == "}" and depth:
            depth -= 1
        elif char == "," and not depth:
            terms.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    terms.append("".join(current))
    return terms


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
