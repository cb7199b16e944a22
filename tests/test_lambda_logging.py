"""Logs like Lambda's Python runtime, through the real server.

Each function's root logger starts as the runtime leaves it: WARNING in the
text format unless the code sets a level (AWS's samples set INFO at import),
``AWS_LAMBDA_LOG_LEVEL``'s level with ``LogFormat: JSON`` (routes.yaml's
``loggingConfig``, a template's ``LoggingConfig``), whose records are JSON and
filtered by that level whatever the code sets. ``serve --platform-logs``
adds Lambda's START, END and REPORT lines. Powertools' Logger, which writes
JSON to stdout through its own handler, works. Every line is attributed to
the function and the Lambda request id of the invocation that wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools import logs
from emulator.tools.testing import Harness, InvocationRecord
from tests.conftest import HANDLERS, LocalDynamoDB, SilentService
from tests.serving import serving

APPS = Path(__file__).parent / "fixtures" / "apps"
TIMEOUT = 10.0
LAMBDA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
JSON_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"  # whole seconds, as the runtime writes them
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@contextlib.contextmanager
def captured() -> Iterator[None]:
    """Handlers' print output captured as ``apigw-ws serve`` captures it, from
    before their init (the log itself goes nowhere: tests read caplog). In the
    test's body: pytest puts its own sys.stdout back between phases."""
    logs.configure("text", io.StringIO())
    try:
        yield
    finally:
        logs.unconfigure()


def output(caplog: pytest.LogCaptureFixture, function: str) -> list[dict[str, str]]:
    """Each line ``function`` wrote: its stream, Lambda request id and text."""
    return [
        {**r.apigw, "line": r.getMessage()}  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "emulator.handler" and r.apigw["function"] == function  # type: ignore[attr-defined]
    ]


def lambda_id(record: InvocationRecord) -> str:
    scope = record.invocation.scope
    assert scope is not None
    return scope.request_id


# Levels and formats, from routes.yaml's loggingConfig

LEVEL_CASES = [
    # module, loggingConfig, levels written, print shown, root level, LOG_FORMAT, LOG_LEVEL
    pytest.param(
        "levels_untouched",
        None,
        ["WARNING", "ERROR"],
        True,
        ("WARNING", None, None),
        id="text-the-runtimes-warning",
    ),
    pytest.param(
        "levels_set_info",
        None,
        ["INFO", "WARNING", "ERROR"],
        True,
        ("INFO", None, None),
        id="text-info-set-at-import",
    ),
    pytest.param(
        "levels_untouched",
        {"logFormat": "JSON"},
        ["INFO", "WARNING", "ERROR"],
        True,
        ("INFO", "JSON", "INFO"),
        id="json-info-by-default",
    ),
    pytest.param(
        "levels_untouched",
        {"logFormat": "JSON", "applicationLogLevel": "DEBUG"},
        ["DEBUG", "INFO", "WARNING", "ERROR"],
        True,
        ("DEBUG", "JSON", "DEBUG"),
        id="json-debug",
    ),
    # The code's setLevel(INFO) does not bring back what Lambda filters, print included.
    pytest.param(
        "levels_set_info",
        {"logFormat": "JSON", "applicationLogLevel": "WARN"},
        ["WARNING", "ERROR"],
        False,
        ("INFO", "JSON", "WARN"),
        id="json-warn-over-the-codes-level",
    ),
]


