"""``apigw-ws init``: the files of a starter project.

A pure module: :func:`starter_files` gives each file's path and text; the CLI
writes them. The project is one WebSocket API that runs on AWS as it is:
routes.yaml, Lambda handlers written the way AWS's samples write them (boto3
for the @connections API, the environment from ``os.environ``, the root logger
at INFO), tests that use the pytest plugin, and a README saying how to serve,
test and deploy it.
"""

from __future__ import annotations

__all__ = ["starter_files"]

_ROUTES = """\
# The WebSocket API: the route selection expression, and the Lambda handler each
# route runs ("app.echo" is the function echo of app.py). `apigw-ws serve` reads it.
routeSelectionExpression: $request.body.action
stage: local
environment:            # every handler's environment, as a Lambda function's
  GREETING: hello
routes:
  $connect: app.connect
  $disconnect: app.disconnect
  echo:
    handler: app.echo
    routeResponse: true  # two-way: the handler's body goes back to the client
  $default: app.default  # any other message
"""

_APP = '''\
"""The Lambda handlers of the WebSocket API, written as they run on AWS.

routes.yaml names one per route. Each gets the event API Gateway sends; they
answer clients with a route response (echo) or through the @connections API
with boto3 (default), as on AWS.
"""

import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def connect(event, context):
    """$connect: a 2xx accepts the connection, any other status refuses it."""
    logger.info("connected: %s", event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def disconnect(event, context):
    """$disconnect: the client is gone; the event says how it closed."""
    request = event["requestContext"]
    code = request["disconnectStatusCode"]
    logger.info("disconnected: %s (%s)", request["connectionId"], code)
    return {"statusCode": 200}


def echo(event, context):
    """{"action": "echo", "data": "..."}: the data comes back as the route response."""
    data = json.loads(event["body"]).get("data", "")
    body = data if isinstance(data, str) else json.dumps(data)
    return {"statusCode": 200, "body": body}


def default(event, context):
    """Any other message: a hint, posted to the client through the @connections API."""
    request = event["requestContext"]
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{request['domainName']}/{request['stage']}",
    )
    hint = f'{os.environ["GREETING"]}! Send {{"action": "echo", "data": "..."}}'
    client.post_to_connection(ConnectionId=request["connectionId"], Data=hint.encode())
    return {"statusCode": 200}
'''

_TEST = '''\
"""Tests of the API. The apigw fixture (apigw-ws's pytest plugin) serves routes.yaml
(pyproject.toml names it) on a free port for each test, and stops it after."""


async def test_echo_sends_the_data_back(apigw):
    client = await apigw.connect()
    await client.send_json({"action": "echo", "data": "hi"})
    assert await client.receive_text() == "hi"


async def test_other_messages_get_a_hint_through_the_connections_api(apigw):
    client = await apigw.connect()
    await client.send_text("what can I send?")
    hint = await client.receive_text()
    assert hint == 'hello! Send {"action": "echo", "data": "..."}'
    (call,) = await apigw.record.wait_for_invocations("$default")
    assert call.event["body"] == "what can I send?"
    assert [sent.source for sent in apigw.record.sent] == ["post"]


async def test_disconnect_runs_when_the_client_leaves(apigw):
    client = await apigw.connect()
    await client.close()
    (call,) = await apigw.record.wait_for_invocations("$disconnect")
    assert call.event["requestContext"]["connectionId"] == client.connection_id
    assert call.event["requestContext"]["disconnectStatusCode"] == 1000
'''

_PYPROJECT = """\
# pytest's settings: the apigw fixture of apigw-ws's pytest plugin serves routes.yaml.
[tool.pytest.ini_options]
apigw_routes = "routes.yaml"
"""

_README = """\
# {name}

A WebSocket API for Amazon API Gateway, with its Lambda handlers in Python.
`apigw-ws init` wrote it:

- `routes.yaml`: the routes, and the handler each one runs;
- `app.py`: the handlers, as they run on AWS;
- `tests/test_app.py`: tests, run against the emulator by its pytest plugin;
- `pyproject.toml`: the pytest settings.

## Run it

```sh
apigw-ws serve
```

serves it on `ws://127.0.0.1:3001/local`, with a chat page and an inspector
at `http://127.0.0.1:3001/`. Edits to `app.py` and `routes.yaml` apply to
the next message. In another terminal:

```sh
python -m websockets ws://127.0.0.1:3001/local
> {{"action": "echo", "data": "hi"}}
< hi
> anything else
< hello! Send {{"action": "echo", "data": "..."}}
```

## Test it

With `pytest` and `pytest-asyncio` installed beside `apigw-ws`:

```sh
pytest
```

## Deploy it

```sh
apigw-ws export routes.yaml > template.yaml
sam deploy --guided
```
"""


def starter_files(name: str) -> dict[str, str]:
    """Each file of the starter project, by its path relative to the project's
    folder; ``name`` is the project's (the README's title)."""
    return {
        "routes.yaml": _ROUTES,
        "app.py": _APP,
        "tests/test_app.py": _TEST,
        "pyproject.toml": _PYPROJECT,
        "README.md": _README.format(name=name),
    }
