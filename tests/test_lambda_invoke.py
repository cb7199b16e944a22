"""Lambda-to-Lambda: ``boto3.client("lambda").invoke`` of a function of the same API.

Handlers written the way AWS samples write them (a client at module level,
function names from the environment, ``response["Payload"].read()``) invoke
other functions of their API in-process, under those functions' own
environments; nothing leaves the machine. The same Invoke API answers on the
emulator's port, for boto3 in another process, as ``sam local start-lambda``
does.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools import logs
from emulator.tools.testing import Client, Harness
from tests.conftest import HANDLERS
from tests.signing import raw_request

SAMPLE = Path(__file__).parent / "fixtures" / "apps" / "lambda_to_lambda" / "template.yaml"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ARN = "arn:aws:lambda:us-east-1:000000000000:function"

API: dict[str, Any] = {
    "region": "us-east-1",
    "functions": {
        "caller": {
            "handler": "invoke_probe.caller",
            "timeout": 10,
            "environment": {"PROBE_ROLE": "caller"},
        },
        "async-caller": {"handler": "invoke_probe.async_caller", "timeout": 10},
        "double": {"handler": "invoke_probe.double", "environment": {"PROBE_ROLE": "doubler"}},
        "price": {"handler": "invoke_probe.price"},
        "not-serializable": {"handler": "invoke_probe.not_serializable"},
        "sleeps": {"handler": "invoke_probe.sleeps", "timeout": 1},
        "raises": {"handler": "invoke_probe.raises"},
        "talks": {"handler": "invoke_probe.talks"},
        "posts-elsewhere": {"handler": "invoke_probe.posts_elsewhere"},
    },
    "routes": {
        "elsewhere": {"function": "posts-elsewhere", "routeResponse": True},
        "call": {"function": "caller", "routeResponse": True},
        "acall": {"function": "async-caller", "routeResponse": True},
    },
}


@pytest.fixture
async def api(no_network: list[object]) -> AsyncIterator[Harness]:
    async with Harness.from_config(API, base_dir=HANDLERS) as harness:
        yield harness


async def invoke(client: Client, route: str = "call", **kwargs: Any) -> dict[str, Any]:
    """What ``lambda_client.invoke(**kwargs)`` gave the handler behind ``route``."""
    await client.send_json({"action": route, "invoke": kwargs})
    answer: dict[str, Any] = await client.receive_json()
    return answer


# The sample app: a greeting after $connect, a formatter, a crasher, a missing function


async def test_the_ack_connect_sample_runs_unchanged(no_network: list[object]) -> None:
    imported = load_template(SAMPLE)
    emulator = Emulator(imported.config, host="127.0.0.1", port=0)
    async with Harness(emulator) as harness:
        client = await harness.connect()
        # $connect invoked GreeterFunction with Event; the greeter ran once $connect
        # had returned: GetConnection found the connection open (else: no welcome).
        assert await client.receive_text() == "welcome"
        [greeting] = await harness.record.wait_for_lambda("GreeterFunction")
        await client.send_json({"action": "sendmessage", "data": "hi"})
        assert await client.receive_text() == "[formatted] hi"
        await client.send_json({"action": "boom"})
        assert await client.receive_json() == {
            "statusCode": 200,
            "functionError": "Unhandled",
            "errorType": "ValueError",
            "errorMessage": "the crasher always fails",
        }
        await client.send_json({"action": "missing"})
        assert await client.receive_json() == {
            "error": "ResourceNotFoundException",
            "message": f"Function not found: {ARN}:lambda-to-lambda-does-not-exist",
        }
        calls = [
            (r.function, r.invocation_type, r.caller, r.outcome)
            for r in harness.record.lambda_invocations
        ]
        assert calls == [
            ("GreeterFunction", "Event", "ConnectFunction", "ok"),
            ("FormatterFunction", "RequestResponse", "SendMessageFunction", "ok"),
            ("lambda-to-lambda-crasher", "RequestResponse", "BoomFunction", "error"),
        ]
        assert greeting.event == {
            "connectionId": client.connection_id,
            "domainName": emulator.domain_name,
            "stage": "prod",
        }


# RequestResponse


@pytest.mark.parametrize(
    ("name", "qualifier", "arn"),
    [
        ("double", None, f"{ARN}:double"),
        ("double:$LATEST", None, f"{ARN}:double:$LATEST"),
        ("double", "$LATEST", f"{ARN}:double:$LATEST"),
        (f"{ARN}:double", None, f"{ARN}:double"),
        (f"{ARN}:double:$LATEST", None, f"{ARN}:double:$LATEST"),
        ("000000000000:function:double", None, f"{ARN}:double"),
    ],
)
async def test_request_response_by_name_or_arn_runs_the_function_in_its_environment(
    api: Harness, name: str, qualifier: str | None, arn: str
) -> None:
    client = await api.connect()
    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": {"n": 21}}
    if qualifier is not None:
        kwargs["Qualifier"] = qualifier
    answer = await invoke(client, **kwargs)
    assert (answer["status"], answer["functionError"], answer["executedVersion"]) == (
        200,
        None,
        "$LATEST",
    )
    assert json.loads(answer["payload"]) == {
        "doubled": 42,
        "function": "double",
        "arn": arn,
        "role": "doubler",  # its own environment, not the caller's
        "custom": None,
    }


async def test_fifty_callers_at_once_each_get_their_own_answer(api: Harness) -> None:
    """Sync handlers that invoke another function at the same moment: each caller
    holds its worker thread while it waits, so the functions it invokes run on
    others; none waits for a worker a caller holds."""
    clients = [await api.connect() for _ in range(50)]
    await asyncio.gather(
        *(
            client.send_json(
                {"action": "call", "invoke": {"FunctionName": "double", "Payload": {"n": n}}}
            )
            for n, client in enumerate(clients)
        )
    )
    answers = await asyncio.gather(*(client.receive_json() for client in clients))
    assert [json.loads(a["payload"])["doubled"] for a in answers] == [2 * n for n in range(50)]
    invoked = [r for r in api.record.lambda_invocations if r.function == "double"]
    assert len(invoked) == 50


async def test_a_client_context_reaches_the_function(api: Harness) -> None:
    client = await api.connect()
    context = {"custom": {"tenant": "acme"}, "env": {}, "client": {}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    answer = await invoke(client, FunctionName="double", Payload={"n": 1}, ClientContext=encoded)
    assert json.loads(answer["payload"])["custom"] == {"tenant": "acme"}


async def test_an_async_handler_can_invoke_synchronously(api: Harness) -> None:
    client = await api.connect()
    answer = await invoke(client, "acall", FunctionName="double", Payload={"n": 2})
    assert answer["status"] == 200
    assert json.loads(answer["payload"])["doubled"] == 4
    [record] = await api.record.wait_for_lambda("double")
    assert record.caller == "async-caller"


async def test_results_are_marshalled_as_the_python_runtime_does(api: Harness) -> None:
    client = await api.connect()
    answer = await invoke(client, FunctionName="price")
    assert answer["payload"] == '{"price": 1.10}'  # simplejson: a Decimal is a number
    answer = await invoke(client, FunctionName="not-serializable")
    assert answer["functionError"] == "Unhandled"
    failure = json.loads(answer["payload"])
    assert failure["errorType"] == "Runtime.MarshalError"
    assert failure["errorMessage"].startswith("Unable to marshal response: ")


async def test_a_function_that_raises_gives_lambdas_error_payload(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    client = await api.connect()
    answer = await invoke(client, FunctionName="raises")
    assert (answer["status"], answer["functionError"]) == (200, "Unhandled")
    failure = json.loads(answer["payload"])
    assert list(failure) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (failure["errorType"], failure["errorMessage"]) == ("KeyError", "'missing'")
    assert re.fullmatch(UUID, failure["requestId"])
    assert 'raise KeyError("missing")' in failure["stackTrace"][-1]
    # The function's log has the runtime's record of it, under its request id.
    [written] = [
        r for r in caplog.records if r.name == "emulator.handler" and "KeyError" in r.getMessage()
    ]
    assert written.getMessage().startswith("[ERROR] KeyError: 'missing'\nTraceback")
    assert written.apigw["requestId"] == failure["requestId"]  # type: ignore[attr-defined]
    assert written.apigw["function"] == "raises"  # type: ignore[attr-defined]


async def test_a_function_past_its_timeout_gives_sandbox_timedout(api: Harness) -> None:
    client = await api.connect()
    answer = await invoke(client, FunctionName="sleeps", Payload={"seconds": 3})
    assert (answer["status"], answer["functionError"]) == (200, "Unhandled")
    failure = json.loads(answer["payload"])
    assert failure["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"RequestId: {UUID} Error: Task timed out after 1\.00 seconds", failure["errorMessage"]
    )


async def test_log_type_tail_returns_the_invocations_log(api: Harness) -> None:
    client = await api.connect()
    # The log as `apigw-ws serve` sets it up, handlers' print output captured (here,
    # in the test's body: pytest puts its own sys.stdout back between phases).
    logs.configure("text", io.StringIO())
    try:
        answer = await invoke(client, FunctionName="talks", LogType="Tail")
    finally:
        logs.unconfigure()
    lines = answer["log"].splitlines()
    assert lines[0] == "line one"
    assert re.fullmatch(rf"\[WARNING\]\t\S+Z\t{UUID}\tline two", lines[1])


# Event and DryRun


async def test_event_is_accepted_at_once_and_runs_in_the_background(api: Harness) -> None:
    client = await api.connect()
    answer = await invoke(client, FunctionName="double", InvocationType="Event", Payload={"n": 5})
    assert (answer["status"], answer["payload"]) == (202, "")
    [record] = await api.record.wait_for_lambda("double")
    assert (record.invocation_type, record.caller, record.outcome) == ("Event", "caller", "ok")
    assert record.result["doubled"] == 10


async def test_dry_run_answers_204_and_runs_nothing(api: Harness) -> None:
    client = await api.connect()
    answer = await invoke(client, FunctionName="double", InvocationType="DryRun")
    assert (answer["status"], answer["payload"]) == (204, "")
    answer = await invoke(client, FunctionName="nothere", InvocationType="DryRun")
    assert answer["error"] == "ResourceNotFoundException"
    assert api.record.lambda_invocations == []


# Functions this API does not have


@pytest.mark.parametrize(
    ("name", "qualifier", "arn"),
    [
        ("nothere", None, f"{ARN}:nothere"),
        ("double", "7", f"{ARN}:double:7"),
        ("double:live", None, f"{ARN}:double:live"),
    ],
)
async def test_an_undeclared_function_or_version_is_not_found(
    api: Harness, caplog: pytest.LogCaptureFixture, name: str, qualifier: str | None, arn: str
) -> None:
    client = await api.connect()
    kwargs: dict[str, Any] = {"FunctionName": name}
    if qualifier is not None:
        kwargs["Qualifier"] = qualifier
    with caplog.at_level(logging.INFO, "emulator.events"):
        answer = await invoke(client, **kwargs)
    assert answer == {"error": "ResourceNotFoundException", "message": f"Function not found: {arn}"}
    # The log says which functions there are.
    [logged] = [
        r.getMessage() for r in caplog.records if "ResourceNotFoundException" in r.getMessage()
    ]
    assert "this API's functions: async-caller, caller, double," in logged


# The Invoke API on the emulator's port, for another process


OUT_OF_PROCESS = """
import base64, json, sys
import boto3

