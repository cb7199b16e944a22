"""Identity sources of a Lambda REQUEST authorizer (spec §6.1).

A pure module: the ``IdentitySource`` entries of an authorizer, parsed once at
load time; :mod:`emulator.gateway.access.authorizer` looks them up per connect.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from emulator.errors import ConfigError

__all__ = ["IdentitySource", "IdentitySourceKind", "parse_identity_sources"]


class IdentitySourceKind(enum.Enum):
    """Where an identity source reads its value (botocore:v2 ``IdentitySource``)."""

    HEADER = "route.request.header."
    QUERY_STRING = "route.request.querystring."
    STAGE_VARIABLE = "stageVariables."
    CONTEXT = "context."


@dataclass(frozen=True)
class IdentitySource:
    """One parsed ``IdentitySource`` entry, e.g. ``route.request.header.Auth``."""

    kind: IdentitySourceKind
    name: str
    expression: str  # as configured, for messages

    def lookup(
        self,
        headers: Sequence[tuple[str, str]],
        query: Sequence[tuple[str, str]] | None,
        stage_variables: Mapping[str, str],
        context: Mapping[str, str],
    ) -> str | None:
        """The value this source names, or ``None`` when the request has none.

        A repeated header or query parameter gives its last value, as in the
        event's single-value maps. Header names match case-insensitively
        (HTTP semantics, spec §6.1 [INFER]); everything else is case-sensitive.
        """
        if self.kind is IdentitySourceKind.HEADER:
            wanted = self.name.lower()
            values = [value for name, value in headers if name.lower() == wanted]
            return values[-1] if values else None
        if self.kind is IdentitySourceKind.QUERY_STRING:
            values = [value for name, value in query or () if name == self.name]
            return values[-1] if values else None
        if self.kind is IdentitySourceKind.STAGE_VARIABLE:
            return stage_variables.get(self.name)
        return context.get(self.name)


def parse_identity_sources(values: Sequence[str]) -> tuple[IdentitySource, ...]:
    """Parse the ``IdentitySource`` list of a WebSocket REQUEST authorizer.

    Accepted forms (botocore:v2 ``CreateAuthorizerRequest.IdentitySource``):
    ``route.request.header.NAME``, ``route.request.querystring.NAME``,
    ``stageVariables.NAME`` and ``context.NAME``. Anything else is a ConfigError
    naming the entry.
    """
    sources = []
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(f"an identity source must be a string, got {value!r}")
        for kind in IdentitySourceKind:
            if value.startswith(kind.value) and len(value) > len(kind.value):
                sources.append(IdentitySource(kind, value[len(kind.value) :], value))
                break
        else:
            raise ConfigError(
                f"unknown identity source {value!r}: expected route.request.header.NAME, "
                "route.request.querystring.NAME, stageVariables.NAME or context.NAME"
            )
    return tuple(sources)
