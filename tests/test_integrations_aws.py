"""AWS integrations end to end against a local AWS-compatible endpoint (spec §A.4.3, §A.4.8).

moto's server mode stands in for SQS and Kinesis: the emulator renders the
templates API Gateway users write, signs the request with SigV4 and sends it
to the endpoint ``awsEndpoints`` names; the test reads the queue or stream back
with boto3.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import StartApi

ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **CREDENTIALS)


def sqs_integration(queue: str, template: str) -> dict[str, Any]:
    """LS-PRO-WS-TEST test_websocket_with_sqs_integration (aws.validated)."""
    return {
        "type": "AWS",
        "method": "POST",
        "uri": f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/{queue}",
        "requestParameters": {
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        "templateSelectionExpression": "default",
        "requestTemplates": {"default": template},
        "responses": [{"key": "$default", "responseTemplates": {"$default": "$input.body"}}],
    }


async def test_sqs_send_message_delivers_the_templated_body(
    start_api: StartApi, moto_url: str
) -> None:
    sqs = client("sqs", moto_url)
    queue_url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    template = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
    api = await start_api(
        {"$default": {"integration": sqs_integration("orders", template), "routeResponse": True}},
        awsEndpoints={"sqs": moto_url},
    )
    ws = await api.connect()
    frame = '{"action": "order", "note": "a & b + 100%"}'

    await ws.send_text(frame)
    reply = await ws.receive_json()
    received = await asyncio.to_thread(sqs.receive_message, QueueUrl=queue_url)

    # AWS answers API Gateway in JSON, even for SQS (spec §A.4.3).
    message_id = reply["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    (message,) = received["Messages"]
    assert (message["MessageId"], message["Body"]) == (message_id, frame)


async def test_sqs_on_disconnect_is_best_effort(start_api: StartApi, moto_url: str) -> None:
    sqs = client("sqs", moto_url)
    queue_url = sqs.create_queue(QueueName="gone")["QueueUrl"]
    template = (
        "Action=SendMessage&MessageBody=$util.urlEncode('Client disconnected')"
        "&MessageAttribute.1.Name=connectionId"
        "&MessageAttribute.1.Value.StringValue=$context.connectionId"
        "&MessageAttribute.1.Value.DataType=String"
    )
    integration = {**sqs_integration("gone", template), "passthroughBehavior": "NEVER"}
    api = await start_api(
        {"$disconnect": {"integration": integration}, "$default": "probe.echo"},
        awsEndpoints={"sqs": moto_url},
    )
    ws = await api.connect()
    await ws.close()
    (run,) = await api.record.wait_for_invocations("$disconnect")

    received = await asyncio.to_thread(
        sqs.receive_message, QueueUrl=queue_url, MessageAttributeNames=["All"]
    )
    (message,) = received["Messages"]
    assert run.outcome == "ok"
    assert message["Body"] == "Client disconnected"
    assert message["MessageAttributes"]["connectionId"]["StringValue"] == ws.connection_id


async def test_kinesis_put_record(start_api: StartApi, moto_url: str) -> None:
    """LS-PRO-WS-TEST test_websocket_with_kinesis_integration's template (§A.4.8 ex. 2)."""
    kinesis = client("kinesis", moto_url)
    kinesis.create_stream(StreamName="events", ShardCount=1)
    template = (
        '#set($data = "{""body"": $input.body, ""connectionId"":""$context.connectionId""}")\n'
        '{"StreamName": "events", "Data": "$util.base64Encode($data)",'
        ' "PartitionKey": "test-partition"}'
    )
    integration = {
        "type": "AWS",
        "uri": "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
        "templateSelectionExpression": "default",
        "requestTemplates": {"default": template},
        "responses": [{"key": "/200/"}],
    }
    api = await start_api(
        {"$default": {"integration": integration, "routeResponse": True}},
        awsEndpoints={"kinesis": moto_url},
    )
    ws = await api.connect()

    await ws.send_json({"hello": "world"})
    reply = await ws.receive_json()

    shard = await asyncio.to_thread(
        kinesis.get_shard_iterator,
        StreamName="events",
        ShardId=reply["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )
    records = await asyncio.to_thread(kinesis.get_records, ShardIterator=shard["ShardIterator"])
    (record,) = records["Records"]
    data = record["Data"]
    assert json.loads(data if isinstance(data, bytes) else base64.b64decode(data)) == {
        "body": {"hello": "world"},
        "connectionId": ws.connection_id,
    }
    assert set(reply) == {"ShardId", "SequenceNumber"}


async def test_no_endpoint_gives_internal_server_error(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
    api = await start_api({"$default": {"integration": sqs_integration("q", "Action=SendMessage")}})
    ws = await api.connect()

    await ws.send_text("{}")

    assert json.loads(await ws.receive_text())["message"] == "Internal server error"
    (run,) = api.record.invocations
    assert "awsEndpoints.sqs" in str(run.invocation.error)
