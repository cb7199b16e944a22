"""``--mock-aws``: the AWS services a template declares, in-process, through the real server.

The app (``tests/fixtures/apps/archive_chat``) creates its DynamoDB and SQS
clients at import, as AWS's samples do, and is declared twice: a SAM template
and a serverless.yml. Nothing is set up beside the emulator: no local
DynamoDB, no table created by hand, no variable exported.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import boto3
import pytest
from websockets.exceptions import InvalidStatus

from emulator.app import Emulator
from emulator.errors import AwsCallRefused, ConfigError
from emulator.model.config import parse_config
from emulator.model.templates import load_template
from emulator.tools.cli import main
from emulator.tools.testing import Harness
from tests.conftest import ROOT
from tests.serving import Server, serving
from tests.test_cli import TIMEOUT, _connect

URL_LINE = re.compile(r"ws://127\.0\.0\.1:(\d+)/prod\n")  # the SAM template's stage

APP = Path(__file__).parent / "fixtures" / "apps" / "archive_chat"
TEMPLATES = {
    # TableName: !Sub "${AWS::StackName}-connections"; the queue has no name.
    "sam": (APP / "template.yaml", "local-connections", "ArchiveQueue"),
    # ${self:service}-${sls:stage}-... for both.
    "serverless": (
        APP / "serverless.yml",
        "archive-chat-dev-connections",
        "archive-chat-dev-archive",
    ),
}


@asynccontextmanager
async def served(path: Path, **options: object) -> AsyncIterator[Harness]:
    config = load_template(path, environ={}).config
    async with Harness(Emulator(config, host="127.0.0.1", port=0, **options)) as harness:  # type: ignore[arg-type]
        yield harness


@pytest.mark.parametrize("template", TEMPLATES)
async def test_two_rooms_a_table_with_a_gsi_and_a_queue(template: str) -> None:
    path, table, queue = TEMPLATES[template]
    async with served(path, mock_aws=True) as api:
        alice = await api.connect(query={"room": "blue", "name": "alice"})
        bob = await api.connect(query={"room": "blue", "name": "bob"})
        carol = await api.connect(query={"room": "red", "name": "carol"})
        rooms = {item["name"]: item["room"] for item in api.aws.items(table)}
        assert rooms == {"alice": "blue", "bob": "blue", "carol": "red"}

        await alice.send_json({"action": "sendmessage", "data": "hello"})
        assert await alice.receive_text() == "alice: hello"
        assert await bob.receive_text() == "alice: hello"
        (call,) = await api.record.wait_for_invocations("sendmessage")
        assert call.invocation.error is None
        assert api.record.sent_to(carol.connection_id) == []  # another room (the GSI)
        assert [json.loads(body) for body in api.aws.messages(queue)] == [
            {"room": "blue", "from": "alice", "text": "hello"}
        ]

        await bob.close()
        await api.record.wait_for_invocations("$disconnect")
        assert sorted(item["name"] for item in api.aws.items(table)) == ["alice", "carol"]


async def test_the_functions_see_the_names_of_the_resources(tmp_path: Path) -> None:
    async with served(TEMPLATES["sam"][0], mock_aws=True) as api:
        await api.connect()
        (connect,) = api.record.invocations
        sandbox = api.emulator.handlers["$connect"].sandbox
        assert sandbox is not None
        variables = sandbox.overlay.values
        region = api.emulator.region
        assert variables["TABLE_NAME"] == "local-connections"
        assert (
            variables["QUEUE_URL"]
            == f"https://sqs.{region}.amazonaws.com/000000000000/ArchiveQueue"
        )
        # The URL the mocked SQS itself gives the queue.
        sqs = api.aws.client("sqs")
        assert sqs.get_queue_url(QueueName="ArchiveQueue")["QueueUrl"] == variables["QUEUE_URL"]
        assert connect.invocation.error is None


# Point 4: no silent trips to AWS


async def test_without_mock_aws_a_call_to_aws_is_refused_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="emulator")
    async with served(TEMPLATES["sam"][0]) as api:
        # $connect's put_item raises: API Gateway answers 502.
        assert await api.connect_rejected() == 502
        assert await api.connect_rejected() == 502
        calls = await api.record.wait_for_invocations("$connect", 2)
    error = calls[0].invocation.error
    assert isinstance(error, AwsCallRefused)
    assert (error.service, error.endpoint) == (
        "dynamodb",
        "https://dynamodb.us-east-1.amazonaws.com",
    )
    message = str(error)
    assert "placeholder credentials" in message
    assert "apigw-ws serve --mock-aws" in message
    assert "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT" in message
    assert "awsEndpoints: {dynamodb: http://127.0.0.1:PORT}" in message
    # Said once per service, whatever the number of calls (each failed invocation
    # is logged as such besides).
    refusals = [r for r in caplog.records if r.getMessage().startswith(message)]
    assert len(refusals) == 1
    assert refusals[0].levelno == logging.WARNING
    assert "serve --shell-credentials" in refusals[0].getMessage()


async def test_a_local_endpoint_is_called_as_configured(tmp_path: Path) -> None:
    """``awsEndpoints`` reaches the handlers' SDK: a local DynamoDB is not refused."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        (tmp_path / "app.py").write_text(
            "import os, boto3\n"
            "def handler(event, context):\n"
            "    client = boto3.client('dynamodb')\n"
            "    return {'statusCode': 200, 'body': ','.join(client.list_tables()['TableNames'])\n"
            "            + '|' + os.environ['AWS_ENDPOINT_URL_DYNAMODB']}\n",
            encoding="utf-8",
        )
        boto3.client(
            "dynamodb", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
        ).create_table(
            TableName="here",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        document = {
            "awsEndpoints": {"dynamodb": url},
            "routes": {"$default": {"handler": "app.handler", "routeResponse": True}},
        }
        config = parse_config(document, base_dir=tmp_path)
        async with Harness(Emulator(config, host="127.0.0.1", port=0)) as api:
            client = await api.connect()
            await client.send_text("tables?")
            assert await client.receive_text() == f"here|{url}"
    finally:
        server.stop()


async def test_shell_credentials_are_given_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASHELLEXAMPLE0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "shell-secret")
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': os.environ['AWS_ACCESS_KEY_ID']}\n",
        encoding="utf-8",
    )
    config = parse_config(
        {"routes": {"$default": {"handler": "app.handler", "routeResponse": True}}},
        base_dir=tmp_path,
    )
    for shell, expected in ((False, "ASIAEMULATOREXAMPLE0"), (True, "AKIASHELLEXAMPLE0000")):
        emulator = Emulator(config, host="127.0.0.1", port=0, shell_credentials=shell)
        async with Harness(emulator) as api:
            client = await api.connect()
            await client.send_text("who?")
            assert await client.receive_text() == expected


