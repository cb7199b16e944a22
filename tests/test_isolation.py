"""What an API can reach: its own connections, and its own declared routes.

Two emulators in one process (as a test suite runs them) must not see each
other's connections through any door: the HTTP endpoint, boto3, or a
handler's context. A path that is not ``/{stage}/@connections/{id}`` must not
reach a connection at all. And no message, whatever the route selection
expression makes of it, can run a handler that is not a declared route: not
the authorizer, not a module path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.gateway.selection import RouteSelector
from emulator.model.selection import compile_expression
from emulator.tools.cli import main
from emulator.tools.testing import Client, Harness
from tests.conftest import StartApi
from tests.signing import signed

STAGE = "dev"
ROUTES: dict[str, Any] = {
    "$connect": "probe.ok",
    "$disconnect": "probe.ok",
    "$default": {"handler": "probe.echo", "routeResponse": True},
    "cross": {"handler": "isolation_probe.context_ops_on_other", "routeResponse": True},
    "cross_boto3": {"handler": "mgmt_probe.post_to_other", "routeResponse": True},
}
LIFECYCLE = {"$connect", "$disconnect"}


def route_of(action: str) -> str:
    return json.dumps({"action": action})


async def two_apis(start_api: StartApi) -> tuple[Harness, Harness]:
    """Two APIs in this process, with the same stage name."""
    return await start_api(ROUTES, stage=STAGE), await start_api(ROUTES, stage=STAGE)


async def untouched(api: Harness, client: Client) -> None:
    """Nothing reached ``client``, it is still open, and it still round-trips."""
    assert api.record.sent_to(client.connection_id) == []
    assert client.connection_id in api.emulator.connection_ids()
    await client.send_text("still mine")
    assert await client.receive_text() == "still mine"


async def raw_request(
    port: int, method: str, target: str, body: bytes = b""
) -> tuple[int, dict[str, str]]:
    """One signed HTTP/1.1 request on its own connection: the status and headers of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    url = target if "://" in target else f"http://127.0.0.1:{port}{target}"
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(method, url, body).items())
    try:
        writer.write(
            f"{method} {target} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


# -- another emulator's connections: 410, through every door -------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_http_endpoint_answers_gone_for_another_apis_connection(
    start_api: StartApi, method: str
) -> None:
    mine, other = await two_apis(start_api)
    theirs = await other.connect()
    status, headers = await raw_request(
        mine.emulator.port, method, f"/{STAGE}/@connections/{theirs.connection_id}", b"x"
    )
    # AWS: an id this API does not know is 410 GoneException (spec §4.1, §4.5).
    assert (status, headers.get("x-amzn-errortype")) == (410, "GoneException")
    await untouched(other, theirs)


@pytest.mark.parametrize("endpoint", ["management_url", "callback_url"])
async def test_boto3_answers_gone_for_another_apis_connection(
    start_api: StartApi, endpoint: str
) -> None:
    mine, other = await two_apis(start_api)
    theirs = await other.connect()
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=getattr(mine.emulator, endpoint),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    for call, params in [
        (client.post_to_connection, {"Data": b"x"}),
        (client.get_connection, {}),
        (client.delete_connection, {}),
    ]:
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(call, ConnectionId=theirs.connection_id, **params)
    await untouched(other, theirs)


@pytest.mark.parametrize(
    ("action", "reply"),
    [
        pytest.param("cross", json.dumps(["GoneException"] * 3), id="context"),
        pytest.param("cross_boto3", "gone", id="boto3-from-the-event"),
    ],
)
async def test_a_handler_cannot_reach_another_apis_connection(
    start_api: StartApi, action: str, reply: str
) -> None:
    mine, other = await two_apis(start_api)
    theirs = await other.connect()
    client = await mine.connect()
    await client.send_json({"action": action, "to": theirs.connection_id, "data": "hi"})
    assert await client.receive_text() == reply
    await untouched(other, theirs)


