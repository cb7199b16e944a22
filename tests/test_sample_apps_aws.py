"""Apps written the way AWS's samples are, served with their DynamoDB tables in-process.

Each app under ``tests/fixtures/apps`` keeps its connections in a table its
template declares (a ``TableName`` from a parameter, a ``!Sub`` name, a
``SimpleTable``, a table with a GSI) and creates its boto3 objects at
import. Served with ``mock_aws=True`` (``apigw-ws serve --mock-aws``) and
nothing else set up: the scenario of each app's README, through the real
server, and the table read back through the mocked service.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.tools.testing import Harness

APPS = Path(__file__).parent / "fixtures" / "apps"
STALE = "Zm9vYmFyYmF6cXg="  # a well-formed id that no connection has


@asynccontextmanager
async def served(template: Path) -> AsyncIterator[Harness]:
    imported = load_template(template, environ={})
    emulator = Emulator(imported.config, host="127.0.0.1", port=0, mock_aws=True)
    async with Harness(emulator) as harness:
        yield harness


async def test_simple_chat() -> None:
    async with served(APPS / "simple_chat" / "template.yaml") as api:
        table = "simplechat_connections"  # TableName: !Ref TableName (the parameter's default)
        alice, bob = await api.connect(), await api.connect()
        ids = {item["connectionId"] for item in api.aws.items(table)}
        assert ids == {alice.connection_id, bob.connection_id}

        await alice.send_json({"action": "sendmessage", "data": "hi"})
        assert (await alice.receive_text(), await bob.receive_text()) == ("hi", "hi")

        # A stale id: the post answers 410 and the handler deletes it.
        api.aws.client("dynamodb").put_item(TableName=table, Item={"connectionId": {"S": STALE}})
        await bob.send_json({"action": "sendmessage", "data": "second"})
        assert (await alice.receive_text(), await bob.receive_text()) == ("second", "second")
        await api.record.wait_for_invocations("sendmessage", 2)
        assert STALE not in {item["connectionId"] for item in api.aws.items(table)}

        await bob.close()
        await api.record.wait_for_invocations("$disconnect")
        assert [item["connectionId"] for item in api.aws.items(table)] == [alice.connection_id]


async def test_doc_sdk_chat() -> None:
    async with served(APPS / "doc_sdk_chat" / "template.yaml") as api:
        table = "doc-example-websocket-chat"
        bill = await api.connect(query={"name": "Bill"})
        dude = await api.connect(query={"name": "DemoDude"})
        guest = await api.connect()
        names = sorted(item["user_name"] for item in api.aws.items(table))
        assert names == ["Bill", "DemoDude", "guest"]

        await dude.send_json({"action": "sendmessage", "msg": "Hey everyone!"})
        assert await bill.receive_text() == "DemoDude: Hey everyone!"
        assert await guest.receive_text() == "DemoDude: Hey everyone!"
        await api.record.wait_for_invocations("sendmessage")
        assert api.record.sent_to(dude.connection_id) == []

        # The sample catches ClientError before GoneException: a ghost stays.
        ghost = {"connection_id": {"S": STALE}, "user_name": {"S": "ghost"}}
        api.aws.client("dynamodb").put_item(TableName=table, Item=ghost)
        await dude.send_json({"action": "sendmessage", "msg": "anyone?"})
        assert await bill.receive_text() == "DemoDude: anyone?"
        await api.record.wait_for_invocations("sendmessage", 2)
        assert len(api.aws.items(table)) == 4


async def test_tutorial_chat() -> None:
    async with served(APPS / "tutorial_chat" / "template.yaml") as api:
        alice = await api.connect(query={"name": "alice"})
        bob = await api.connect()
        (table,) = [r.name for r in api.emulator.config.resources.values()]
        assert table == "local-websocket_connections"  # !Sub ${AWS::StackName}-${TableName}
        assert sorted(item["userName"] for item in api.aws.items(table)) == ["alice", "guest"]

        await alice.send_json(
            {
                "action": "invokeModel",
                "parameters": {"modelId": "anthropic.claude-v2", "temperature": 0},
                "prompt": "why is the sky blue?",
            }
        )
        chunks = [await alice.receive_text() for _ in range(4)]
        assert chunks == ["WHY IS T", "HE SKY B", "LUE?", "<End of LLM response>"]

        await bob.close()
        await api.record.wait_for_invocations("$disconnect")
        assert [item["userName"] for item in api.aws.items(table)] == ["alice"]


async def test_powertools_chat() -> None:
    async with served(APPS / "powertools_chat" / "template.yaml") as api:
        a, b = await api.connect(), await api.connect()
        # A SimpleTable: its logical id is the table's name here.
        stored = {item["connectionId"] for item in api.aws.items("ConnectionsTable")}
        assert stored == {a.connection_id, b.connection_id}

        await a.send_json({"action": "sendmessage", "data": "hi"})
        expected = {"from": a.connection_id, "data": "hi"}
        assert (await a.receive_json(), await b.receive_json()) == (expected, expected)

        await a.send_json({"action": "sendmessage", "data": ""})
        assert await a.receive_json() == {
            "error": "invalid message",
            "details": ["body.data: String should have at least 1 character"],
        }

        await b.close(1001)
        await api.record.wait_for_invocations("$disconnect")
        assert [item["connectionId"] for item in api.aws.items("ConnectionsTable")] == [
            a.connection_id
        ]


async def test_chalice_chat() -> None:
    pytest.importorskip("chalice")
    async with served(APPS / "chalice_chat" / "template.source.yaml") as api:
        john, jenny = await api.connect(), await api.connect()
        await john.send_text("John")
        assert await john.receive_text() == "Using nickname: John\nType /help for list of commands."
        await jenny.send_text("Jenny")
        await jenny.receive_text()
        await john.send_text("/join chalice")
        assert await john.receive_text() == 'Joined chat room "chalice"'
        await jenny.send_text("/join chalice")
        assert await john.receive_text() == "Jenny joined room."
        assert await jenny.receive_text() == 'Joined chat room "chalice"'
        await jenny.send_text("/ls")
        assert set((await jenny.receive_text()).split("\n")) == {"John", "Jenny"}
        await john.send_text("Hi")
        assert (await john.receive_text(), await jenny.receive_text()) == ("John: Hi", "John: Hi")
        await jenny.send_text("/bogus")  # the tutorial's bug: 'Sender' object is not callable
        error = json.loads(await jenny.receive_text())
        assert error["message"] == "Internal server error"
