"""One copy per function: the logging-env sample app, through the real server.

tests/fixtures/apps/logging_env (its README has the scenario): ConnectFunction
and MessageFunction are one module, ``shared/app.py``, with different ``ROLE``
variables; it reads them at import, computes a value from them, sets the root
logger to INFO and counts its invocations in a global. QuietFunction, from the
same folder, never sets a level. As separate Lambda execution environments
would, each function gets its own copy of the module, its own root logger, and
its own environment at import and during every invocation, concurrent ones
included.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools.testing import Client, Harness

SAMPLE = Path(__file__).parent / "fixtures" / "apps" / "logging_env" / "template.yaml"
LAMBDA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def app() -> AsyncIterator[Harness]:
    imported = load_template(SAMPLE)
    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as harness:
        yield harness


def function_log(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    """(function, Lambda request id, line) of every line the functions wrote,
    their inits (the fixture's setup) included."""
    return [
        (r.apigw["function"], r.apigw["requestId"], r.getMessage())  # type: ignore[attr-defined]
        for r in [*caplog.get_records("setup"), *caplog.records]
        if r.name == "emulator.handler"
    ]


def lambda_request_ids(api: Harness, route_key: str) -> list[str]:
    """The Lambda request ids of ``route_key``'s invocations, in order."""
    ids = []
    for record in api.record.invocations:
        if record.route_key == route_key:
            assert record.invocation.scope is not None
            ids.append(record.invocation.scope.request_id)
    return ids


async def test_each_function_has_its_own_module_environment_and_root_logger(
    app: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # 403 here would mean ConnectFunction's init did not get ROLE=connect.
    client = await app.connect()
    await client.send_text("hello")
    assert await client.receive_json() == {
        "identity": "logging-env/message",
        "role_now": "message",
        "function": "MessageFunction",
        "invocations": 1,
        "body": "hello",
    }
    # The same execution environment again: its globals are kept.
    await client.send_text("again")
    answer = await client.receive_json()
    assert (answer["identity"], answer["invocations"], answer["body"]) == (
        "logging-env/message",
        2,
        "again",
    )
    # Another function of the same folder: not touched by the others' setLevel.
    await client.send_json({"action": "quiet"})
    assert await client.receive_json() == {
        "identity": "logging-env/quiet",
        "root_level": "WARNING",
        "role_env": None,
    }
    # Two functions, one module file: two modules, each with its own globals.
    connect = app.emulator.handlers["$connect"].function
    message = app.emulator.handlers["$default"].function
    assert connect.__globals__ is not message.__globals__
    assert (connect.__globals__["IDENTITY"], message.__globals__["IDENTITY"]) == (
        "logging-env/connect",
        "logging-env/message",
    )

    # The posts arrive before the invocations that made them are over.
    await app.record.wait_for_invocations("$default", 2)
    await app.record.wait_for_invocations("quiet")
    [connect_id] = lambda_request_ids(app, "$connect")
    # By the message each one handled: the record has them as they ended, and the
    # first, which posted its answer, may end after the second has (the client
    # answers that post at once).
    by_body = {
        record.event["body"]: record.invocation.scope.request_id
        for record in app.record.invocations
        if record.route_key == "$default" and record.invocation.scope is not None
    }
    message_ids = [by_body["hello"], by_body["again"]]
    [quiet_id] = lambda_request_ids(app, "quiet")
    cid = re.escape(client.connection_id)
    expected = [
        ("ConnectFunction", "", r"init logging-env/connect"),
        ("MessageFunction", "", r"init logging-env/message"),
        (
            "ConnectFunction",
            connect_id,
            rf"logging-env/connect handled \$connect for {cid} \(invocation 1\)",
        ),
        (
            "MessageFunction",
            message_ids[0],
            rf"logging-env/message handled \$default for {cid} \(invocation 1\)",
        ),
        (
            "MessageFunction",
            message_ids[1],
            rf"logging-env/message handled \$default for {cid} \(invocation 2\)",
        ),
    ]
    info = [
        line for line in function_log(caplog) if "[INFO]" in line[2] and "logging-env/" in line[2]
    ]
    assert len(info) == len(expected), info
    for (function, request_id, line), (want_function, want_id, message_pattern) in zip(
        info, expected, strict=True
    ):
        # Lambda's format; the request id column is empty during init.
        assert (function, request_id) == (want_function, want_id)
        assert re.fullmatch(rf"\[INFO\]\t{LAMBDA_TIME}\t{want_id}\t{message_pattern}", line), line
    warnings = [entry for entry in function_log(caplog) if "quiet:" in entry[2]]
    assert len(warnings) == 1, warnings
    function, request_id, line = warnings[0]
    assert (function, request_id) == ("QuietFunction", quiet_id)
    assert re.fullmatch(
        rf"\[WARNING\]\t{LAMBDA_TIME}\t{quiet_id}\tquiet: this WARNING record is written", line
    )
    # Below the level each function's root logger has: never written.
    written = "\n".join(line for _, _, line in function_log(caplog))
    assert "debug records stay below the INFO level" not in written
    assert "quiet: this INFO record is dropped" not in written


async def _burst(client: Client, message: Any, count: int) -> list[dict[str, Any]]:
    for _ in range(count):
        if isinstance(message, str):
            await client.send_text(message)
        else:
            await client.send_json(message)
    return [await client.receive_json() for _ in range(count)]


async def test_concurrent_invocations_of_two_functions_keep_their_environments(
    app: Harness,
) -> None:
    talker, quiet = await app.connect(), await app.connect()
    count = 25
    talked, quieted = await asyncio.gather(
        _burst(talker, "hello", count), _burst(quiet, {"action": "quiet"}, count)
    )
    assert {(a["identity"], a["role_now"], a["function"]) for a in talked} == {
        ("logging-env/message", "message", "MessageFunction")
    }
    # (Not the counts: concurrent invocations of one function share its module
    # here, where Lambda would give each its own execution environment.)
    assert {(a["identity"], a["root_level"], a["role_env"]) for a in quieted} == {
        ("logging-env/quiet", "WARNING", None)
    }
    await app.record.wait_for_invocations("$default", count)
    await app.record.wait_for_invocations("quiet", count)
    outcomes = [i.outcome for i in app.record.invocations if i.route_key != "$connect"]
    assert outcomes == ["ok"] * (2 * count)


async def test_a_second_start_inits_every_function_anew(caplog: pytest.LogCaptureFixture) -> None:
    # A new execution environment (a restart, a new deployment): module state
    # starts over, and the init runs again under each function's environment.
    for _ in range(2):
        imported = load_template(SAMPLE)
        async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as api:
            client = await api.connect()
            await client.send_text("hello")
            assert (await client.receive_json())["invocations"] == 1
    inits = [
        line for _, _, line in function_log(caplog) if line.endswith("\tinit logging-env/message")
    ]
    assert len(inits) == 2
