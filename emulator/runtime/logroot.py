"""The root logger, one per execution environment.

Lambda gives each execution environment its own process, so its own root
logger: the runtime installs one handler on it, and a function that calls
``logging.getLogger().setLevel(logging.INFO)`` at import changes its own root
level only (lambda-runtime-spec §4.1). Here functions share one process, so the
root logger's ``level`` and ``handlers`` are looked up in the current
execution environment (a :class:`RootState` in a context variable) and fall
back to the process's own outside any: the emulator's own log is untouched.

:func:`install` swaps the class of :data:`logging.root` for one whose
``level`` and ``handlers`` are such lookups (every logger keeps its parent),
and makes ``Logger.isEnabledFor`` skip its cache inside an environment, since
the answer depends on whose root it is. :func:`outside` runs code as the
process, e.g. to hand a function's formatted line to the emulator's log.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

__all__ = ["RootState", "install", "outside", "use_root"]


class RootState:
    """The root logger of one execution environment: its level and handlers."""

    __slots__ = ("handlers", "level")

    def __init__(
        self, level: int = logging.WARNING, handlers: list[logging.Handler] | None = None
    ) -> None:
        self.level = level
        self.handlers = handlers if handlers is not None else []


_current: contextvars.ContextVar[RootState | None] = contextvars.ContextVar(
    "emulator_root_logger", default=None
)


class _EnvironmentRoot(logging.RootLogger):
    """``logging.root``, with the current execution environment's level and handlers."""

    @property
    def level(self) -> int:
        state = _current.get()
        if state is None:
            value: int = self.__dict__["level"]
            return value
        return state.level

    @level.setter
    def level(self, value: int) -> None:
        state = _current.get()
        if state is None:
            self.__dict__["level"] = value
        else:
            state.level = value

    @property
    def handlers(self) -> list[logging.Handler]:
        state = _current.get()
        if state is None:
            handlers: list[logging.Handler] = self.__dict__["handlers"]
            return handlers
        return state.handlers

    @handlers.setter
    def handlers(self, value: list[logging.Handler]) -> None:
        state = _current.get()
        if state is None:
            self.__dict__["handlers"] = value
        else:
            state.handlers = value


_cached_is_enabled_for = logging.Logger.isEnabledFor


def _is_enabled_for(self: logging.Logger, level: int) -> bool:
    """``Logger.isEnabledFor``, without its cache inside an execution environment."""
    if _current.get() is None:
        return _cached_is_enabled_for(self, level)
    if self.disabled or self.manager.disable >= level:
        return False
    return level >= self.getEffectiveLevel()


def install() -> None:
    """Give each execution environment its own root logger (idempotent)."""
    root = logging.root
    if isinstance(root, _EnvironmentRoot):
        return
    # Deliberately the class, not the object: every logger keeps `root` as its parent.
    root.__class__ = _EnvironmentRoot
    logging.Logger.isEnabledFor = _is_enabled_for  # type: ignore[method-assign]


def use_root(state: RootState) -> None:
    """Make ``state`` the root logger of the current context (see :func:`install`).

    Call it inside a fresh context (``contextvars.copy_context().run``), as
    :func:`emulator.runtime.environ.use_overlay`.
    """
    _current.set(state)


@contextlib.contextmanager
def outside() -> Iterator[None]:
    """Log as the process does, not as the current execution environment."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