async def test_a_variable_that_names_a_resource_is_unset_without_mock_aws(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': os.environ.get('TABLE_NAME', 'unset')}\n",
        encoding="utf-8",
    )
    document = {
        "resources": {"Things": {"Type": "AWS::Serverless::SimpleTable"}},
        "environment": {"TABLE_NAME": {"Ref": "Things"}},
        "routes": {"$default": {"handler": "app.handler", "routeResponse": True}},
    }
    config = parse_config(document, base_dir=tmp_path)
    for mock, expected in ((False, "unset"), (True, "Things")):
        async with Harness(Emulator(config, host="127.0.0.1", port=0, mock_aws=mock)) as api:
            client = await api.connect()
            await client.send_text("table?")
            assert await client.receive_text() == expected


def test_a_resource_the_service_refuses_is_a_config_error(tmp_path: Path) -> None:
    document = {
        "resources": {
            "Bad": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "GlobalSecondaryIndexes": [
                        {"IndexName": "i", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "NOPE"}}
                    ],
                },
            }
        },
        "routes": {"$default": "app.handler"},
    }  # fmt: skip
    (tmp_path / "app.py").write_text("def handler(event, context):\n    pass\n", encoding="utf-8")
    config = parse_config(document, base_dir=tmp_path, source="routes.yaml")
    with pytest.raises(ConfigError, match=r"routes.yaml: resources.Bad: cannot be created locally"):
        Emulator(config, host="127.0.0.1", port=0, mock_aws=True)


# Point 3: persistence