# -- paths that are not /{stage}/@connections/{id} reach nothing ---------------------------

OUTSIDE = [
    pytest.param("/dev/@connections/{id}/extra", 403, id="below-the-id"),
    pytest.param("/dev/@connections/{id}/", 403, id="trailing-slash"),
    pytest.param("/dev/@connections/../{id}", 403, id="dot-dot-segment"),
    pytest.param("/dev/x/../@connections/{id}", 403, id="dot-dot-before"),
    pytest.param("//@connections/{id}", 403, id="empty-stage"),
    pytest.param("/prod/@connections/{id}", 403, id="other-stage"),
    pytest.param("/DEV/@connections/{id}", 403, id="stage-case"),
    pytest.param("http://127.0.0.1/dev/@connections/{id}", 403, id="absolute-form"),
    pytest.param("/dev/@connections/{id}%2Fextra", 400, id="encoded-slash-in-id"),
    pytest.param("/dev/@connections/..%2F{id}", 400, id="encoded-dot-dot-in-id"),
    pytest.param("/dev/@connections/{id}%00", 400, id="nul-in-id"),
    pytest.param("/dev/@connections/{swapped}", 410, id="id-in-another-case"),
    # Not the @connections resource at all: the stage's plain HTTP answer.
    pytest.param("/dev/@Connections/{id}", 426, id="resource-case"),
    pytest.param("/dev%2F@connections/{id}", 426, id="encoded-slash-before"),
    pytest.param("/dev/%2540connections/{id}", 426, id="double-encoded-at"),
]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize(("path", "status"), OUTSIDE)
async def test_a_path_outside_connections_reaches_nothing(
    start_api: StartApi, path: str, status: int, method: str
) -> None:
    api = await start_api(ROUTES, stage=STAGE)
    client = await api.connect()
    target = path.format(id=client.connection_id, swapped=client.connection_id.swapcase())
    assert target != f"/{STAGE}/@connections/{client.connection_id}"
    answer, _ = await raw_request(api.emulator.port, method, target, b"x")
    assert answer == status
    await untouched(api, client)


# -- a message selects a declared route, or $default, or nothing --------------------------

SELECTED = {
    "$connect": "probe.ok",
    "$default": {"handler": "probe.route_key", "routeResponse": True},
    # A route key spelled like a module path runs its own handler, not that module.
    "isolation_probe.never": {"handler": "probe.route_key", "routeResponse": True},
}
AUTHORIZER = {"handler": "isolation_probe.allow_all"}


@pytest.mark.parametrize(
    ("expression", "message", "route"),
    [
        pytest.param("$request.body.action", route_of("$authorizer"), "$default", id="authorizer"),
        pytest.param("$request.body.action", route_of("allow_all"), "$default", id="function"),
        pytest.param(
            "$request.body.action",
            route_of("isolation_probe.allow_all"),
            "$default",
            id="authorizer-module-path",
        ),
        pytest.param("$request.body.action", route_of("probe.boom"), "$default", id="module-path"),
        pytest.param(
            "$request.body.action", route_of("handlers.chat.default"), "$default", id="project-path"
        ),
        pytest.param(r"\$authorizer", "{}", "$default", id="static-authorizer"),
        pytest.param(
            "${request.body.module}.${request.body.function}",
            json.dumps({"module": "isolation_probe", "function": "never"}),
            "isolation_probe.never",
            id="template-to-a-declared-key",
        ),
        pytest.param(
            "${request.body.module}.${request.body.function}",
            json.dumps({"module": "probe", "function": "boom"}),
            "$default",
            id="template-to-a-module-path",
        ),
    ],
)
async def test_a_message_runs_only_a_declared_route(
    start_api: StartApi, expression: str, message: str, route: str
) -> None:
    api = await start_api(SELECTED, routeSelectionExpression=expression, authorizer=AUTHORIZER)
    client = await api.connect()
    await client.send_text(message)
    # probe.route_key answers with the route key it ran for.
    assert await client.receive_text() == route
    assert [i.route_key for i in api.record.invocations] == ["$authorizer", "$connect", route]


