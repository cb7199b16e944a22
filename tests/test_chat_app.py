"""The default application: routes.yaml at the repo root serving handlers/chat.py.

The handlers are the API Gateway WebSocket tutorial's chat app, deployable as
they are: boto3 to the @connections API, connections kept in
``handlers.store``'s memory store. That store is a module global shared by every
test in this process, so each test asserts about its own clients' ids only and
removes whatever it puts there itself.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.tools.testing import Client, Harness
from handlers import store
from tests.conftest import ROOT

PREFIX = "Use the sendmessage route to send a message. Your info: "
STALE_ID = "AAAAAAAAAAAAAAA="  # well-formed (spec §4.1), but never connected


@pytest.fixture
async def chat(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.delenv("TABLE_NAME", raising=False)  # the memory store, not DynamoDB
    async with Harness.from_config(Path(ROOT) / "routes.yaml") as api:
        yield api


async def _join(api: Harness, name: str | None = None) -> Client:
    client = await api.connect(query={"name": name} if name is not None else None)
    assert client.connection_id in store._memory.connection_ids()
    return client


def _errors(api: Harness) -> list[Any]:
    return [s for s in api.record.sent if s.source == "error"]


async def test_sendmessage_broadcasts_with_the_senders_name(chat: Harness) -> None:
    alice = await _join(chat, "alice")
    bob = await _join(chat, "bob")
    await alice.send_json({"action": "sendmessage", "data": "hi"})
    assert await alice.receive_text() == "alice: hi"
    assert await bob.receive_text() == "alice: hi"
    await bob.send_json({"action": "sendmessage", "data": "hello"})
    assert await alice.receive_text() == "bob: hello"
    assert await bob.receive_text() == "bob: hello"
    [first, second] = await chat.record.wait_for_invocations("sendmessage", 2)
    assert (first.outcome, second.outcome) == ("ok", "ok")
    # One-way route: everything came through @connections, nothing else was sent.
    assert {s.source for s in chat.record.sent} == {"post"}


@pytest.mark.parametrize(
    ("query_name", "expected"),
    [
        (None, "plain"),
        ("", "plain"),
        ("   ", "plain"),
        (" carol ", "carol: plain"),
    ],
    ids=["no-name", "empty-name", "blank-name", "padded-name"],
)
async def test_sendmessage_without_a_name_sends_the_plain_data(
    chat: Harness, query_name: str | None, expected: str
) -> None:
    sender = await _join(chat, query_name)
    alice = await _join(chat, "alice")
    await sender.send_json({"action": "sendmessage", "data": "plain"})
    assert await sender.receive_text() == expected
    assert await alice.receive_text() == expected


async def test_sendmessage_sends_non_string_data_as_json(chat: Harness) -> None:
    alice = await _join(chat, "alice")
    await alice.send_json({"action": "sendmessage", "data": {"n": 1}})
    assert await alice.receive_text() == 'alice: {"n": 1}'


@pytest.mark.parametrize(
    "frame",
    ['{"action": "unknown", "data": "hi"}', '{"data": "no action"}', "not json at all"],
    ids=["other-action", "no-action", "not-json"],
)
async def test_default_route_explains_and_shows_connection_info(chat: Harness, frame: str) -> None:
    alice = await _join(chat, "alice")
    await alice.send_text(frame)
    reply = await alice.receive_text()
    assert reply.startswith(PREFIX)
    info = json.loads(reply.removeprefix(PREFIX))
    # GetConnection as boto3 parses it (spec §4.1), re-serialised by the handler.
    assert set(info) == {"ConnectedAt", "Identity", "LastActiveAt"}
    [connect] = [
        e
        for e in chat.record.events("$connect")
        if e["requestContext"]["connectionId"] == alice.connection_id
    ]
    assert info["Identity"] == {
        "SourceIp": "127.0.0.1",
        "UserAgent": connect["headers"]["User-Agent"],
    }
    connected_at = datetime.fromisoformat(info["ConnectedAt"])
    last_active_at = datetime.fromisoformat(info["LastActiveAt"])
    assert round(connected_at.timestamp() * 1000) == connect["requestContext"]["connectedAt"]
    assert last_active_at >= connected_at
    [invocation] = await chat.record.wait_for_invocations("$default", 1)
    assert invocation.outcome == "ok"
    assert chat.record.sent_to(alice.connection_id) == [reply]


async def test_disconnect_forgets_the_connection(chat: Harness) -> None:
    alice = await _join(chat, "alice")
    bob = await _join(chat, "bob")
    await bob.close()
    [disconnect] = await chat.record.wait_for_invocations("$disconnect", 1)
    assert disconnect.event["requestContext"]["connectionId"] == bob.connection_id
    assert disconnect.outcome == "ok"
    assert bob.connection_id not in store._memory.connection_ids()
    assert alice.connection_id in store._memory.connection_ids()

    await alice.send_json({"action": "sendmessage", "data": "anyone?"})
    assert await alice.receive_text() == "alice: anyone?"
    [invocation] = await chat.record.wait_for_invocations("sendmessage", 1)
    assert invocation.outcome == "ok"
    assert chat.record.sent_to(bob.connection_id) == []
    assert _errors(chat) == []


async def test_sendmessage_removes_stale_connections(chat: Harness) -> None:
    # The tutorial's clean-up: a post that gets 410 GoneException forgets the id.
    alice = await _join(chat, "alice")
    store._memory.add(STALE_ID, "ghost")
    try:
        await alice.send_json({"action": "sendmessage", "data": "hi"})
        assert await alice.receive_text() == "alice: hi"
        [invocation] = await chat.record.wait_for_invocations("sendmessage", 1)
        assert invocation.outcome == "ok"
        assert STALE_ID not in store._memory.connection_ids()
        assert alice.connection_id in store._memory.connection_ids()
        assert [s.connection_id for s in chat.record.sent] == [alice.connection_id]
        assert _errors(chat) == []
    finally:
        store._memory.remove(STALE_ID)


async def test_stopping_the_emulator_runs_disconnect_for_everyone() -> None:
    async with Harness.from_config(Path(ROOT) / "routes.yaml") as api:
        alice = await _join(api, "alice")
        bob = await _join(api, "bob")
        ids = {alice.connection_id, bob.connection_id}
    # stop() closes with 1001 and waits for each $disconnect.
    assert {e["requestContext"]["connectionId"] for e in api.record.events("$disconnect")} == ids
    assert ids.isdisjoint(store._memory.connection_ids())


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            modules.add("handlers")  # a relative import stays inside the package
    return modules


HANDLER_FILES = sorted((Path(ROOT) / "handlers").glob("*.py"))


@pytest.mark.parametrize("path", HANDLER_FILES, ids=[p.name for p in HANDLER_FILES])
def test_handlers_import_only_boto3_beyond_the_standard_library(path: Path) -> None:
    # Deployable unchanged to Lambda, whose Python runtime ships boto3 (spec §4.3).
    third_party = _imported_modules(path) - set(sys.stdlib_module_names) - {"handlers"}
    assert third_party <= {"boto3"}
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+emulator\b|__import__|importlib", source, re.M)


def test_the_chat_handlers_talk_to_connections_through_boto3() -> None:
    assert "boto3" in _imported_modules(Path(ROOT) / "handlers" / "chat.py")
