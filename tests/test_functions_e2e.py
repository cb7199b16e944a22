"""Functions with their own settings, through the real server.

routes.yaml's ``functions`` section (``handler``, ``timeout``, ``memorySize``,
``environment``, ``codeUri``, ``loggingConfig``) and a SAM template's
functions (``Timeout``, ``MemorySize``, ``Environment``, with ``Globals``)
reach the function's code: its environment, and the ``context`` of the
Lambda Python runtime. A function's timeout is Lambda's, apart from how long
API Gateway waits: whichever is shorter decides what the client gets. Bad
settings are refused with Lambda's own limits and messages, by ``apigw-ws
check``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools.cli import main
from emulator.tools.testing import Client, Harness, InvocationRecord
from tests.conftest import HANDLERS, SilentService

LAMBDA_ENV = Path(__file__).parent / "fixtures" / "apps" / "lambda_env"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ARN = "arn:aws:lambda:us-east-1:000000000000:function"


async def report(client: Client, action: str, names: list[str] | None = None) -> dict[str, Any]:
    """What the function behind ``action`` sees (lambda_env's src/report.py)."""
    await client.send_json({"action": action, "names": names or []})
    answer: dict[str, Any] = await client.receive_json()
    return answer


def lambda_id(record: InvocationRecord) -> str:
    scope = record.invocation.scope
    assert scope is not None
    return scope.request_id


# routes.yaml's functions section

SETTINGS = ["APP_NAME", "ROLE", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "LAMBDA_TASK_ROOT"]
SETTINGS += ["AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL"]


async def test_a_declared_function_has_its_settings_and_serves_its_routes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {
        "region": "us-east-1",
        "environment": {"APP_NAME": "top-level"},
        "functions": {
            "chat": {
                "handler": "report.lambda_handler",
                "codeUri": "src",
                "timeout": 12,
                "memorySize": 1024,
                "environment": {"APP_NAME": "chat", "ROLE": "chat"},
                "loggingConfig": {"logFormat": "JSON", "applicationLogLevel": "WARN"},
            },
        },
        "routes": {
            "sendmessage": {"function": "chat", "routeResponse": True},
            "whoami": {"function": "chat", "routeResponse": True},
            # A handler: an implicit function with Lambda's defaults.
            "$default": {
                "handler": "report.lambda_handler",
                "codeUri": "src",
                "routeResponse": True,
            },
        },
    }
    async with Harness.from_config(config, base_dir=LAMBDA_ENV) as api:
        client = await api.connect()
        chat = await report(client, "sendmessage", SETTINGS)
        again = await report(client, "whoami", SETTINGS)
        implicit = await report(client, "other", SETTINGS)
        records = await api.record.wait_for_invocations("whoami")

    task_root = str((LAMBDA_ENV / "src").resolve())
    assert chat["invoke"] == {
        "APP_NAME": "chat",  # its own over the top level's
        "ROLE": "chat",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "LAMBDA_TASK_ROOT": task_root,
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
    }
    assert chat["init"] == chat["invoke"]
    context = chat["context"]
    assert (context["function_name"], context["memory_limit_in_mb"]) == ("chat", "1024")
    assert context["invoked_function_arn"] == f"{ARN}:chat"
    assert 11000 < context["remaining"][0] <= 12000  # its timeout, not API Gateway's 29 s
    # Two routes, one function: one execution environment, one log stream.
    assert again["context"]["function_name"] == "chat"
    assert again["context"]["log_stream_name"] == context["log_stream_name"]
    # Its INFO record is below its applicationLogLevel: not written.
    written = [
        r.getMessage()
        for r in caplog.records
        if r.name == "emulator.handler" and r.apigw["requestId"] == lambda_id(records[0])  # type: ignore[attr-defined]
    ]
    assert written == [f"report for {client.connection_id}\n"]  # context.log: never filtered

    assert implicit["invoke"] == {
        "APP_NAME": "top-level",
        "ROLE": None,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "LAMBDA_TASK_ROOT": task_root,
        "AWS_LAMBDA_LOG_FORMAT": None,
        "AWS_LAMBDA_LOG_LEVEL": None,
    }
    assert implicit["context"]["function_name"] == "report-lambda_handler"
    assert implicit["context"]["memory_limit_in_mb"] == "128"
    assert 2000 < implicit["context"]["remaining"][0] <= 3000  # Lambda's default 3 s


# A template's functions: Globals, and each function's own settings


async def test_a_templates_timeout_memory_and_environment_reach_each_function() -> None:
    imported = load_template(LAMBDA_ENV / "template.yaml")
    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as api:
        client = await api.connect(query={"token": "let-me-in"})
        names = ["APP_NAME", "ROLE", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        from_globals = await report(client, "other", names)
        own = await report(client, "report", names)
    assert from_globals["invoke"] == {
        "APP_NAME": "lambda-env",
        "ROLE": None,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }
    assert from_globals["context"]["memory_limit_in_mb"] == "256"
    assert 5000 < from_globals["context"]["remaining"][0] <= 6000
    assert own["invoke"] == {
        "APP_NAME": "lambda-env-report",
        "ROLE": "report",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    }
    assert own["context"]["memory_limit_in_mb"] == "512"
    assert 6000 < own["context"]["remaining"][0] <= 7000


# The context


async def test_the_context_is_the_python_runtimes(caplog: pytest.LogCaptureFixture) -> None:
    imported = load_template(LAMBDA_ENV / "template.yaml")
    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as api:
        client = await api.connect(query={"token": "let-me-in"})
        first, second = await report(client, "report"), await report(client, "report")
        records = await api.record.wait_for_invocations("report", 2)
    for seen, record in zip((first, second), records, strict=True):
        context = seen["context"]
        # A Lambda request id of its own: a UUID, not API Gateway's requestId.
        assert UUID.fullmatch(context["aws_request_id"])
        assert context["aws_request_id"] != seen["requestContext"]["requestId"]
        assert context["aws_request_id"] == lambda_id(record)
        assert context["function_version"] == "$LATEST"
        assert context["invoked_function_arn"] == f"{ARN}:ReportFunction"
        assert context["log_group_name"] == "/aws/lambda/ReportFunction"
        assert context["identity"] == {
            "cognito_identity_id": None,
            "cognito_identity_pool_id": None,
        }
        assert context["client_context"] is None
        # Counting down the function's 7 s.
        before, after = context["remaining"]
        assert 6000 < after <= before <= 7000
        # context.log writes to the function's log, under this invocation.
        [logged] = [
            r
            for r in caplog.records
            if r.name == "emulator.handler"
            and r.apigw["requestId"] == context["aws_request_id"]  # type: ignore[attr-defined]
            and r.apigw["stream"] == "stdout"  # type: ignore[attr-defined]
        ]
        assert logged.getMessage() == f"report for {client.connection_id}\n"
        assert logged.apigw["function"] == "ReportFunction"  # type: ignore[attr-defined]
    assert first["context"]["aws_request_id"] != second["context"]["aws_request_id"]
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]


# The function's timeout and API Gateway's


@pytest.mark.parametrize(
    ("function_timeout", "route_timeout", "frame", "outcome"),
    [
        pytest.param(1, None, "Internal server error", "error", id="the-function-first"),
        pytest.param(3, 0.5, "Endpoint request timed out", "timeout", id="api-gateway-first"),
    ],
)
async def test_whichever_timeout_comes_first_is_what_the_client_gets(
    silent_service: SilentService,
    caplog: pytest.LogCaptureFixture,
    function_timeout: int,
    route_timeout: float | None,
    frame: str,
    outcome: str,
) -> None:
    route: dict[str, Any] = {"function": "forecast", "routeResponse": True}
    if route_timeout is not None:
        route["timeout"] = route_timeout
    config = {
        "functions": {
            "forecast": {
                "handler": "forecast.lambda_handler",
                "timeout": function_timeout,
                "environment": {"SERVICE_URL": silent_service.url},
            }
        },
        "routes": {"forecast": route},
    }
    async with Harness.from_config(config, base_dir=HANDLERS) as api:
        client = await api.connect()
        await client.send_json({"action": "forecast"})
        answer = await client.receive_json()
        [record] = await api.record.wait_for_invocations("forecast")
        silent_service.close()  # what the function waits for fails: its thread ends
    assert answer["message"] == frame
    assert record.outcome == outcome
    timed_out = [
        r.getMessage()
        for r in caplog.records
        if r.name == "emulator" and "Task timed out" in r.getMessage()
    ]
    if outcome == "error":
        # As Lambda's log says it, with the function's Lambda request id.
        assert timed_out == [
            f"forecast.lambda_handler (forecast) RequestId: {lambda_id(record)}"
            f" Error: Task timed out after {function_timeout:.2f} seconds"
        ]
        assert record.invocation.duration_ms == function_timeout * 1000
    else:
        assert timed_out == []
        assert route_timeout is not None
        assert route_timeout * 1000 <= record.invocation.duration_ms < function_timeout * 1000


# Bad settings, refused as Lambda refuses them

BASE: dict[str, Any] = {
    "functions": {"chat": {"handler": "chat.lambda_handler"}},
    "routes": {"sendmessage": {"function": "chat"}},
}


def _function(**settings: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["functions"]["chat"].update(settings)

    return change


RESERVED = (
    "Lambda was unable to configure your environment variables because the environment"
    " variables you have provided contains reserved keys that are currently not supported"
    " for modification. Reserved keys used in this request: "
)
WHOLE_SECONDS = "must be a whole number of seconds from 1 to 900 (Lambda's Timeout), got "
WHOLE_MB = "must be a whole number of MB from 128 to 10240 (Lambda's MemorySize), got "
BAD_SETTINGS = [
    pytest.param(
        _function(timeout=0), "functions.chat.timeout", WHOLE_SECONDS + "0", id="timeout-0"
    ),
    pytest.param(
        _function(timeout=901), "functions.chat.timeout", WHOLE_SECONDS + "901", id="timeout-901"
    ),
    pytest.param(
        _function(timeout=2.5), "functions.chat.timeout", WHOLE_SECONDS + "2.5", id="timeout-2.5"
    ),
    pytest.param(
        _function(timeout="3"), "functions.chat.timeout", WHOLE_SECONDS + "'3'", id="timeout-text"
    ),
    pytest.param(
        _function(memorySize=64), "functions.chat.memorySize", WHOLE_MB + "64", id="memory-64"
    ),
    pytest.param(
        _function(memorySize=10241),
        "functions.chat.memorySize",
        WHOLE_MB + "10241",
        id="memory-10241",
    ),
    pytest.param(
        _function(environment={"AWS_REGION": "eu-west-1"}),
        "functions.chat.environment",
        RESERVED + "AWS_REGION",
        id="reserved-variable",
    ),
    pytest.param(
        lambda document: document.update(environment={"AWS_LAMBDA_FUNCTION_NAME": "x"}),
        "environment",
        RESERVED + "AWS_LAMBDA_FUNCTION_NAME",
        id="reserved-variable-top-level",
    ),
    pytest.param(
        _function(environment={"1ST": "x"}),
        "functions.chat.environment",
        "variable names are a letter then letters, digits or _ (Lambda), got '1ST'",
        id="variable-name",
    ),
    pytest.param(
        _function(environment={"BIG": "x" * 5000}),
        "functions.chat.environment",
        "Lambda was unable to configure your environment variables because the environment"
        " variables you have provided exceeded the 4KB limit. Measured size: 5010 bytes",
        id="environment-over-4kb",
    ),
    pytest.param(
        _function(loggingConfig={"applicationLogLevel": "DEBUG"}),
        "functions.chat.loggingConfig",
        "log levels apply only with logFormat: JSON (as on Lambda)",
        id="level-without-json",
    ),
    pytest.param(
        _function(loggingConfig={"logFormat": "JSON", "applicationLogLevel": "WARNING"}),
        "functions.chat.loggingConfig.applicationLogLevel",
        "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, did you mean 'WARN'?,"
        " got 'WARNING'",
        id="application-log-level",
    ),
    pytest.param(
        _function(loggingConfig={"logFormat": "json"}),
        "functions.chat.loggingConfig.logFormat",
        "must be one of Text, JSON, did you mean 'JSON'?, got 'json'",
        id="log-format",
    ),
    pytest.param(
        _function(memory=256),
        "functions.chat.memory",
        "unknown key, did you mean 'memorySize'? (allowed keys: handler, timeout, memorySize,"
        " environment, codeUri, loggingConfig)",
        id="unknown-setting",
    ),
    pytest.param(
        lambda document: document["functions"]["chat"].pop("handler"),
        "functions.chat",
        "missing the required key 'handler'",
        id="no-handler",
    ),
    pytest.param(
        lambda document: document["functions"].update({"chat room": {"handler": "chat.x"}}),
        "functions",
        "function names are 1 to 64 of A-Z a-z 0-9 - _ (Lambda), got 'chat room'",
        id="function-name",
    ),
    pytest.param(
        lambda document: document["routes"]["sendmessage"].update(function="chta"),
        "routes.sendmessage.function",
        "names no function of 'functions', did you mean 'chat'? (functions: chat), got 'chta'",
        id="unknown-function",
    ),
    pytest.param(
        _function(codeUri="functions/chat"),
        "functions.chat.codeUri",
        "the code folder '{folder}/functions/chat' does not exist or is not a folder",
        id="missing-code-folder",
    ),
]


def test_the_baseline_of_the_bad_settings_is_good(
    own_modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = _write(own_modules, copy.deepcopy(BASE))
    assert main(["check", str(routes)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("change", "key", "problem"), BAD_SETTINGS)
def test_check_refuses_bad_settings_saying_where_and_why(
    own_modules: Path,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    key: str,
    problem: str,
) -> None:
    document = copy.deepcopy(BASE)
    change(document)
    routes = _write(own_modules, document)
    assert main(["check", str(routes)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    folder = str(own_modules.resolve())
    assert err == f"apigw-ws: error: {routes}: {key}: {problem.format(folder=folder)}\n"


def _write(folder: Path, document: dict[str, Any]) -> Path:
    module = folder / "chat.py"
    module.write_text("def lambda_handler(event, context):\n    return {}\n", encoding="utf-8")
    routes = folder / "routes.yaml"
    routes.write_text(yaml.safe_dump(document), encoding="utf-8")
    return routes