async def test_the_data_survives_a_restart_with_a_state_dir(tmp_path: Path) -> None:
    path, table, queue = TEMPLATES["sam"]
    state = tmp_path / "state"
    async with served(path, mock_aws=True, state_dir=state) as api:
        alice = await api.connect(query={"room": "blue", "name": "alice"})
        await alice.send_json({"action": "sendmessage", "data": "kept"})
        await alice.receive_text()
        await api.record.wait_for_invocations("sendmessage")
        s3 = api.aws.client("s3")
        s3.create_bucket(Bucket="uploads")
        s3.put_object(Bucket="uploads", Key="a.bin", Body=b"\x00\xff")
        ddb = api.aws.client("dynamodb")
        ddb.put_item(
            TableName=table,
            Item={"connectionId": {"S": "kept"}, "room": {"S": "blue"}, "blob": {"B": b"\x01"}},
        )
    assert (state / "aws-state.json").is_file()

    async with served(path, mock_aws=True, state_dir=state) as api:
        # alice's $disconnect ran when the first emulator stopped; "kept" stays.
        (item,) = api.aws.items(table)
        assert item["connectionId"] == "kept"
        index = api.aws.client("dynamodb").describe_table(TableName=table)["Table"]
        assert [i["IndexName"] for i in index["GlobalSecondaryIndexes"]] == ["byRoom"]
        assert [json.loads(b)["text"] for b in api.aws.messages(queue)] == ["kept"]
        body = api.aws.client("s3").get_object(Bucket="uploads", Key="a.bin")["Body"].read()
        assert body == b"\x00\xff"

    async with served(path, mock_aws=True) as api:  # no state dir: a fresh start
        assert api.aws.items(table) == []