async def test_without_default_an_undeclared_key_is_forbidden_and_runs_nothing(
    start_api: StartApi,
) -> None:
    routes = {k: v for k, v in SELECTED.items() if k != "$default"}
    api = await start_api(routes, authorizer=AUTHORIZER)
    client = await api.connect()
    for action in ("$authorizer", "$default", "probe.boom", "isolation_probe.allow_all"):
        await client.send_text(route_of(action))
        reply = await client.receive_json()
        # AWS: no matching route and no $default (spec §3.2.2).
        assert reply["message"] == "Forbidden"
    assert [i.route_key for i in api.record.invocations] == ["$authorizer", "$connect"]


SUSPICIOUS = st.sampled_from(
    ["$authorizer", "$connect", "$disconnect", "$default", "probe.boom", "a.b", "", "$"]
)
KEYS = st.sets(SUSPICIOUS | st.text(max_size=6), max_size=6)
VALUES = SUSPICIOUS | st.text(max_size=6) | st.integers() | st.none() | st.booleans()
MESSAGES = st.dictionaries(st.sampled_from(["action", "a", "b"]), VALUES, max_size=3).map(
    json.dumps
) | st.text(max_size=20)
EXPRESSIONS = st.sampled_from(
    [
        "$request.body.action",
        "${request.body.a}${request.body.b}",
        "${request.body.a}.${request.body.b}",
        r"\$${request.body.action}",
        r"\$authorizer",
        r"\$connect",
        "$request.body",
    ]
)


@settings(max_examples=400)
@given(route_keys=KEYS, expression=EXPRESSIONS, message=MESSAGES)
def test_selection_only_ever_picks_a_declared_message_route(
    route_keys: set[str], expression: str, message: str
) -> None:
    selector = RouteSelector(compile_expression(expression), route_keys)
    chosen = selector.select(message).route_key
    # A declared key, never a lifecycle one, else nothing (the Forbidden frame).
    assert chosen is None or chosen in route_keys - LIFECYCLE
    if chosen is None:
        assert "$default" not in route_keys


# -- safe defaults: who can reach the API at all ------------------------------------------

UNREACHABLE = "192.0.2.1"  # TEST-NET-1 (RFC 5737): not loopback, and never this machine's


@pytest.mark.parametrize(
    ("flags", "inspector_warning"),
    [([], True), (["--no-inspector"], False)],
    ids=["inspector", "no-inspector"],
)
def test_a_non_loopback_host_is_warned_about_before_anything_listens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], inspector_warning: bool
) -> None:
    # tests/test_cli.py checks which hosts count as loopback; this checks what
    # `serve` says for one that does not. The bind fails, so nothing is exposed.
    module = f"isolation_host_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text("def handler(event, context):\n    return None\n")
    routes = tmp_path / "routes.yaml"
    routes.write_text(f"routes:\n  $default: {module}.handler\n")
    args = ["serve", "--config", str(routes), "--host", UNREACHABLE, "--port", "0", *flags]
    try:
        assert main([*args, "--no-reload"]) == 1
    finally:
        sys.modules.pop(module, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(tmp_path.resolve()))
    out, err = capsys.readouterr()
    assert out == ""
    warnings = [line for line in err.splitlines() if line.startswith("apigw-ws: warning: ")]
    assert warnings[0] == (
        f"apigw-ws: warning: listening on {UNREACHABLE}: the API is reachable from the "
        "network, and @connections by whoever signs a request (any key: --credentials "
        "names the keys)"
    )
    assert len(warnings) == (2 if inspector_warning else 1)
    if inspector_warning:
        assert "--no-inspector turns it off" in warnings[1]
    assert f"apigw-ws: error: cannot listen on {UNREACHABLE}:0" in err
