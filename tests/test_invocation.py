"""The Lambda context and environment handlers run with, through the real server.

Spec §9 item 10 (what an in-process handler needs from Lambda) and §4.2 (boto3
needs a region and credentials). Handlers are in tests/handlers/ctx_probe.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import uuid
from types import ModuleType
from typing import Any

import pytest

from emulator.tools.testing import Client
from tests.conftest import StartApi

SYNC_ASYNC = [
    pytest.param("ctx_probe.report", id="sync"),
    pytest.param("ctx_probe.async_report", id="async"),
]

FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The Lambda runtime's stream names: date, version, 32 hex digits.
LOG_STREAM = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")
LAMBDA_NAMES = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
]


def ctx_probe() -> ModuleType:
    """The handler module as the emulator imported it (top-level, from tests/handlers)."""
    return sys.modules["ctx_probe"]


def route(handler: str, timeout: float = 1.0, **more: Any) -> dict[str, Any]:
    return {"handler": handler, "routeResponse": True, "timeout": timeout, **more}


async def ask(client: Client, action: str, **body: Any) -> dict[str, Any]:
    await client.send_json({"action": action, **body})
    reply = await client.receive_text()
    try:
        return json.loads(reply)
    except ValueError:
        raise AssertionError(f"{action!r} answered {reply!r}") from None


# The context object (spec §9 item 10)


@pytest.mark.parametrize("handler", SYNC_ASYNC)
async def test_context_attributes(start_api: StartApi, handler: str) -> None:
    api = await start_api({"probe": route(handler, timeout=0.5)})
    client = await api.connect()
    first = await ask(client, "probe", names=LAMBDA_NAMES)
    second = await ask(client, "probe", names=LAMBDA_NAMES)

    name = first["function_name"]
    assert FUNCTION_NAME.fullmatch(name)
    assert first["function_version"] == "$LATEST"
    assert first["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    # The Python runtime reads it from the environment: a string.
    assert first["memory_limit_in_mb"] == "128"
    assert first["log_group_name"] == f"/aws/lambda/{name}"
    assert LOG_STREAM.fullmatch(first["log_stream_name"])
    # The function's own timeout (Lambda's default 3 s), not how long API Gateway waits.
    assert 500 < first["remaining"] <= 3000
    # The Lambda invocation id is not API Gateway's requestId, but new per invocation.
    assert isinstance(first["aws_request_id"], str)
    assert first["aws_request_id"]
    assert first["aws_request_id"] != second["aws_request_id"]
    # The function's identity is stable across its invocations.
    for key in ("function_name", "invoked_function_arn", "log_group_name", "log_stream_name"):
        assert first[key] == second[key]
    # The environment agrees with the context, as the runtime's does.
    env = first["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == first["log_group_name"]
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == first["log_stream_name"]


async def test_each_handler_is_its_own_function(start_api: StartApi) -> None:
    api = await start_api(
        {"one": route("ctx_probe.report"), "two": route("ctx_probe.async_report")}
    )
    client = await api.connect()
    one, two = await ask(client, "one"), await ask(client, "two")
    assert one["function_name"] != two["function_name"]
    assert one["invoked_function_arn"] != two["invoked_function_arn"]
    assert one["log_group_name"] != two["log_group_name"]


async def test_connect_and_disconnect_handlers_get_a_context(start_api: StartApi) -> None:
    api = await start_api(
        {
            "$connect": {"handler": "ctx_probe.report", "timeout": 0.5},
            "$disconnect": {"handler": "ctx_probe.async_report", "timeout": 0.5},
            "$default": "probe.ok",
        }
    )
    client = await api.connect()
    await client.close()
    await api.record.wait_for_invocations("$disconnect", 1)
    reports = [json.loads(i.result["body"]) for i in api.record.invocations]
    assert [i.outcome for i in api.record.invocations] == ["ok", "ok"]
    assert all(500 < r["remaining"] <= 3000 for r in reports)
    assert reports[0]["aws_request_id"] != reports[1]["aws_request_id"]
    assert all(r["memory_limit_in_mb"] == "128" for r in reports)


REMAINING_CASES = [
    # A route's `timeout` is API Gateway's wait: the function's clock is Lambda's 3 s.
    pytest.param({"timeout": 0.2}, {}, 200, 3000, id="route-timeout-is-not-the-functions"),
    pytest.param({}, {"timeout": 7}, 3000, 7000, id="declared-function-timeout"),
]


@pytest.mark.parametrize("handler", SYNC_ASYNC)
@pytest.mark.parametrize(("route", "function", "low", "high"), REMAINING_CASES)
async def test_remaining_time_counts_down_the_functions_timeout(
    start_api: StartApi,
    handler: str,
    route: dict[str, float],
    function: dict[str, float],
    low: int,
    high: int,
) -> None:
    if function:
        functions = {"fn": {"handler": handler, **function}}
        routes = {"probe": {"function": "fn", "routeResponse": True, **route}}
        api = await start_api(routes, functions=functions)
    else:
        api = await start_api({"probe": {"handler": handler, "routeResponse": True, **route}})
    client = await api.connect()
    remaining = (await ask(client, "probe"))["remaining"]
    assert low < remaining <= high


# The environment (spec §4.2 last bullet, §9 item 10)

CONFIGURED = ["CTX_SHARED", "CTX_OVERRIDE", "CTX_OWN"]


@pytest.mark.parametrize(
    ("handler", "other"),
    [
        pytest.param("ctx_probe.report", "ctx_probe.async_report", id="sync"),
        pytest.param("ctx_probe.async_report", "ctx_probe.report", id="async"),
    ],
)
async def test_top_level_and_route_environment(
    start_api: StartApi, handler: str, other: str
) -> None:
    api = await start_api(
        {
            "own": route(
                handler, environment={"CTX_OVERRIDE": "route", "CTX_OWN": "mine", "CTX_NUM": 7}
            ),
            "plain": route(other),
        },
        environment={"CTX_SHARED": "top", "CTX_OVERRIDE": "top"},
    )
    client = await api.connect()
    own = (await ask(client, "own", names=[*CONFIGURED, "CTX_NUM"]))["env"]
    plain = (await ask(client, "plain", names=CONFIGURED))["env"]
    # The route's own variables win over the top-level ones.
    assert own == {
        "CTX_SHARED": "top",
        "CTX_OVERRIDE": "route",
        "CTX_OWN": "mine",
        "CTX_NUM": "7",
    }
    assert plain == {"CTX_SHARED": "top", "CTX_OVERRIDE": "top", "CTX_OWN": None}
    # None of it leaks into the process outside the handlers.
    assert not {*CONFIGURED, "CTX_NUM"} & set(os.environ)


@pytest.mark.parametrize("handler", SYNC_ASYNC)
async def test_lambda_variables(
    start_api: StartApi, handler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shell's region is the API's unless the API names one (issue: the API's identity).
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    api = await start_api({"probe": route(handler)})
    client = await api.connect()
    report = await ask(client, "probe", names=LAMBDA_NAMES)
    env = report["env"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-3"
    pinned = await start_api({"probe": route(handler)}, region="eu-north-1")
    other = await pinned.connect()
    assert (await ask(other, "probe", names=LAMBDA_NAMES))["env"]["AWS_REGION"] == "eu-north-1"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert isinstance(env[name], str), name
        assert env[name], name
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == report["function_name"]
    # The test process keeps its own.
    assert os.environ["AWS_REGION"] == "eu-west-3"
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


async def test_boto3_finds_region_and_credentials(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AWS: boto3 raises NoRegionError without a region, even with endpoint_url (spec §4.2).
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    api = await start_api({"probe": route("ctx_probe.boto3_defaults")})
    client = await api.connect()
    found = await ask(client, "probe")
    assert found["region"] == found["client_region"] == "us-east-1"
    env = found["env"]
    assert found["access_key"] == env["AWS_ACCESS_KEY_ID"]
    assert found["secret_key"] == env["AWS_SECRET_ACCESS_KEY"]
    assert found["token"] == env["AWS_SESSION_TOKEN"]


BLOCKING = [
    pytest.param("ctx_probe.blocking_env", "ctx_probe.report", id="sync-sync"),
    pytest.param("ctx_probe.async_blocking_env", "ctx_probe.async_report", id="async-async"),
    pytest.param("ctx_probe.blocking_env", "ctx_probe.async_report", id="sync-async"),
    pytest.param("ctx_probe.async_blocking_env", "ctx_probe.report", id="async-sync"),
]
ISOLATED = ["CTX_ONLY_A", "CTX_ONLY_B", "CTX_BOTH"]


async def wait_started(started: threading.Event) -> None:
    assert await asyncio.to_thread(started.wait, 5), "route a's handler never started"


@pytest.mark.parametrize(("blocking", "reader"), BLOCKING)
async def test_concurrent_routes_see_only_their_own_environment(
    start_api: StartApi, blocking: str, reader: str
) -> None:
    api = await start_api(
        {
            "a": route(blocking, timeout=5, environment={"CTX_ONLY_A": "a", "CTX_BOTH": "from-a"}),
            "b": route(reader, environment={"CTX_ONLY_B": "b", "CTX_BOTH": "from-b"}),
        }
    )
    token = uuid.uuid4().hex
    started, release = ctx_probe().gate(token)
    client_a, client_b = await api.connect(), await api.connect()
    try:
        await client_a.send_json({"action": "a", "gate": token, "names": ISOLATED})
        await wait_started(started)
        # While a's handler is blocked inside its invocation, b runs.
        b_env = (await ask(client_b, "b", names=ISOLATED))["env"]
        assert b_env == {"CTX_ONLY_A": None, "CTX_ONLY_B": "b", "CTX_BOTH": "from-b"}
        assert not set(ISOLATED) & set(os.environ)
    finally:
        release.set()
    a_report = json.loads(await client_a.receive_text())
    a_env = {"CTX_ONLY_A": "a", "CTX_ONLY_B": None, "CTX_BOTH": "from-a"}
    assert a_report == {"before": a_env, "after": a_env, "released": True}


@pytest.mark.parametrize("reader", SYNC_ASYNC)
async def test_a_variable_a_handler_sets_stays_in_its_route(
    start_api: StartApi, reader: str
) -> None:
    api = await start_api({"setter": route("ctx_probe.set_then_report"), "reader": route(reader)})
    client = await api.connect()
    assert await ask(client, "setter", value="one") == {"before": None}
    reader_env = (await ask(client, "reader", names=["CTX_PROBE_SET"]))["env"]
    assert reader_env == {"CTX_PROBE_SET": None}
    assert "CTX_PROBE_SET" not in os.environ
    # Like a warm Lambda container, the route keeps what it set.
    assert await ask(client, "setter", value="two") == {"before": "one"}


async def test_a_variable_set_in_one_emulator_is_not_seen_by_another(
    start_api: StartApi,
) -> None:
    routes = {"setter": route("ctx_probe.set_then_report")}
    first, second = await start_api(routes), await start_api(routes)
    assert await ask(await first.connect(), "setter", value="first") == {"before": None}
    assert await ask(await second.connect(), "setter", value="second") == {"before": None}


async def test_routes_sharing_a_handler_keep_their_own_environment(
    start_api: StartApi,
) -> None:
    api = await start_api(
        {
            "x": route("ctx_probe.report", environment={"CTX_ROUTE": "x"}),
            "y": route("ctx_probe.report", environment={"CTX_ROUTE": "y"}),
        }
    )
    client = await api.connect()
    seen = [
        (await ask(client, action, names=["CTX_ROUTE"]))["env"]["CTX_ROUTE"]
        for action in ("x", "y")
    ]
    assert seen == ["x", "y"]


async def test_threads_a_handler_starts_see_its_environment(start_api: StartApi) -> None:
    # On Lambda the environment is the process's: worker threads see it too.
    api = await start_api(
        {"probe": route("ctx_probe.env_in_thread", environment={"CTX_OWN": "mine"})}
    )
    client = await api.connect()
    seen = await ask(client, "probe", names=["CTX_OWN", "AWS_REGION"])
    assert seen == {"CTX_OWN": "mine", "AWS_REGION": "us-east-1"}
