"""IAM policy statements, as far as a Lambda authorizer's ``policyDocument`` needs them.

Parses the ``Statement`` of a policy document and decides whether it allows
one action on one resource, after the IAM JSON policy reference ("Policy
evaluation logic", "IAM JSON policy elements"): ``Effect``, ``Action`` or
``NotAction``, ``Resource`` or ``NotResource``, each a string or a list, with
``*`` and ``?`` wildcards; an explicit Deny overrides any Allow, and no
matching Allow is an implicit deny. ``Condition`` is not evaluated: API
Gateway has no request keys to test it against.

Pure: plain values in and out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PolicyDecision",
    "PolicyError",
    "Statement",
    "evaluate",
    "glob_match",
    "parse_statements",
]


class PolicyError(ValueError):
    """A policy document IAM would not accept; the message says what is wrong."""


class PolicyDecision(enum.Enum):
    """What the statements decide for one action on one resource."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"  # a Deny matches
    IMPLICIT_DENY = "implicit-deny"  # no Allow matches


@dataclass(frozen=True)
class Statement:
    """One statement: its effect, and the actions and resources it is about."""

    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    negate_actions: bool  # NotAction
    resources: tuple[str, ...]
    negate_resources: bool  # NotResource

    def applies(self, action: str, resource: str) -> bool:
        """Whether the statement covers ``action`` on ``resource``."""
        return _any_match(self.actions, action, ignore_case=True) != self.negate_actions and (
            _any_match(self.resources, resource, ignore_case=False) != self.negate_resources
        )


def parse_statements(policy: Mapping[str, Any]) -> list[Statement]:
    """The statements of a policy document (a JSON object); raises :class:`PolicyError`."""
    raw = policy.get("Statement")
    raw_statements = [raw] if isinstance(raw, dict) else raw  # IAM: an object or a list
    if not isinstance(raw_statements, list):
        raise PolicyError(f"policyDocument.Statement must be a list or object, got {raw!r}")
    return [_parse_statement(statement) for statement in raw_statements]


def evaluate(statements: Sequence[Statement], action: str, resource: str) -> PolicyDecision:
    """Whether ``statements`` allow ``action`` on ``resource``."""
    matching = {s.effect for s in statements if s.applies(action, resource)}
    # IAM: an explicit Deny overrides any Allow.
    if "Deny" in matching:
        return PolicyDecision.EXPLICIT_DENY
    if "Allow" not in matching:
        return PolicyDecision.IMPLICIT_DENY
    return PolicyDecision.ALLOW


def _parse_statement(statement: object) -> Statement:
    if not isinstance(statement, dict):
        raise PolicyError(f"a Statement must be an object, got {statement!r}")
    effects = set(_strings(statement, "Effect"))
    # IAM: "The Effect value is case sensitive" (IAM JSON policy reference).
    if len(effects) != 1 or not effects <= {"Allow", "Deny"}:
        raise PolicyError(f"Effect must be Allow or Deny, got {statement.get('Effect')!r}")
    actions, negate_actions = _element(statement, "Action")
    resources, negate_resources = _element(statement, "Resource")
    return Statement(effects.pop(), actions, negate_actions, resources, negate_resources)


def _element(statement: Mapping[str, Any], name: str) -> tuple[tuple[str, ...], bool]:
    present = [key for key in (name, f"Not{name}") if key in statement]
    if len(present) != 1:
        raise PolicyError(f"a Statement needs exactly one of {name} and Not{name}")
    return _strings(statement, present[0]), present[0] != name


def _strings(statement: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = statement.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise PolicyError(f"{key} must be a string or a list of strings, got {value!r}")
    return tuple(values)


def _any_match(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    if ignore_case:  # ASCII names in practice; lower() keeps one character for one
        value = value.lower()
        return any(glob_match(pattern.lower(), value) for pattern in patterns)
    return any(glob_match(pattern, value) for pattern in patterns)


def glob_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern``, where ``*`` is any run of characters
    (``/`` and ``:`` included) and ``?`` any one character (IAM's wildcards).

    Without backtracking: the pattern is split at its stars; the first piece
    must start ``value``, the last must end it, and each piece between is found
    at its leftmost place after the previous one (the leftmost place leaves the
    most room for the rest, so it is never wrong). Work is at most the length
    of ``value`` times the length of a piece, however many stars there are; a
    regular expression of ``.*`` runs backtracks exponentially in their number
    on a value that does not match.
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return len(pattern) == len(value) and _matches_at(pattern, value, 0)
    first, *middle, last = pieces
    end = len(value) - len(last)
    if end < len(first) or not _matches_at(first, value, 0) or not _matches_at(last, value, end):
        return False
    position = len(first)
    for piece in middle:
        found = _find(piece, value, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _matches_at(piece: str, value: str, start: int) -> bool:
    """Whether ``piece`` (with ``?`` for any character) is in ``value`` at ``start``."""
    if "?" not in piece:
        return value.startswith(piece, start)
    if start + len(piece) > len(value):
        return False
    return all(p == "?" or p == value[start + i] for i, p in enumerate(piece))


def _find(piece: str, value: str, start: int, end: int) -> int:
    """The leftmost place of ``piece`` in ``value[start:end]``, or -1."""
    if "?" not in piece:
        return value.find(piece, start, end)
    for place in range(start, end - len(piece) + 1):
        if _matches_at(piece, value, place):
            return place
    return -1
