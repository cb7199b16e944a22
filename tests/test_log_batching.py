"""What the log costs: ``apigw-ws serve``'s lines are written in batches, and
the gateway's own lines make no LogRecord unless someone else may want one.

In-process, with the handler ``apigw-ws serve`` installs (:func:`logs.configure`)
writing to a stream that counts its writes, and a real emulator and client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from emulator.gateway.log import EVENTS
from emulator.tools import logs
from tests.conftest import StartApi

TIMEOUT = 10.0


class CountingStream(io.StringIO):
    """A stream that counts writes and wakes a waiter on the loop that asked."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def write(self, text: str) -> int:
        self.writes += 1
        written = super().write(text)
        for loop, event in self._waiters:
            loop.call_soon_threadsafe(event.set)
        return written

    async def until(self, condition: Callable[[str], bool]) -> str:
        event = asyncio.Event()
        self._waiters.append((asyncio.get_running_loop(), event))
        try:
            async with asyncio.timeout(TIMEOUT):
                while not condition(self.getvalue()):
                    await event.wait()
                    event.clear()
        finally:
            self._waiters.pop()
        return self.getvalue()


@pytest.fixture
async def serve_log() -> AsyncIterator[CountingStream]:
    """The log ``apigw-ws serve`` sets up, its batches written from the test's
    loop as serve's are from its own (see :func:`_alone`)."""
    level = logging.getLogger().level
    stream = CountingStream()
    logs.configure("text", stream=stream)
    logs.bind(asyncio.get_running_loop())
    try:
        yield stream
    finally:
        logs.unconfigure()
        logging.getLogger().setLevel(level)


@contextlib.contextmanager
def _alone() -> Iterator[None]:
    """Serve's handler alone on the root logger, as in ``apigw-ws serve``: pytest
    puts capturing handlers of its own there around each test's body."""
    root = logging.getLogger()
    saved = root.handlers[:]
    assert logs._configured is not None
    root.handlers = [logs._configured]
    try:
        yield
    finally:
        root.handlers = saved


