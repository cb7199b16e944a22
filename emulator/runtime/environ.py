"""A context-aware ``os.environ``: each invocation sees its route's environment.

Handlers run concurrently in one process, and ``os.environ`` is one per
process, so updating it per call would leak one route's variables into
another's. Instead :func:`install` replaces ``os.environ`` with a mapping that
reads through a per-context overlay (a :class:`contextvars.ContextVar`) to the
real environment. Code outside any invocation sees the real environment,
unchanged; writes made inside an invocation stay in that route's overlay, as
they would stay in that function's Lambda container.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping

__all__ = ["Overlay", "install", "use_overlay"]

_DELETED = object()


class Overlay:
    """Variables set (or deleted) over the process environment for one route."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, str], unset: Iterable[str] = ()) -> None:
        self.values: dict[str, object] = dict(values)
        for name in unset:  # not set for this route, whatever the process's value
            self.values.setdefault(name, _DELETED)


_current: contextvars.ContextVar[Overlay | None] = contextvars.ContextVar(
    "emulator_environ_overlay", default=None
)


class ContextEnviron(MutableMapping[str, str]):
    """``os.environ`` as seen through the current context's overlay."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def __getitem__(self, key: str) -> str:
        overlay = _current.get()
        if overlay is not None and key in overlay.values:
            value = overlay.values[key]
            if value is _DELETED:
                raise KeyError(key)
            return value  # type: ignore[return-value]
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = _current.get()
        if overlay is None:
            self.base[key] = value
        else:
            if not isinstance(value, str):
                raise TypeError(f"str expected, not {type(value).__name__}")
            overlay.values[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = _current.get()
        if overlay is None:
            del self.base[key]
            return
        if key not in self:
            raise KeyError(key)
        overlay.values[key] = _DELETED

    def _merged(self) -> dict[str, str]:
        merged = dict(self.base)
        overlay = _current.get()
        if overlay is not None:
            for key, value in overlay.values.items():
                if value is _DELETED:
                    merged.pop(key, None)
                else:
                    merged[key] = value  # type: ignore[assignment]
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def __contains__(self, key: object) -> bool:
        overlay = _current.get()
        if overlay is not None and key in overlay.values:
            return overlay.values[key] is not _DELETED
        return key in self.base

    def copy(self) -> dict[str, str]:
        return self._merged()

    def __repr__(self) -> str:
        return f"environ({self._merged()!r})"


_thread_start = threading.Thread.start


def _run_reporting(run: Callable[[], object], thread: threading.Thread) -> None:
    """Run a handler's thread; report what it raises from inside its context,
    so that the log attributes the traceback to the invocation that started it
    (threading reports uncaught exceptions outside the thread's context)."""
    try:
        run()
    except BaseException as exc:  # noqa: BLE001 - what threading itself would report
        threading.excepthook(threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, thread)))


def _start_with_overlay(self: threading.Thread) -> None:
    """``Thread.start`` that runs a thread started by a handler in a copy of
    the handler's context, as Python 3.14's ``thread_inherit_context`` does.

    On Lambda the environment belongs to the whole process: a thread a handler
    starts (boto3's transfer threads, a handler's own pool) must see it too.
    Threads started outside any invocation are left as they are.
    """
    if _current.get() is not None:
        context = contextvars.copy_context()
        run = self.run

        def run_in_context() -> None:
            context.run(_run_reporting, run, self)

        self.run = run_in_context  # type: ignore[method-assign]
    _thread_start(self)


def install() -> None:
    """Replace ``os.environ`` with the context-aware mapping (idempotent)."""
    if not isinstance(os.environ, ContextEnviron):
        # Deliberately rebinding, not clearing: the real mapping stays the base.
        os.environ = ContextEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003
        threading.Thread.start = _start_with_overlay  # type: ignore[method-assign]


def use_overlay(overlay: Overlay) -> None:
    """Make ``overlay`` the environment of the current context.

    Call it inside a fresh context (``contextvars.copy_context().run``) or a
    new task: it changes what this context sees for its remaining life.
    """
    _current.set(overlay)