@pytest.mark.parametrize(("module", "logging_config", "levels", "printed", "setup"), LEVEL_CASES)
async def test_the_root_logger_level_and_format_are_lambdas(
    caplog: pytest.LogCaptureFixture,
    module: str,
    logging_config: dict[str, str] | None,
    levels: list[str],
    printed: bool,
    setup: tuple[str, str | None, str | None],
) -> None:
    function: dict[str, Any] = {"handler": f"{module}.lambda_handler"}
    if logging_config is not None:
        function["loggingConfig"] = logging_config
    config = {
        "functions": {"talk": function},
        "routes": {"$default": {"function": "talk", "routeResponse": True}},
    }
    with captured():
        async with Harness.from_config(config, base_dir=HANDLERS) as api:
            client = await api.connect()
            await client.send_text("not json")
            found = await client.receive_json()
            [record] = await api.record.wait_for_invocations("$default")
    assert (found["root_level"], found["AWS_LAMBDA_LOG_FORMAT"], found["AWS_LAMBDA_LOG_LEVEL"]) == (
        setup
    )
    request_id, cid = lambda_id(record), client.connection_id
    lines = output(caplog, "talk")
    logged = [line for line in lines if line["stream"] == "logging"]
    # The init's INFO line (empty request id), where the level at import lets it through.
    init = [line for line in logged if line["requestId"] == ""]
    assert len(init) == (1 if "INFO" in levels else 0)
    invocation = [line for line in logged if line["requestId"] == request_id]
    assert len(invocation) + len(init) == len(logged)
    messages = {
        "DEBUG": "event: ",
        "INFO": f"message from {cid}",
        "WARNING": f"slow consumer {cid}",
        "ERROR": "not JSON: 'not json'",
    }
    if logging_config is None:
        for line, level in zip(invocation, levels, strict=True):
            pattern = rf"\[{level}\]\t{LAMBDA_TIME}\t{request_id}\t{re.escape(messages[level])}"
            assert re.match(pattern, line["line"]), line
        if init:
            assert re.fullmatch(rf"\[INFO\]\t{LAMBDA_TIME}\t\tinit of talk", init[0]["line"])
    else:
        records = [json.loads(line["line"]) for line in invocation]
        assert [r["level"] for r in records] == levels
        for entry, level in zip(records, levels, strict=True):
            assert list(entry)[:4] == ["timestamp", "level", "message", "logger"]
            assert re.fullmatch(JSON_TIME, entry["timestamp"])
            assert entry["message"].startswith(messages[level])
            assert (entry["logger"], entry["requestId"]) == ("root", request_id)
        warning = records[levels.index("WARNING")]
        assert warning["connection_id"] == cid  # an `extra=` attribute
        error = records[levels.index("ERROR")]
        assert (error["errorType"], error["errorMessage"]) == (
            "JSONDecodeError",
            "Expecting value: line 1 column 1 (char 0)",
        )
        source = (HANDLERS / f"{module}.py").read_text(encoding="utf-8").splitlines()
        line_number = next(n for n, text in enumerate(source, 1) if "logger.exception" in text)
        assert error["location"] == f"{HANDLERS / module}.py:lambda_handler:{line_number}"
        if init:
            assert json.loads(init[0]["line"])["requestId"] == ""
    prints = [line["line"] for line in lines if line["stream"] == "stdout"]
    assert prints == ([f"print from {cid}"] if printed else [])
    # Lambda's own START/END/REPORT lines only when asked for (serve --platform-logs).
    assert not [line for line in lines if line["stream"] == "platform"]


