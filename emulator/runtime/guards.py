"""Guards against handlers that would end or stall the whole emulator.

Lambda runs each function in a sandbox of its own; here every function shares
the emulator's process and event loop, so two things a handler can do would
take everyone down, silently:

* ``os._exit()`` ends a process at once. On Lambda it ends the function's
  execution environment (``Runtime.ExitError``). Called by a handler here, the
  invocation fails the same way, the log says which function called it and
  where, and the emulator serves on. Called outside any invocation (a thread a
  handler started), the process exits as asked, but not before the log says who.
* An ``async def`` handler that blocks (``time.sleep``, a synchronous HTTP
  call) stops the event loop: every client waits. :class:`LoopWatchdog`, a
  thread, notices the loop not turning, names the handler and the line it is
  blocked at, and once the loop turns again, for how long it was blocked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Final, NoReturn

from emulator.runtime.logroot import outside
from emulator.runtime.output import current_scope

__all__ = ["HandlerExit", "LoopWatchdog", "install_exit_guard"]

logger = logging.getLogger("emulator")

_real_exit: Final = os._exit
_installed_in = 0  # the pid of the process the guard was installed in

# How often the loop beats, and how long without a beat is a stall.
_PERIOD_S: Final = 0.1
_STALL_S: Final = 0.5


class HandlerExit(SystemExit):
    """``os._exit`` called by a handler: its invocation fails with ``Runtime.ExitError``."""


def _where(frame: FrameType | None) -> str:
    if frame is None:
        return "an unknown place"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _guarded_exit(status: int) -> NoReturn:
    scope = current_scope.get()
    where = _where(sys._getframe(1))
    if scope is None or os.getpid() != _installed_in:
        if os.getpid() == _installed_in:
            logger.critical(
                "os._exit(%s) called at %s, outside any invocation: the emulator exits",
                status,
                where,
            )
            for handler in logging.getLogger().handlers:
                handler.flush()
        _real_exit(status)
    with outside():  # the emulator's line, not the function's
        logger.error(
            "function %s called os._exit(%s) at %s: on Lambda that ends its execution"
            " environment (Runtime.ExitError); here the invocation fails, and the emulator"
            " serves on",
            scope.function_name,
            status,
            where,
        )
    raise HandlerExit(status)


def install_exit_guard() -> None:
    """Make ``os._exit`` from a handler fail its invocation, not end the process."""
    global _installed_in
    _installed_in = os.getpid()
    os._exit = _guarded_exit


class LoopWatchdog:
    """Says when an ``async def`` handler blocks the event loop, and where.

    The loop beats every 0.1 s; a thread looks at the beats, and when none
    came for 0.5 s it reads the loop thread's stack. If an ``async def``
    handler (``handlers(code)`` names the handler a code object is) is on it,
    the log names it and the line it is at; when the loop beats again, the log
    says how long it was blocked. A stall with no handler on the stack (the
    emulator's own work, a garbage collection) is not reported.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handlers: Callable[[CodeType], str | None],
        *,
        period_s: float = _PERIOD_S,
        stall_s: float = _STALL_S,
    ) -> None:
        self._loop = loop
        self._handlers = handlers
        self._period_s = period_s
        self._stall_s = stall_s
        self._last = time.monotonic()
        self._loop_thread = 0
        self._blocked: tuple[str, float] | None = None  # who, since when
        self._beat_handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching; called on the loop's thread."""
        self._loop_thread = threading.get_ident()
        self._last = time.monotonic()
        self._beat_handle = self._loop.call_later(self._period_s, self._beat)
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._beat_handle is not None:
            self._beat_handle.cancel()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        now = time.monotonic()
        blocked, self._blocked = self._blocked, None
        if blocked is not None:
            who, since = blocked
            logger.warning(
                "%s blocked the event loop for %.2f s: every client waited", who, now - since
            )
        self._last = now
        self._beat_handle = self._loop.call_later(self._period_s, self._beat)

    def _watch(self) -> None:
        while not self._stop.wait(self._period_s):
            last = self._last
            stalled = time.monotonic() - last
            if stalled < self._stall_s or self._blocked is not None:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            found = self._handler_on(frame)
            if found is None or self._last != last:
                continue
            who = found
            self._blocked = (who, last)
            logger.warning(
                "%s is blocking the event loop (%.1f s so far) at %s: every client waits."
                " Blocking code belongs in a def handler, which runs on a thread of its own"
                " (or await it: asyncio.sleep, asyncio.to_thread)",
                who,
                stalled,
                _where(frame),
            )

    def _handler_on(self, frame: FrameType | None) -> str | None:
        while frame is not None:
            name = self._handlers(frame.f_code)
            if name is not None:
                return name
            frame = frame.f_back
        return None