async def test_a_reload_keeps_the_data_and_creates_new_resources(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    pass\n", encoding="utf-8")
    first = {
        "resources": {"Things": {"Type": "AWS::Serverless::SimpleTable"}},
        "routes": {"$default": "app.handler"},
    }
    emulator = Emulator(
        parse_config(first, base_dir=tmp_path), host="127.0.0.1", port=0, mock_aws=True
    )
    async with Harness(emulator) as api:
        api.aws.client("dynamodb").put_item(TableName="Things", Item={"id": {"S": "one"}})
        second = {**first, "resources": {**first["resources"], "Jobs": {"Type": "AWS::SQS::Queue"}}}
        config = parse_config(second, base_dir=tmp_path)
        emulator.replace(config, emulator.load(config))  # what --reload does
        assert api.aws.items("Things") == [{"id": "one"}]
        assert api.aws.client("sqs").get_queue_url(QueueName="Jobs")["QueueUrl"].endswith("/Jobs")


# Through the command line: a restart, `apigw-ws state`, the refusal's log line


def _serve(args: list[str], *, cwd: Path, log: Path) -> AbstractAsyncContextManager[Server]:
    """``python -m emulator serve ARGS`` until it prints its URL (the SAM stage's)."""
    return serving(args, cwd=cwd, log=log, url_line=URL_LINE)


def _state(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", "state", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


async def test_serve_mock_aws_state_dir_restart_and_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["--template", str(APP / "template.yaml"), "--port", "0", "--no-reload"]
    async with _serve([*args, "--mock-aws", "--state-dir", str(state)], cwd=tmp_path,
                      log=tmp_path / "first.log") as server:  # fmt: skip
        client = await _connect(f"{server.url}?room=blue&name=ann")
        await client.send(json.dumps({"action": "sendmessage", "data": "before the restart"}))
        assert await asyncio.wait_for(client.recv(), TIMEOUT) == "ann: before the restart"
        shown = await asyncio.to_thread(_state, "--url", f"http://127.0.0.1:{server.port}")
        assert shown.returncode == 0, shown.stderr
        table = "dynamodb table local-connections (us-east-1), key connectionId"
        assert f"{table}: 1 item" in shown.stdout
        assert '"name": "ann"' in shown.stdout
        await client.close()
        server.process.send_signal(signal.SIGTERM)
        await server.finish()
    saved = await asyncio.to_thread(_state, "--state-dir", str(state))
    assert saved.returncode == 0, saved.stderr
    assert "sqs queue ArchiveQueue (us-east-1): 1 message" in saved.stdout
    assert "before the restart" in saved.stdout
    assert "local-connections (us-east-1), key connectionId: 0 items" in saved.stdout

    async with _serve([*args, "--mock-aws", "--state-dir", str(state)], cwd=tmp_path,
                      log=tmp_path / "second.log") as server:  # fmt: skip
        shown = await asyncio.to_thread(
            _state, "--url", f"http://127.0.0.1:{server.port}", "--json"
        )
        view = json.loads(shown.stdout)
        (archive,) = view["queues"]
        assert [json.loads(body)["text"] for body in archive["messages"]] == ["before the restart"]


async def test_serve_without_mock_aws_refuses_and_logs_once(tmp_path: Path) -> None:
    args = ["--template", str(APP / "template.yaml"), "--port", "0", "--no-reload"]
    async with _serve(args, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        for _ in range(3):
            with pytest.raises(InvalidStatus) as refused:
                await _connect(server.url)
            assert refused.value.response.status_code == 502
        server.process.send_signal(signal.SIGTERM)
        await server.finish()
        errors = server.errors()
    # The refusal, said once (each failed $connect is logged besides).
    assert errors.count("(to use AWS itself with your shell's credentials") == 1
    assert "a dynamodb call to https://dynamodb.us-east-1.amazonaws.com was not sent" in errors
    assert "apigw-ws serve --mock-aws" in errors


def test_state_says_when_nothing_answers(tmp_path: Path) -> None:
    done = _state("--url", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert done.returncode == 1
    assert "is `apigw-ws serve --mock-aws` running there?" in done.stderr
    missing = _state("--state-dir", str(tmp_path))
    assert missing.returncode == 1
    assert "no saved AWS state here yet" in missing.stderr


# The command line's options


def test_the_aws_options_that_do_not_go_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["serve", "--state-dir", str(tmp_path)]) == 2
    assert "--state-dir keeps the data of the mocked AWS services: add --mock-aws" in (
        capsys.readouterr().err
    )
    assert main(["serve", "--mock-aws", "--shell-credentials"]) == 2
    assert "--shell-credentials and --mock-aws" in capsys.readouterr().err


def test_check_inits_with_the_mocked_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.py").write_text(
        "import os, boto3\n"
        "table = boto3.resource('dynamodb').Table(os.environ['TABLE_NAME'])\n"
        "table.load()  # DescribeTable, at import\n"
        "def handler(event, context):\n"
        "    pass\n",
        encoding="utf-8",
    )
    (tmp_path / "routes.yaml").write_text(
        "resources: {Things: {Type: AWS::Serverless::SimpleTable}}\n"
        "environment: {TABLE_NAME: !Ref Things}\n"
        "routes: {$default: app.handler}\n",
        encoding="utf-8",
    )
    assert main(["check", str(tmp_path / "routes.yaml")]) == 1
    assert "TABLE_NAME names Ref Things of 'resources', which exists with --mock-aws" in (
        capsys.readouterr().err
    )
    assert main(["check", str(tmp_path / "routes.yaml"), "--mock-aws"]) == 0
    assert "ok" in capsys.readouterr().out


# Point 6: the default app


async def test_the_default_chat_runs_on_dynamodb() -> None:
    async with Harness.from_config(ROOT / "routes.yaml", mock_aws=True) as api:
        alice = await api.connect(query={"name": "alice"})
        bob = await api.connect(query={"name": "bob"})
        names = {item["connectionId"]: item["name"] for item in api.aws.items("ConnectionsTable")}
        assert names == {alice.connection_id: "alice", bob.connection_id: "bob"}
        await bob.send_json({"action": "sendmessage", "data": "on DynamoDB"})
        assert await alice.receive_text() == "bob: on DynamoDB"
        assert await bob.receive_text() == "bob: on DynamoDB"
        await alice.close()
        await api.record.wait_for_invocations("$disconnect")
        assert [item["name"] for item in api.aws.items("ConnectionsTable")] == ["bob"]

    # Without --mock-aws: no table, TABLE_NAME unset, the connections in memory.
    async with Harness.from_config(ROOT / "routes.yaml") as api:
        carol = await api.connect(query={"name": "carol"})
        await carol.send_json({"action": "sendmessage", "data": "in memory"})
        assert await carol.receive_text() == "carol: in memory"