client = boto3.client(
    "lambda",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
out = {}
r = client.invoke(FunctionName="double", Payload=json.dumps({"n": 4}))
out["sync"] = [r["StatusCode"], json.loads(r["Payload"].read())]
r = client.invoke(FunctionName="raises", LogType="Tail")
out["error"] = [r["FunctionError"], json.loads(r["Payload"].read())["errorType"]]
out["tail"] = base64.b64decode(r["LogResult"]).decode()
r = client.invoke(FunctionName="double", InvocationType="Event", Payload=json.dumps({"n": 6}))
out["event"] = r["StatusCode"]
r = client.invoke(FunctionName="double", InvocationType="DryRun")
out["dry"] = r["StatusCode"]
try:
    client.invoke(FunctionName="nothere")
except client.exceptions.ResourceNotFoundException as exc:
    out["missing"] = exc.response["Error"]["Message"]
print(json.dumps(out))
"""


async def test_the_invoke_api_is_served_on_the_emulators_port(api: Harness) -> None:
    endpoint = f"http://127.0.0.1:{api.emulator.port}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OUT_OF_PROCESS,
        endpoint,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    out = json.loads(stdout)
    assert out["sync"][0] == 200
    assert out["sync"][1]["doubled"] == 8
    assert out["sync"][1]["role"] == "doubler"
    assert out["error"] == ["Unhandled", "KeyError"]
    assert out["tail"].startswith("[ERROR] KeyError: 'missing'\nTraceback")
    assert out["event"] == 202
    assert out["dry"] == 204
    assert out["missing"] == f"Function not found: {ARN}:nothere"
    records = await api.record.wait_for_lambda("double", 2)
    assert [(r.invocation_type, r.caller) for r in records] == [
        ("RequestResponse", "the Invoke endpoint"),
        ("Event", "the Invoke endpoint"),
    ]


# An execute-api host that is not this API's


async def test_a_post_to_another_apis_host_is_refused_in_process(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    client = await api.connect()
    for _ in range(2):
        await client.send_json({"action": "elsewhere"})
        answer = await client.receive_json()
        host = "abc123defg.execute-api.us-east-1.amazonaws.com"
        assert answer == {
            "status": 403,
            "Code": "ForbiddenException",
            "Message": f"apigw-ws: {host!r} is not an API of this emulator, which serves API id"
            f" {api.emulator.api_id!r}: the call was not sent to AWS",
        }
    # Said once in the log, with what to do about it; never sent (no_network).
    warned = [r.getMessage() for r in caplog.records if host in r.getMessage()]
    assert len(warned) == 1
    assert "build the endpoint from the event's domainName and stage" in warned[0]


# The README's example, as it is printed


def _readme_blocks(language: str, after: str) -> list[str]:
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index(after) :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


async def test_the_readmes_lambda_to_lambda_example_greets(tmp_path: Path) -> None:
    connect_py, greeter_py = _readme_blocks("python", "### One function calls another")
    [routes_yaml] = _readme_blocks("yaml", "### One function calls another")
    (tmp_path / "connect.py").write_text(connect_py, encoding="utf-8")
    (tmp_path / "greeter.py").write_text(greeter_py, encoding="utf-8")
    (tmp_path / "routes.yaml").write_text(routes_yaml, encoding="utf-8")
    async with Harness.from_config(tmp_path / "routes.yaml") as harness:
        client = await harness.connect()
        assert await client.receive_text() == "welcome"
        [greeting] = await harness.record.wait_for_lambda("greeter")
        assert (greeting.invocation_type, greeting.caller, greeting.outcome) == (
            "Event",
            "connect",
            "ok",
        )


async def test_a_client_that_ends_its_side_after_the_request_still_gets_the_answer(
    api: Harness,
) -> None:
    """The answer comes once the function is done: a half-close meanwhile loses nothing."""
    port = api.emulator.port
    target = "/2015-03-31/functions/double/invocations"
    body = b'{"n": 3}'
    request = raw_request("POST", port, target, body, service="lambda")
    request = request.replace(b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode(), 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(payload)["doubled"] == 6


@pytest.mark.parametrize(
    ("invocation_type", "size", "message"),
    [
        (
            "RequestResponse",
            6 * 1024 * 1024 + 1,
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        ),
        (
            "Event",
            1024 * 1024 + 1,
            "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)",
        ),
    ],
)
async def test_a_payload_over_lambdas_limit_is_refused_with_413(
    api: Harness, invocation_type: str, size: int, message: str
) -> None:
    client = await api.connect()
    answer = await invoke(
        client, FunctionName="double", InvocationType=invocation_type, PayloadSize=size
    )
    assert answer["error"] == "RequestEntityTooLargeException"  # the wire code, as on AWS
    assert message in answer["message"]
    assert api.record.lambda_invocations == []
