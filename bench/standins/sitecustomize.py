"""Stand-ins for parts of the emulator's per-message path, for measuring them.

``python -m bench.instructions --stand-in NAME`` puts this folder on the
emulator server's ``PYTHONPATH`` with ``APIGW_BENCH_STANDINS=NAME,...``: a
part replaced by a stand-in that does none of its work costs (nearly) nothing,
so the drop in the count is what the part costs. Never loaded otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def _wire() -> None:
    """The gateway: the frame's text goes straight back."""
    from emulator.app import Emulator

    def handle_message(self: Any, peer: Any, text: str) -> None:
        peer.send_text(text)

    Emulator.handle_message = handle_message  # type: ignore[method-assign]


def _entry() -> None:
    """The pipeline: the frame's text goes straight back from it."""
    from emulator.gateway.pipeline import Pipeline

    def message(self: Any, record: Any, text: str, now_ms: int) -> None:
        record.peer.send_text(text)

    Pipeline.message = message  # type: ignore[method-assign]


def _log() -> None:
    """The per-frame log line."""
    from emulator.gateway import pipeline

    pipeline.log_frame = lambda *args, **kwargs: None


def _invocation() -> None:
    """The invocation's bookkeeping: the handler runs with none of it (an
    ``async def`` one in a task of its own, a ``def`` one at once)."""
    import asyncio

    from emulator.runtime.invocation import Invocation, InvocationOutcome
    from emulator.runtime.invoke import Invoker

    def start(
        self: Any, handler: Any, event: Any, *, on_done: Callable[..., None], **_: Any
    ) -> None:
        if not handler.is_async:
            on_done(Invocation(InvocationOutcome.OK, handler.function(event, None)))
            return

        async def run() -> None:
            value = await handler.function(event, None)
            on_done(Invocation(InvocationOutcome.OK, value))

        asyncio.get_running_loop().create_task(run())

    Invoker.start = start  # type: ignore[method-assign]


def _handler() -> None:
    """The invocation and the handler: the result comes at once, the frame's body."""
    from emulator.runtime.invocation import Invocation, InvocationOutcome
    from emulator.runtime.invoke import Invoker

    def start(
        self: Any, handler: Any, event: Any, *, on_done: Callable[..., None], **_: Any
    ) -> None:
        result = {"statusCode": 200, "body": event["body"]}
        on_done(Invocation(InvocationOutcome.OK, result))

    Invoker.start = start  # type: ignore[method-assign]


def _selection() -> None:
    """Route selection: each selector's first decision, for every frame."""
    from emulator.gateway.selection import RouteSelector

    select = RouteSelector.select
    first: dict[int, Any] = {}

    def remembered(self: Any, body: str) -> Any:
        decision = first.get(id(self))
        if decision is None:
            decision = first[id(self)] = select(self, body)
        return decision

    RouteSelector.select = remembered  # type: ignore[method-assign]


def _event() -> None:
    """The event: the first one built, for every frame."""
    from emulator.gateway import pipeline

    build = pipeline.message_event
    first: list[Any] = []

    def remembered(*args: Any, **kwargs: Any) -> Any:
        if not first:
            first.append(build(*args, **kwargs))
        return first[0]

    pipeline.message_event = remembered


def _send() -> None:
    """The send's checks and clocks: straight to the connection."""
    from emulator.gateway.lifecycle import Lifecycle

    def send(self: Any, record: Any, data: str | bytes, source: str) -> None:
        if isinstance(data, str):
            record.peer.send_text(data)
        else:
            record.peer.send_bytes(data)

    Lifecycle.send = send  # type: ignore[method-assign]


def _result() -> None:
    """The result's validation and interpretation: its body is the frame."""
    from emulator.gateway.integrations import lambda_proxy
    from emulator.gateway.integrations.outcome import Outcome

    def proxy_outcome(invocation: Any, event_type: str) -> Outcome:
        value = invocation.value
        return Outcome(200, frame=value.get("body") if isinstance(value, dict) else None)

    lambda_proxy.proxy_outcome = proxy_outcome


def _gc() -> None:
    """Cyclic garbage collection."""
    import gc

    gc.disable()


STAND_INS: dict[str, Callable[[], None]] = {
    "wire": _wire,
    "entry": _entry,
    "log": _log,
    "invocation": _invocation,
    "handler": _handler,
    "selection": _selection,
    "event": _event,
    "send": _send,
    "result": _result,
    "gc": _gc,
}


def install(names: str) -> None:
    for name in filter(None, names.split(",")):
        if name not in STAND_INS:
            raise SystemExit(f"bench stand-ins: no stand-in {name!r} ({', '.join(STAND_INS)})")
        STAND_INS[name]()


install(os.environ.get("APIGW_BENCH_STANDINS", ""))
