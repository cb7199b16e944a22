"""The per-message values whose ``__init__`` is written by hand (for speed)
are still the frozen dataclasses their fields say they are."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from emulator.gateway.integrations.outcome import Failure, IntegrationResult, Outcome
from emulator.gateway.selection import RouteDecision, RouteReason
from emulator.runtime.invocation import Invocation, InvocationOutcome

HAND_BUILT: list[tuple[type[Any], dict[str, Any]]] = [
    (
        Invocation,
        {
            "outcome": InvocationOutcome.ERROR,
            "value": {"statusCode": 200},
            "error": RuntimeError("boom"),
            "duration_ms": 1.5,
            "scope": None,
        },
    ),
    (
        Outcome,
        {
            "status": 502,
            "frame": "hello",
            "failure": Failure.INTERNAL,
            "subprotocol": "chat",
            "reason": "why",
        },
    ),
    (
        IntegrationResult,
        {
            "outcome": Outcome(200),
            "invocation": Invocation(InvocationOutcome.OK),
            "event": {"body": "x"},
        },
    ),
    (
        RouteDecision,
        {"route_key": "$default", "reason": RouteReason.FALLBACK, "evaluated": "sendmessage"},
    ),
]
IDS = [cls.__name__ for cls, _ in HAND_BUILT]


@pytest.mark.parametrize(("cls", "values"), HAND_BUILT, ids=IDS)
def test_init_takes_the_fields_in_order_with_their_defaults(
    cls: type[Any], values: dict[str, Any]
) -> None:
    parameters = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, field in zip(parameters, fields, strict=True):
        assert parameter.default == (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        ), field.name


@pytest.mark.parametrize(("cls", "values"), HAND_BUILT, ids=IDS)
def test_each_field_is_set_by_position_and_by_name(cls: type[Any], values: dict[str, Any]) -> None:
    by_position = cls(*values.values())
    by_name = cls(**values)
    for name, value in values.items():
        assert getattr(by_position, name) is value
    assert by_position == by_name
    assert repr(by_position) == repr(by_name)


@pytest.mark.parametrize(("cls", "values"), HAND_BUILT, ids=IDS)
def test_still_frozen(cls: type[Any], values: dict[str, Any]) -> None:
    value = cls(**values)
    name = next(iter(values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(value, name)
    changed = dataclasses.replace(value, **{name: None})
    assert getattr(changed, name) is None
    assert getattr(value, name) is values[name]
