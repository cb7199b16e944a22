"""What ``apigw-ws serve`` logs: one line per connect, frame and close.

Through a real ``python -m emulator serve --log-format text|json`` child
process and the real ``websockets`` client; the log is the child's stderr,
read after it exits. The formatters are also tested on hand-made records.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import io
import json
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from emulator.runtime import output
from emulator.tools import logs
from tests.serving import Server, serving

FIXTURE = Path(__file__).parent / "fixtures" / "teach_logs"
TIMEOUT = 10.0
CLOCK = r"\d\d:\d\d:\d\d\.\d{3}"
# The time in a line of Lambda's runtime: ISO 8601 in UTC, with milliseconds.
LAMBDA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
MS = r"\d+\.\d ms"
FUNCTION = "teach_log_handlers-talk"  # the Lambda function name of teach_log_handlers.talk


@dataclass
class Run:
    """What one served session produced."""

    connection_id: str
    request_id: str  # the talk invocation's (Lambda's)
    failed_request_id: str  # API Gateway's, from the fail route's error frame
    stdout: bytes  # everything after the URL line
    stderr: str


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def _recv(client: ClientConnection) -> str:
    message = await asyncio.wait_for(client.recv(), TIMEOUT)
    assert isinstance(message, str)
    return message


# The URL serve prints for the fixtures' stage, on a port of its own.
_URL_LINE = re.compile(r"ws://127\.0\.0\.1:\d+/teach\n")


def _served(config: Path, fmt: str, log: Path) -> contextlib.AbstractAsyncContextManager[Server]:
    """``python -m emulator serve`` on port 0, its stderr to ``log``; killed if still up."""
    args = ["--config", str(config), "--port", "0", "--no-reload", "--log-format", fmt]
    return serving(args, cwd=log.parent, log=log, url_line=_URL_LINE, timeout=TIMEOUT)


async def _stop(server: Server) -> bytes:
    out = await server.stop()
    assert server.process.returncode == 0
    return out


def _connection_id(frame: str) -> str:
    """The connection id an error frame names."""
    return str(json.loads(frame)["connectionId"])


async def _session(tmp_path: Path, fmt: str) -> Run:
    """Every kind of frame the log tells apart, on one connection, in order."""
    async with _served(FIXTURE / "routes.yaml", fmt, tmp_path / "stderr.log") as server:
        async with connect(server.url, open_timeout=TIMEOUT) as client:
            await client.send('{"action":"talk"}')
            request_id = await _recv(client)
            await client.send('{"action":"post"}')
            assert [await _recv(client) for _ in range(3)] == ["first", "second", "posted"]
            await client.send('{"action":"fail"}')
            error = await _recv(client)
            assert error.startswith('{"message": "Internal server error", ')
            await client.send('{"action":"slow"}')
            assert (await _recv(client)).startswith('{"message": "Endpoint request timed out", ')
            await client.send('{"action":"nope"}')
            assert await _recv(client) == '{"action":"nope"}'
            await client.send("plain")
            assert await _recv(client) == "plain"
        stdout = await _stop(server)
    return Run(
        _connection_id(error),
        request_id,
        json.loads(error)["requestId"],
        stdout,
        _read(tmp_path / "stderr.log"),
    )


async def _forbidden_session(tmp_path: Path, fmt: str) -> tuple[str, str]:
    """An API without $default: an unmatched and a non-JSON frame; (connection id, log)."""
    config = FIXTURE / "forbidden.yaml"
    async with _served(config, fmt, tmp_path / "stderr.log") as server:
        async with connect(server.url, open_timeout=TIMEOUT) as client:
            await client.send('{"action":"nope"}')
            forbidden = await _recv(client)
            assert forbidden.startswith('{"message": "Forbidden", ')
            await client.send("plain")
            assert (await _recv(client)).startswith('{"message": "Forbidden", ')
        assert await _stop(server) == b""
    return _connection_id(forbidden), _read(tmp_path / "stderr.log")


# Text


def _events(stderr: str, connection_id: str, kind: str) -> list[str]:
    """Text lines of one kind for one connection, without their clock."""
    pattern = re.compile(rf"{CLOCK} ({re.escape(connection_id)} {kind}.*)")
    return [m[1] for line in stderr.splitlines() if (m := pattern.fullmatch(line))]


async def test_text_log_has_one_line_per_connect_frame_and_close(tmp_path: Path) -> None:
    run = await _session(tmp_path, "text")
    cid = re.escape(run.connection_id)
    connects = _events(run.stderr, run.connection_id, "connect")
    assert len(connects) == 1, run.stderr
    assert re.fullmatch(
        rf"{cid} connect from 127\.0\.0\.1: open "
        rf"\(\$connect teach_log_handlers\.on_connect {MS} ok\)",
        connects[0],
    )
    frames = _events(run.stderr, run.connection_id, "frame")
    expected = [
        r"talk \(matched 'talk'\) teach_log_handlers\.talk {ms} ok",
        r"post \(matched 'post'\) teach_log_handlers\.post_twice {ms} ok, 2 posted",
        r"fail \(matched 'fail'\) teach_log_handlers\.fail {ms} error: ValueError: bad input",
        r"slow \(matched 'slow'\) teach_log_handlers\.slow {ms} timeout",
        r"\$default \(fallback, no route 'nope'\) teach_log_handlers\.echo {ms} ok",
        r"\$default \(not JSON\) teach_log_handlers\.echo {ms} ok",
    ]
    assert len(frames) == len(expected), run.stderr
    for line, pattern in zip(frames, expected, strict=True):
        assert re.fullmatch(rf"{cid} frame → " + pattern.format(ms=MS), line), line
    # The route's timeout is 0.1 s: the caller waited at least that long.
    assert float(re.findall(r"(\d+\.\d) ms timeout", frames[3])[0]) >= 100.0
    closes = _events(run.stderr, run.connection_id, "close")
    assert len(closes) == 1, run.stderr
    assert re.fullmatch(
        rf"{cid} close 1000 '' \(\$disconnect teach_log_handlers\.on_disconnect {MS} ok\)",
        closes[0],
    )


async def test_text_log_attributes_handler_output_to_function_and_request_id(
    tmp_path: Path,
) -> None:
    run = await _session(tmp_path, "text")
    who = f"{FUNCTION} {run.request_id} | "
    output = [line.split("   ", 1)[1] for line in run.stderr.splitlines() if who in line]
    # As CloudWatch groups a Lambda's output: print to stdout and stderr, the
    # logging module (in the format of Lambda's runtime: level, UTC time, request
    # id), a thread the handler started, and a last line without a newline.
    lambda_line = rf"\[WARNING\]\t{LAMBDA_TIME}\t{re.escape(run.request_id)}\tcareful with talk"
    assert output[:2] == [f"{who}hello from talk", f"{who}to stderr"]
    assert re.fullmatch(re.escape(who) + lambda_line, output[2]), output[2]
    assert output[3:] == [f"{who}from a thread", f"{who}no newline"]
    for line in run.stderr.splitlines():
        if who in line:
            assert re.fullmatch(rf"{CLOCK}   {re.escape(who)}.+", line), line
    # The handler's output is in the log, not on stdout (which held only the URL).
    assert run.stdout == b""
    # It comes before the frame's own line, which is written when the invocation ends.
    lines = run.stderr.splitlines()
    talk_frame = next(i for i, line in enumerate(lines) if "frame → talk" in line)
    assert max(i for i, line in enumerate(lines) if who in line) < talk_frame


async def test_a_root_logger_level_set_at_import_is_kept(tmp_path: Path) -> None:
    # AWS's samples set the root logger to INFO when their module is imported;
    # Lambda's runtime has set up logging before that, so the level holds.
    module = "teach_log_info_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{module}.py").write_text(
        "import logging\n\nlogger = logging.getLogger()\nlogger.setLevel(logging.INFO)\n\n\n"
        "def handler(event, context):\n"
        '    logger.info("info from %s", "the handler")\n'
        '    return {"statusCode": 200, "body": "ok"}\n',
        encoding="utf-8",
    )
    config = tmp_path / "routes.yaml"
    config.write_text(
        f"stage: teach\nroutes:\n  $default: {{handler: {module}.handler, routeResponse: true}}\n",
        encoding="utf-8",
    )
    async with _served(config, "text", tmp_path / "stderr.log") as server:
        async with connect(server.url, open_timeout=TIMEOUT) as client:
            await client.send("hi")
            assert await _recv(client) == "ok"
        await _stop(server)
    info = [line for line in _read(tmp_path / "stderr.log").splitlines() if "[INFO]" in line]
    assert len(info) == 1, info
    assert re.search(
        rf" \| \[INFO\]\t{LAMBDA_TIME}\t[0-9a-f-]{{36}}\tinfo from the handler$", info[0]
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_forbidden_frames_are_logged_with_why(tmp_path: Path, fmt: str) -> None:
    cid, stderr = await _forbidden_session(tmp_path, fmt)
    if fmt == "text":
        assert _events(stderr, cid, "connect") == [f"{cid} connect from 127.0.0.1: open"]
        assert _events(stderr, cid, "frame") == [
            f"{cid} frame → Forbidden frame (no route 'nope' and no $default)",
            f"{cid} frame → Forbidden frame (not JSON and no $default)",
        ]
        assert _events(stderr, cid, "close") == [f"{cid} close 1000 ''"]
        return
    entries = [json.loads(line) for line in stderr.splitlines()]
    frames = [e for e in entries if e["kind"] == "frame"]
    for entry in frames:
        assert set(entry) == {
            "time", "level", "kind", "connectionId", "routeKey", "reason", "evaluated", "message"
        }  # fmt: skip
    assert [(e["connectionId"], e["routeKey"], e["reason"], e["evaluated"]) for e in frames] == [
        (cid, None, "forbidden", "nope"),
        (cid, None, "forbidden", None),
    ]


# JSON


def _json_entries(stderr: str) -> list[dict[str, Any]]:
    entries = []
    for line in stderr.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"stderr line is not JSON: {line!r}") from None
    return entries


async def test_json_log_lines_are_json_with_the_frame_facts(tmp_path: Path) -> None:
    run = await _session(tmp_path, "json")
    entries = _json_entries(run.stderr)
    for entry in entries:
        datetime.datetime.fromisoformat(entry["time"])
        assert entry["level"] in ("info", "warning", "error")
    mine = [e for e in entries if e.get("connectionId") == run.connection_id]
    # What its functions wrote carries the connection too (the output tests below).
    assert {e["kind"] for e in mine if e["kind"] == "output"} == {"output"}
    mine = [e for e in mine if e["kind"] != "output"]
    assert [e["kind"] for e in mine] == ["connect", *["frame"] * 6, "close"]
    connect_entry, *frames, close_entry = mine
    assert connect_entry["status"] == 200
    assert connect_entry["handler"] == "teach_log_handlers.on_connect"
    assert connect_entry["outcome"] == "ok"
    assert close_entry["code"] == 1000
    assert close_entry["handler"] == "teach_log_handlers.on_disconnect"
    facts = [
        (e["routeKey"], e["reason"], e["evaluated"], e["handler"], e["outcome"], e["posts"])
        for e in frames
    ]
    assert facts == [
        ("talk", "matched", "talk", "teach_log_handlers.talk", "ok", 0),
        ("post", "matched", "post", "teach_log_handlers.post_twice", "ok", 2),
        ("fail", "matched", "fail", "teach_log_handlers.fail", "error", 0),
        ("slow", "matched", "slow", "teach_log_handlers.slow", "timeout", 0),
        ("$default", "fallback", "nope", "teach_log_handlers.echo", "ok", 0),
        ("$default", "not-json", None, "teach_log_handlers.echo", "ok", 0),
    ]
    for entry in frames:
        assert isinstance(entry["durationMs"], int | float)
        assert entry["durationMs"] >= 0
    # Lambda's request id (the function's context) beside API Gateway's.
    assert frames[0]["lambdaRequestId"] == run.request_id
    assert frames[2]["requestId"] == run.failed_request_id
    assert frames[2]["lambdaRequestId"] not in (None, frames[2]["requestId"])
    assert frames[2]["error"] == "ValueError: bad input"
    assert "error" not in frames[0]
    assert frames[3]["durationMs"] >= 100.0
    # The emulator says which handler raised what, in one line ...
    raised = [e for e in entries if e["kind"] == "log" and "raised" in e["message"]]
    assert [(e["level"], e["message"]) for e in raised] == [
        ("error", "teach_log_handlers.fail (fail) raised ValueError: bad input")
    ]
    assert "exception" not in raised[0]
    # ... and the traceback is the function's, as Lambda's runtime writes it: one entry.
    [runtime] = [e for e in entries if e["kind"] == "output" and e["stream"] == "runtime"]
    assert runtime["requestId"] == frames[2]["lambdaRequestId"]
    assert runtime["level"] == "error"
    assert runtime["message"].startswith(
        "[ERROR] ValueError: bad input\nTraceback (most recent call last):\n"
    )


async def test_json_log_attributes_handler_output(tmp_path: Path) -> None:
    run = await _session(tmp_path, "json")
    output = [e for e in _json_entries(run.stderr) if e["kind"] == "output"]
    # Besides talk's output, only what the runtime wrote for the handler that raised.
    [failed] = [e for e in output if e["routeKey"] != "talk"]
    assert (failed["routeKey"], failed["stream"]) == ("fail", "runtime")
    output.remove(failed)
    attribution = {(e["function"], e["requestId"], e["routeKey"]) for e in output}
    assert attribution == {(FUNCTION, run.request_id, "talk")}
    lines = [(e["stream"], e["level"], e["message"]) for e in output]
    assert lines[:2] == [("stdout", "info", "hello from talk"), ("stderr", "info", "to stderr")]
    assert lines[2][:2] == ("logging", "warning")
    assert re.fullmatch(
        rf"\[WARNING\]\t{LAMBDA_TIME}\t{re.escape(run.request_id)}\tcareful with talk",
        lines[2][2],
    )
    assert lines[3:] == [("stdout", "info", "from a thread"), ("stdout", "info", "no newline")]
    assert run.stdout == b""


# In this process, outside any invocation


def test_print_outside_an_invocation_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    log = io.StringIO()
    root = logging.getLogger()
    saved = (sys.stdout, sys.stderr, root.level)
    # Only this test's handler: an in-process `main(["serve", ...])` elsewhere may
    # have left one on a capture stream that is closed by now.
    handlers, root.handlers = root.handlers, []
    quiet = {
        name: logging.getLogger(name).level
        for name in ("websockets", "emulator.transport.websockets")
    }
    logs.configure("text", stream=log)
    try:
        print("plain output")
        print("plain error", file=sys.stderr)

        def invocation() -> None:
            output.current_scope.set(output.InvocationScope("fn", "req-1", "talk"))
            print("from a handler")

        contextvars.copy_context().run(invocation)
        print("plain again")
    finally:
        root.handlers = handlers
        sys.stdout, sys.stderr, level = saved
        root.setLevel(level)
        for name, value in quiet.items():
            logging.getLogger(name).setLevel(value)
    out, err = capsys.readouterr()
    assert out == "plain output\nplain again\n"
    assert err == "plain error\n"
    assert re.fullmatch(rf"{CLOCK}   fn req-1 \| from a handler\n", log.getvalue())


# The formatters, on hand-made records

CREATED = 1_700_000_000.123  # 2023-11-14T22:13:20.123Z


def _record(
    message: str,
    *args: object,
    level: int = logging.INFO,
    apigw: dict[str, Any] | None = None,
    exc: BaseException | None = None,
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("emulator", level, __file__, 1, message, args, exc_info)
    record.created, record.msecs = CREATED, 123.0
    if apigw is not None:
        record.apigw = apigw
    return record


def _raised() -> ValueError:
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        return exc


OUTPUT = {"kind": "output", "function": "fn", "requestId": "req-1", "routeKey": "talk"}
FRAME = {"kind": "frame", "connectionId": "cid=", "routeKey": "talk", "durationMs": 0.5}
LOCAL_CLOCK = datetime.datetime.fromtimestamp(CREATED).strftime("%H:%M:%S") + ".123"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            _record("hello", apigw={**OUTPUT, "stream": "stdout"}),
            f"{LOCAL_CLOCK}   fn req-1 | hello",
            id="print",
        ),
        pytest.param(
            _record(
                "[WARNING]\t2023-11-14T22:13:20.123Z\treq-1\tcareful now",
                level=logging.WARNING,
                apigw={**OUTPUT, "stream": "logging"},
            ),
            f"{LOCAL_CLOCK}   fn req-1 | [WARNING]\t2023-11-14T22:13:20.123Z\treq-1\tcareful now",
            id="handler-logging",
        ),
        pytest.param(
            _record("cid= frame → talk (matched 'talk')", apigw=FRAME),
            f"{LOCAL_CLOCK} cid= frame → talk (matched 'talk')",
            id="frame",
        ),
        pytest.param(
            _record("reloaded %s", "app", level=logging.WARNING),
            f"{LOCAL_CLOCK} warning: reloaded app",
            id="plain-log",
        ),
    ],
)  # fmt: skip
def test_text_formatter(record: logging.LogRecord, expected: str) -> None:
    assert logs.TextFormatter().format(record) == expected


def test_text_formatter_appends_the_traceback() -> None:
    text = logs.TextFormatter().format(_record("x raised", level=logging.ERROR, exc=_raised()))
    first, *rest = text.splitlines()
    assert first == f"{LOCAL_CLOCK} error: x raised"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad input"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            _record("hello", apigw={**OUTPUT, "stream": "stdout"}),
            {"level": "info", **OUTPUT, "stream": "stdout", "message": "hello"},
            id="print",
        ),
        pytest.param(
            _record("cid= frame → talk", apigw=FRAME),
            {"level": "info", **FRAME, "message": "cid= frame → talk"},
            id="frame",
        ),
        pytest.param(
            _record("reloaded %s", "app", level=logging.WARNING),
            {"level": "warning", "kind": "log", "logger": "emulator", "message": "reloaded app"},
            id="plain-log",
        ),
        pytest.param(
            _record("odd", apigw={"kind": "frame", "path": Path("/x")}),
            {"level": "info", "kind": "frame", "path": "/x", "message": "odd"},
            id="not-json-serialisable",
        ),
    ],
)
def test_json_formatter(record: logging.LogRecord, expected: dict[str, Any]) -> None:
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    assert "→" in line or "→" not in expected["message"]  # not escaped: readable as text
    assert json.loads(line) == {"time": "2023-11-14T22:13:20.123000+00:00", **expected}


def test_json_formatter_puts_the_traceback_in_one_field() -> None:
    line = logs.JsonFormatter().format(_record("x raised", level=logging.ERROR, exc=_raised()))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "x raised"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: bad input")


def test_a_failing_log_handler_inside_an_invocation_does_not_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """logging reports a failing handler on stderr; that report must not be
    captured as handler output and logged again, forever."""
    import io
    import logging

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise RuntimeError("this handler is broken")
            except RuntimeError:
                self.handleError(record)  # as logging's own handlers do

    logs.configure("text", stream=io.StringIO())
    broken = Broken()
    logging.getLogger().addHandler(broken)
    token = output.current_scope.set(output.InvocationScope("fn", "rid", "$default"))
    try:
        print("from the handler")  # goes through the broken handler, which reports on stderr
    finally:
        output.current_scope.reset(token)
        logging.getLogger().removeHandler(broken)
        logs.unconfigure()
    assert "this handler is broken" in capsys.readouterr().err