@pytest.fixture
def event_records() -> Iterator[list[logging.LogRecord]]:
    """Every LogRecord made for the gateway's log, wherever it goes."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == EVENTS.name:
            made.append(record)
        return record

    logging.setLogRecordFactory(counting)
    try:
        yield made
    finally:
        logging.setLogRecordFactory(factory)


def _frames(text: str) -> list[str]:
    return [line for line in text.splitlines() if " frame → " in line]


async def test_serve_lines_make_no_log_record(
    start_api: StartApi, serve_log: CountingStream, event_records: list[logging.LogRecord]
) -> None:
    with _alone():
        api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
        client = await api.connect()
        for n in range(3):
            await client.send_text(f"m{n}")
        for _ in range(3):
            await client.receive_text()
        text = await serve_log.until(lambda text: len(_frames(text)) == 3)
    assert [line.split(" frame → ")[1].split(" (")[0] for line in _frames(text)] == ["$default"] * 3
    assert " connect from 127.0.0.1: open" in text
    assert event_records == []


async def test_a_users_handler_gets_records_with_their_fields(
    start_api: StartApi, serve_log: CountingStream, event_records: list[logging.LogRecord]
) -> None:
    """A handler of the user's (here on the root logger, as ``caplog`` or a
    ``logging.config`` would put it) gets the records, fields and all; serve's
    log keeps its lines."""
    api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    keep = Keep()
    with _alone():
        logging.getLogger().addHandler(keep)
        client = await api.connect()
        await client.send_text("hello")
        await client.receive_text()
        await serve_log.until(lambda text: len(_frames(text)) == 1)
    frames = [r for r in got if getattr(r, "apigw", {}).get("kind") == "frame"]
    assert len(frames) == 1
    assert frames[0].apigw["routeKey"] == "$default"  # type: ignore[attr-defined]
    assert frames[0].apigw["connectionId"] == client.connection_id  # type: ignore[attr-defined]
    assert len(event_records) >= 2  # the connect's and the frame's


async def test_a_filter_on_the_way_gets_every_record(
    start_api: StartApi, serve_log: CountingStream, event_records: list[logging.LogRecord]
) -> None:
    seen: list[str] = []

    def note(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return True

    EVENTS.addFilter(note)
    with _alone(), contextlib.ExitStack() as undo:
        undo.callback(EVENTS.removeFilter, note)
        api = await start_api({"$default": {"handler": "probe.echo", "routeResponse": True}})
        client = await api.connect()
        await client.send_text("hello")
        await client.receive_text()
        await serve_log.until(lambda text: len(_frames(text)) == 1)
    assert any(" frame → $default" in line for line in seen)


async def test_lines_of_one_batch_are_one_write(serve_log: CountingStream) -> None:
    handler = logs._configured
    assert handler is not None
    handler.write_line("c1 frame → $default")
    logging.getLogger("emulator.reload").info("reloaded x")  # a record, in the same batch
    await asyncio.sleep(0)  # a turn of the loop: the batch waits on for more
    handler.write_line("c1 close 1000 ''")
    assert serve_log.writes == 0
    await serve_log.until(lambda text: text.count("\n") == 3)
    assert serve_log.writes == 1
    lines = serve_log.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "c1 frame → $default",
        "info: reloaded x",
        "c1 close 1000 ''",
    ]


async def test_a_line_from_a_thread_is_written_by_the_loop(serve_log: CountingStream) -> None:
    handler = logs._configured
    assert handler is not None
    handler.write_line("from the loop")  # the handler now knows the loop
    await serve_log.until(lambda text: "from the loop" in text)
    writer = threading.Thread(target=handler.write_line, args=("from a thread",))
    writer.start()
    writer.join()
    text = await serve_log.until(lambda text: "from a thread" in text)
    assert text.splitlines()[-1].endswith(" from a thread")


def test_without_a_loop_a_line_is_written_at_once() -> None:
    stream = CountingStream()
    handler = logs.BatchedStreamHandler(stream)
    handler.write_line("at start-up")
    assert stream.writes == 1
    assert stream.getvalue().endswith(" at start-up\n")


async def test_a_handler_running_its_own_loop_does_not_stall_the_log(
    start_api: StartApi, serve_log: CountingStream
) -> None:
    """A sync handler's ``asyncio.run`` is not serve's loop: a batch begun there
    is still written, and so is every line after it."""
    with _alone():
        api = await start_api(
            {"$default": {"handler": "probe.logs_in_own_loop", "routeResponse": True}}
        )
        client = await api.connect()
        await serve_log.until(lambda text: " connect from " in text)  # that batch is out
        await client.send_text("go")  # its first line comes from inside the handler's loop
        assert await client.receive_text() == "done"
        text = await serve_log.until(lambda text: len(_frames(text)) == 1)
    assert "from a loop of its own" in text


def test_a_batch_whose_write_was_lost_goes_out_with_the_next_line() -> None:
    """A batch begun on a loop that stopped before writing it: the next line,
    a while later, writes it."""
    stream = CountingStream()
    handler = logs.BatchedStreamHandler(stream)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0))
        handler.bind(loop)  # bound, then never run again: its timer never fires
        handler._loop_thread = 0  # as if from another thread: the write goes to the loop
        handler.write_line("first")
        assert stream.writes == 0
        handler._batch_since -= 2 * logs._OVERDUE_S
        handler.write_line("second")
        assert stream.getvalue().splitlines()[-2:][0].endswith(" first")
        assert stream.getvalue().endswith(" second\n")
    finally:
        loop.close()


def test_a_line_is_stamped_with_the_millisecond_it_is_written_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stamp is made once per millisecond and reused within it, never after."""
    stream = io.StringIO()
    handler = logs.BatchedStreamHandler(stream)  # no loop: each line written at once
    base = 1_700_000_000_000  # ms since the epoch, at a whole second
    moments = iter([base + 998, base + 998, base + 999, base + 1000, base + 1000, base + 61_005])
    monkeypatch.setattr(logs.time, "time_ns", lambda: next(moments) * 1_000_000 + 400_000)
    for n in range(6):
        handler.write_line(f"line {n}")
    clock = datetime.datetime.fromtimestamp
    second = clock(base // 1000).strftime("%H:%M:%S")
    next_second = clock(base // 1000 + 1).strftime("%H:%M:%S")
    a_minute_on = clock(base // 1000 + 61).strftime("%H:%M:%S")
    assert stream.getvalue().splitlines() == [
        f"{second}.998 line 0",
        f"{second}.998 line 1",
        f"{second}.999 line 2",
        f"{next_second}.000 line 3",
        f"{next_second}.000 line 4",
        f"{a_minute_on}.005 line 5",
    ]
