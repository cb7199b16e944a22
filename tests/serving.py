"""``apigw-ws serve`` in a child process, as users run it.

:func:`serving` starts ``python -m emulator serve ARGS``, reads the URL it
prints as its first line on stdout, and kills it on the way out if the test
has not stopped it; :meth:`Server.stop` stops it the way Ctrl-C or a CI
runner does, by signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["TIMEOUT", "Server", "serve_command", "serving"]

TIMEOUT = 10.0


def serve_command(*args: str) -> list[str]:
    """``python -m emulator serve ARGS`` with this interpreter."""
    return [sys.executable, "-m", "emulator", "serve", *args]


@dataclass
class Server:
    """A running ``serve``: its process, the URL it printed, where its stderr went."""

    process: asyncio.subprocess.Process
    url: str
    stderr: Path | None  # None: thrown away
    timeout: float

    @property
    def port(self) -> int | None:
        return urlsplit(self.url).port

    def errors(self) -> str:
        """What it wrote to stderr so far."""
        if self.stderr is None:
            return ""
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    async def finish(self) -> bytes:
        """Wait for it to exit (killing it if it hangs); the rest of its stdout."""
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), self.timeout)
        except TimeoutError:
            self.process.kill()
            out, _ = await asyncio.wait_for(self.process.communicate(), self.timeout)
            raise AssertionError(f"the server did not exit within {self.timeout} s") from None
        return out

    async def stop(self) -> bytes:
        """SIGTERM, then :meth:`finish`."""
        self.process.send_signal(signal.SIGTERM)
        return await self.finish()


@contextlib.asynccontextmanager
async def serving(
    args: list[str],
    *,
    cwd: Path,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    url_line: re.Pattern[str] | None = None,
    timeout: float = TIMEOUT,
) -> AsyncIterator[Server]:
    """Start ``python -m emulator serve ARGS`` in ``cwd``; killed on the way out if still running.

    Its stderr goes to ``log`` (or nowhere); ``url_line``, if given, is the
    line (newline included) its URL must print as."""
    with contextlib.ExitStack() as files:
        stderr = subprocess.DEVNULL if log is None else files.enter_context(log.open("wb"))
        process = await asyncio.create_subprocess_exec(
            *serve_command(*args),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert process.stdout is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout)).decode()
        except TimeoutError:
            raise AssertionError(f"no URL on stdout within {timeout} s") from None
        server = Server(process, line.strip(), log, timeout)
        if url_line is not None:
            assert url_line.fullmatch(line), f"stdout line {line!r}; stderr: {server.errors()}"
        yield server
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), timeout)