async def test_a_templates_logging_config_applies_to_its_function_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # JsonLogFunction shares its module, folder and variables with other
    # functions of lambda_env whose logs stay in the text format.
    imported = load_template(APPS / "lambda_env" / "template.yaml")
    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as api:
        client = await api.connect(query={"token": "let-me-in"})
        names = ["AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL"]
        await client.send_json({"action": "jsonlog", "names": names})
        as_json = await client.receive_json()
        await client.send_json({"action": "other", "names": names})
        as_text = await client.receive_json()
        jsonlog = await api.record.wait_for_invocations("jsonlog")
        default = await api.record.wait_for_invocations("$default")

    assert as_json["invoke"] == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    assert as_text["invoke"] == {"AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None}
    [json_line] = [
        line["line"]
        for line in output(caplog, "JsonLogFunction")
        if line["stream"] == "logging" and line["requestId"] == lambda_id(jsonlog[0])
    ]
    entry = json.loads(json_line)
    assert (entry["level"], entry["message"], entry["requestId"]) == (
        "INFO",
        "lambda-env reports on jsonlog",
        lambda_id(jsonlog[0]),
    )
    [text_line] = [
        line["line"]
        for line in output(caplog, "DefaultFunction")
        if line["stream"] == "logging" and line["requestId"] == lambda_id(default[0])
    ]
    assert re.fullmatch(
        rf"\[INFO\]\t{LAMBDA_TIME}\t{lambda_id(default[0])}\tlambda-env reports on \$default",
        text_line,
    )


# START, END and REPORT: serve --platform-logs

ECHO = """\
def lambda_handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""


async def test_serve_platform_logs_writes_start_end_and_report(
    tmp_path: Path, silent_service: SilentService
) -> None:
    (tmp_path / "echo.py").write_text(ECHO, encoding="utf-8")
    forecast = (HANDLERS / "forecast.py").read_text(encoding="utf-8")
    (tmp_path / "forecast.py").write_text(forecast, encoding="utf-8")
    (tmp_path / "routes.yaml").write_text(
        "stage: logs\n"
        "functions:\n"
        "  echo: {handler: echo.lambda_handler, memorySize: 256}\n"
        "  forecast:\n"
        "    handler: forecast.lambda_handler\n"
        "    timeout: 1\n"
        f"    environment: {{SERVICE_URL: '{silent_service.url}'}}\n"
        "routes:\n"
        "  $default: {function: echo, routeResponse: true}\n"
        "  forecast: {function: forecast}\n",
        encoding="utf-8",
    )
    log = tmp_path / "stderr.log"
    args = ["routes.yaml", "--port", "0", "--no-reload", "--no-inspector", "--platform-logs"]
    async with serving(args, cwd=tmp_path, log=log) as server:
        assert server.url.startswith("ws://127.0.0.1:"), server.errors()
        async with connect(server.url, open_timeout=TIMEOUT) as client:
            for text in ("one", "two"):
                await client.send(text)
                assert await asyncio.wait_for(client.recv(), TIMEOUT) == text
            await client.send('{"action": "forecast"}')
            failed = json.loads(await asyncio.wait_for(client.recv(), TIMEOUT))
            assert failed["message"] == "Internal server error"
        silent_service.close()  # the function's thread, stopped by nothing else, ends
        await server.stop()
        assert server.process.returncode == 0
    stderr_lines = log.read_text(encoding="utf-8").splitlines()

    def platform(function: str) -> list[str]:
        found = []
        for line in stderr_lines:
            match = re.fullmatch(rf".*   {function} ({UUID}) \| ((START|END|REPORT) .*)", line)
            if match:
                assert match[2].split("RequestId: ")[1].startswith(match[1]), line
                found.append(match[2])
        return found

    echo = platform("echo")
    assert len(echo) == 6, stderr_lines
    first, second = echo[:3], echo[3:]
    for start, end, report in (first, second):
        request_id = re.fullmatch(rf"START RequestId: ({UUID}) Version: \$LATEST", start)
        assert request_id, start
        assert end == f"END RequestId: {request_id[1]}"
        assert report.startswith(f"REPORT RequestId: {request_id[1]}\tDuration: ")
        assert "\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t" in report
    # The first invocation after the init says how long the init took.
    assert re.search(r"\tInit Duration: \d+\.\d\d ms\t$", first[2]), first[2]
    assert "Init Duration" not in second[2]
    assert re.search(r"\tBilled Duration: \d+ ms\t", first[2])
    # A function stopped at its timeout.
    start, end, report = platform("forecast")
    request_id = start.split()[2]
    assert end == f"END RequestId: {request_id}"
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: 1000.00 ms\t")
    assert report.endswith("\tStatus: timeout")
    timed_out = f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"
    assert any(
        line.endswith(f" error: forecast.lambda_handler (forecast) {timed_out}")
        for line in stderr_lines
    ), stderr_lines


# Powertools' Logger


async def test_powertools_logger_writes_its_json_lines_per_invocation(
    local_dynamodb: LocalDynamoDB,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # the table's region
    local_dynamodb.create_table("ConnectionsTable", "connectionId")
    with captured():
        imported = load_template(APPS / "powertools_chat" / "template.yaml")
        async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as api:
            alice, bob = await api.connect(), await api.connect()
            await alice.send_json({"action": "sendmessage", "data": "hi"})
            hello = {"from": alice.connection_id, "data": "hi"}
            assert await alice.receive_json() == hello
            assert await bob.receive_json() == hello
            # One invocation at a time, as one execution environment takes them:
            # concurrent ones would share Powertools' keys here (one module).
            await api.record.wait_for_invocations("sendmessage")
            await alice.send_json({"action": "sendmessage", "data": ""})
            assert await alice.receive_json() == {
                "error": "invalid message",
                "details": ["body.data: String should have at least 1 character"],
            }
            await bob.close(1001, "Going away")
            await api.record.wait_for_invocations("$disconnect")
            await api.record.wait_for_invocations("sendmessage", 2)
            invocations = list(api.record.invocations)
            stored = {item["connectionId"] for item in local_dynamodb.items("ConnectionsTable")}
            assert stored == {alice.connection_id}

    functions = {
        "$connect": "ConnectFunction",
        "sendmessage": "MessageFunction",
        "$disconnect": "DisconnectFunction",
    }
    for invocation in invocations:
        function = functions[invocation.route_key]
        request_id = lambda_id(invocation)
        lines = [
            line
            for line in output(caplog, function)
            if line["requestId"] == request_id and line["stream"] == "stdout"
        ]
        records = [json.loads(line["line"]) for line in lines]
        # log_event=True: the event first, then the function's own records.
        # (Not cold_start: Powertools keeps it in its own module, which a process
        # imports once, so here only the first function's first record says true.)
        assert records[0]["message"] == invocation.event, function
        for entry in records:
            assert entry["service"] == "chat"
            assert entry["function_name"] == function
            assert entry["function_request_id"] == request_id
            assert entry["correlation_id"] == invocation.event["requestContext"]["requestId"]
            assert entry["function_memory_size"] == "256"
    messages = [
        (line["function"], json.loads(line["line"]))
        for line in [*output(caplog, "MessageFunction"), *output(caplog, "DisconnectFunction")]
        if line["stream"] == "stdout"
    ]
    broadcast = [entry for _, entry in messages if entry["message"] == "Message broadcast"]
    assert [(entry["level"], entry["delivered"]) for entry in broadcast] == [("INFO", 2)]
    [disconnected] = [
        entry
        for function, entry in messages
        if entry["message"] == "Disconnected" and entry["connection_id"] == bob.connection_id
    ]
    assert (disconnected["disconnect_status_code"], disconnected["disconnect_reason"]) == (
        1001,
        "Going away",
    )
