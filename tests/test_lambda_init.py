"""Init like Lambda: each function's module is imported under its own environment.

Through the real server: handler modules written the way AWS's samples write
them read ``os.environ[...]`` and create boto3 clients and resources at import,
so what the init sees decides whether they work at all. A function's variables
(its template's, and those Lambda sets) win over the shell's; the shell's
others (``AWS_ENDPOINT_URL_DYNAMODB`` for a local table) stay visible. A
failed init is reported the way Lambda reports it, by ``apigw-ws check`` and
``apigw-ws serve`` alike, naming the function and its file; an init that
outlives Lambda's 10 s limit is reported instead of hanging start-up.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.model.templates import load_template
from emulator.runtime import loader
from emulator.tools.cli import main
from emulator.tools.testing import Client, Harness
from tests.conftest import HANDLERS, LocalDynamoDB, SilentService, StartApi

APPS = Path(__file__).parent / "fixtures" / "apps"
LAMBDA_ENV = APPS / "lambda_env" / "template.yaml"
CALLBACK_CHAT = APPS / "callback_chat" / "template.yaml"
TOKEN = {"token": "let-me-in"}  # lambda_env's authorizer wants it
LOG_STREAM = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")
# What Lambda sets in every function's environment (lambda-runtime-spec §1.1).
LAMBDA_VARIABLES = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_EXECUTION_ENV",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
]
SHELL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIASHELLEXAMPLE0000",
    "AWS_SECRET_ACCESS_KEY": "shell/secret/access/key/example/00000000",
    "AWS_SESSION_TOKEN": "shell-session-token",
}


async def report(client: Client, action: str, names: list[str]) -> dict[str, Any]:
    """What the function behind ``action`` saw at init and sees now (src/report.py)."""
    await client.send_json({"action": action, "names": names})
    answer: dict[str, Any] = await client.receive_json()
    return answer


def lambda_env(region: str | None = None) -> Harness:
    """tests/fixtures/apps/lambda_env served on a free port."""
    imported = load_template(LAMBDA_ENV, region=region)
    return Harness(Emulator(imported.config, host="127.0.0.1", port=0, region=region))


# The environment at init and during each invocation


async def test_the_init_and_each_invocation_see_the_functions_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The shell disagrees with the function on all of these: the function wins.
    for name, value in SHELL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "the-shells")
    monkeypatch.setenv("APP_NAME", "the-shells")
    monkeypatch.setenv("TZ", "Europe/Paris")
    async with lambda_env(region="eu-central-1") as api:
        client = await api.connect(query=TOKEN)
        seen = await report(client, "report", [*LAMBDA_VARIABLES, "APP_NAME", "ROLE"])

    context = seen["context"]
    expected = {
        # ReportFunction's own variables, over Globals'.
        "APP_NAME": "lambda-env-report",
        "ROLE": "report",
        "AWS_REGION": "eu-central-1",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_LAMBDA_FUNCTION_NAME": "ReportFunction",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ReportFunction",
        "AWS_LAMBDA_LOG_STREAM_NAME": context["log_stream_name"],
        # The Python actually running the function.
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "_HANDLER": "report.lambda_handler",
        "LAMBDA_TASK_ROOT": str((LAMBDA_ENV.parent / "src").resolve()),
        "LAMBDA_RUNTIME_DIR": os.path.dirname(os.__file__),
        "TZ": ":UTC",
    }
    credentials = {name: seen["invoke"][name] for name in SHELL_CREDENTIALS}
    assert {name: seen["invoke"][name] for name in expected} == expected
    assert LOG_STREAM.fullmatch(context["log_stream_name"])
    # The execution role's credentials, never the shell's (they would reach AWS).
    assert all(credentials.values())
    assert not set(credentials.values()) & set(SHELL_CREDENTIALS.values())
    # The module was imported in the same environment its invocations run in.
    assert seen["init"] == seen["invoke"]
    assert seen["app"] == "lambda-env-report"  # APP_NAME, read at import
    # None of it leaks into the process.
    assert os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "the-shells"
    assert "ROLE" not in os.environ


async def test_shell_variables_the_function_does_not_set_stay_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A local DynamoDB for module-level resources, and a variable that only one
    # of the functions sets.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    monkeypatch.setenv("ROLE", "the-shells")
    names = ["AWS_ENDPOINT_URL_DYNAMODB", "ROLE"]
    async with lambda_env() as api:
        client = await api.connect(query=TOKEN)
        own = await report(client, "report", names)
        other = await report(client, "jsonlog", names)
    endpoint = "http://127.0.0.1:8000"
    assert own["init"] == own["invoke"] == {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "ROLE": "report"}
    assert (
        other["init"]
        == other["invoke"]
        == {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "ROLE": "the-shells"}
    )


async def test_a_context_variable_set_at_import_is_seen_by_each_invocation(
    start_api: StartApi,
) -> None:
    """On Lambda the handler runs in the thread, and so the context, that
    imported its module: what the module set at import is there."""
    api = await start_api(
        {
            "sync": {"handler": "import_context.value", "routeResponse": True},
            "async": {"handler": "import_context.value_async", "routeResponse": True},
        }
    )
    client = await api.connect()
    for action in ("sync", "async", "sync"):
        await client.send_json({"action": action})
        assert await client.receive_text() == "set at import"


async def test_functions_sharing_a_library_both_see_what_it_set_at_import(
    start_api: StartApi,
) -> None:
    """Two functions of one code folder share their modules: the library's
    import ran in the first one's init, and the second sees what it set too."""
    api = await start_api(
        {
            "a": {"handler": "import_context_a.value", "routeResponse": True},
            "b": {"handler": "import_context_b.value", "routeResponse": True},
        }
    )
    client = await api.connect()
    for action in ("a", "b"):
        await client.send_json({"action": action})
        assert await client.receive_text() == "set by the library at import"


async def test_a_module_the_test_imported_first_keeps_what_it_set(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that imports the handler's module itself (to share its state)
    before the emulator loads it: the module is not imported again, and what
    it set then is what the handler sees."""
    monkeypatch.syspath_prepend(str(HANDLERS))
    monkeypatch.delitem(sys.modules, "import_context_early", raising=False)
    importlib.import_module("import_context_early")
    api = await start_api(
        {"$default": {"handler": "import_context_early.value", "routeResponse": True}}
    )
    client = await api.connect()
    await client.send_text("hello")
    assert await client.receive_text() == "set when the test imported it"


async def test_each_invocation_has_a_decimal_context_of_its_own(start_api: StartApi) -> None:
    """decimal's context is a mutable object each thread has its own of; here
    invocations run at once, so each makes its own, as a new thread does: one
    that sets its precision changes neither the next one's nor the caller's."""
    mine = decimal.getcontext()  # the test's own, in the context the emulator loads from
    api = await start_api(
        {"$default": {"handler": "import_context.decimal_precision", "routeResponse": True}}
    )
    client = await api.connect()
    for _ in range(2):
        await client.send_text("precision?")
        assert await client.receive_text() == "28"  # then it sets 5
    assert decimal.getcontext() is mine
    assert mine.prec == 28


# Module-level boto3 objects


async def test_module_level_clients_and_resources_reach_the_emulator_and_the_local_table(
    local_dynamodb: LocalDynamoDB,
    no_network: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The table's region is the shell's; the API is served there too.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    local_dynamodb.create_table("ConnectionsTable", "connectionId")
    api_id = "chat12abcd"
    imported = load_template(CALLBACK_CHAT, api_id=api_id)
    emulator = Emulator(imported.config, host="127.0.0.1", port=0, api_id=api_id)
    async with Harness(emulator) as api:
        alice, bob = await api.connect(), await api.connect()
        stored = {item["connectionId"] for item in local_dynamodb.items("ConnectionsTable")}
        assert stored == {alice.connection_id, bob.connection_id}
        # The client the module created at import posts to every connection.
        await alice.send_json({"action": "sendmessage", "data": "hi"})
        assert await alice.receive_text() == "hi"
        assert await bob.receive_text() == "hi"
        assert [sent.source for sent in api.record.sent] == ["post", "post"]
        # A connection that is gone: the module's client raises AWS's GoneException.
        local_dynamodb.put_item("ConnectionsTable", {"connectionId": "Zm9vYmFyYmF6cXg="})
        await bob.send_json({"action": "sendmessage", "data": "second"})
        assert await alice.receive_text() == "second"
        assert await bob.receive_text() == "second"
        await bob.close()
        # The posts arrive before the invocation that made them is over.
        await api.record.wait_for_invocations("sendmessage", 2)
        await api.record.wait_for_invocations("$disconnect")
        stored = {item["connectionId"] for item in local_dynamodb.items("ConnectionsTable")}
        assert stored == {alice.connection_id}
        assert [i.outcome for i in api.record.invocations] == ["ok"] * 5


# A failed init, as `check` and `serve` report it

GOOD = """\
import os

import boto3

# Read at import, as in serverless-patterns' apigw-websocket-api-bedrock-streaming.
TABLE_NAME = os.environ["WEBSOCKETS_DDB_TABLE"]
table = boto3.resource("dynamodb").Table(TABLE_NAME)


def lambda_handler(event, context):
    return {"statusCode": 200}
"""
# name: (handler, its own variables, module, its source, what follows "function NAME")
BROKEN: dict[str, tuple[str, dict[str, str], str, str, str]] = {
    # The same module as GoodFunction, but its template gives it TABLE_NAME (the
    # sample's upstream bug): on AWS every init fails with this KeyError.
    "MissingVariableFunction": (
        "ondisconnect.lambda_handler",
        {"TABLE_NAME": "connections"},
        "ondisconnect",
        GOOD,
        ": KeyError: 'WEBSOCKETS_DDB_TABLE' ({file}, line 6)",
    ),
    "TypoFunction": (
        "onconect.lambda_handler",
        {"WEBSOCKETS_DDB_TABLE": "connections"},
        "",
        "",
        ": Runtime.ImportModuleError: Unable to import module 'onconect': No module named"
        " 'onconect' (looked in {folder!r}; did you mean 'onconnect'?",
    ),
    "HandlerNotFoundFunction": (
        "sendmessage.handler",
        {},
        "sendmessage",
        "def lambda_handler(event, context):\n    return {'statusCode': 200}\n",
        " ({file}): Runtime.HandlerNotFound: Handler 'handler' missing on module"
        " 'sendmessage'; did you mean 'lambda_handler'?",
    ),
    "SyntaxErrorFunction": (
        "broken.lambda_handler",
        {},
        "broken",
        "import json\n\ndef lambda_handler(event, context:\n    return json.dumps(event)\n",
        ": Runtime.UserCodeSyntaxError: Syntax error in module 'broken': '(' was never closed"
        " ({file}, line 3)",
    ),
    "MissingDependencyFunction": (
        "notify.lambda_handler",
        {},
        "notify",
        "import json\n\nimport requests_aws4auth_not_installed\n",
        ": Runtime.ImportModuleError: Unable to import module 'notify': No module named"
        " 'requests_aws4auth_not_installed' ({file}, line 3)",
    ),
    # Raised inside a library called at import: the report names the module's line.
    "BadSettingFunction": (
        "settings.lambda_handler",
        {"CHAT_SETTINGS": "{'rooms': 3}"},
        "settings",
        "import json\nimport os\n\nSETTINGS = json.loads(os.environ['CHAT_SETTINGS'])\n",
        ": JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2"
        " (char 1) ({file}, line 4)",
    ),
}
TEMPLATE_HEAD = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    Runtime: python3.12
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: broken-init
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/\\
        functions/${GoodFunction.Arn}/invocations"
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      Target: !Join ["/", ["integrations", !Ref Integration]]
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: dev
"""


def function_resource(name: str, handler: str, variables: dict[str, str]) -> str:
    text = (
        f"  {name}:\n    Type: AWS::Serverless::Function\n"
        f"    Properties:\n      Handler: {handler}\n"
    )
    if variables:
        text += "      Environment:\n        Variables:\n"
        text += "".join(
            f"          {key}: {json.dumps(value)}\n" for key, value in variables.items()
        )
    return text


def write_app(folder: Path, broken: list[str], **more: tuple[str, dict[str, str]]) -> Path:
    """A SAM app whose GoodFunction inits, and whose ``broken`` functions do not."""
    src = folder / "src"
    src.mkdir()
    (src / "onconnect.py").write_text(GOOD, encoding="utf-8")
    template = TEMPLATE_HEAD + function_resource(
        "GoodFunction", "onconnect.lambda_handler", {"WEBSOCKETS_DDB_TABLE": "connections"}
    )
    for name in broken:
        handler, variables, module, source, _ = BROKEN[name]
        if module:
            (src / f"{module}.py").write_text(source, encoding="utf-8")
        template += function_resource(name, handler, variables)
    for name, (handler, variables) in more.items():
        template += function_resource(name, handler, variables)
    path = folder / "template.yaml"
    path.write_text(template, encoding="utf-8")
    return path


def expected_report(name: str, folder: Path) -> str:
    *_, module, _, report = BROKEN[name]
    src = (folder / "src").resolve()
    return f"function {name!r}" + report.format(file=src / f"{module}.py", folder=str(src))


def test_check_reports_every_failed_init_as_lambda_does(own_modules: Path) -> None:
    template = write_app(own_modules, list(BROKEN))
    # A process of its own: the command as a user runs it, from a fresh interpreter.
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "check", "--template", str(template)],
        cwd=own_modules,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_REGION": "us-east-1"},
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("apigw-ws: error: ")]
    # One line per function that fails; GoodFunction, which reads the same
    # variable at import, is not among them.
    reported = {}
    for line in errors:
        match = re.match(
            rf"apigw-ws: error: {re.escape(str(template))}: "
            r"Resources\.(\w+)\.Properties\.Handler: ",
            line,
        )
        assert match, line
        reported[match[1]] = line
    assert sorted(reported) == sorted(BROKEN), done.stderr
    for name, line in reported.items():
        assert expected_report(name, own_modules) in line, line


@pytest.mark.parametrize("name", list(BROKEN))
def test_serve_refuses_to_start_with_a_failed_init(
    own_modules: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_app(own_modules, [name])
    assert main(["serve", "--template", str(template), "--port", "0", "--no-reload"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [error] = [line for line in err.splitlines() if line.startswith("apigw-ws: error: ")]
    assert error.startswith(f"apigw-ws: error: {template}: Resources.{name}.Properties.Handler: ")
    assert expected_report(name, own_modules) in error


# An init that outlives Lambda's limit

SLOW_INIT = """\
import json
import os
import urllib.request

# The AWS Parameters and Secrets Lambda Extension, asked once at init.
PORT = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
request = urllib.request.Request(
    f"http://localhost:{PORT}/systemsmanager/parameters/get?name=%2Fchat%2Fsettings",
    headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]},
)
SETTINGS = json.loads(urllib.request.urlopen(request).read())["Parameter"]["Value"]


def lambda_handler(event, context):
    return {"statusCode": 200}
"""


@pytest.fixture
def short_init_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    """Lambda's 10 s init limit, shortened for the commands of this test."""
    limit = 0.5
    defaults = loader.load_functions.__kwdefaults__
    assert defaults is not None
    assert defaults["init_timeout"] == 10.0  # the limit shortened is Lambda's
    monkeypatch.setitem(defaults, "init_timeout", limit)
    return limit


@pytest.mark.parametrize(("command", "status"), [("check", 1), ("serve", 2)])
def test_an_init_past_the_limit_is_reported_not_waited_for(
    own_modules: Path,
    silent_service: SilentService,
    short_init_limit: float,
    capsys: pytest.CaptureFixture[str],
    command: str,
    status: int,
) -> None:
    (own_modules / "src").mkdir()
    (own_modules / "src" / "settings_at_init.py").write_text(SLOW_INIT, encoding="utf-8")
    # The extension hangs: it accepts the request and never answers.
    variables = {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(silent_service.port)}
    template = own_modules / "template.yaml"
    template.write_text(
        TEMPLATE_HEAD
        + function_resource("GoodFunction", "settings_at_init.lambda_handler", variables),
        encoding="utf-8",
    )
    args = [command, "--template", str(template)]
    if command == "serve":
        args += ["--port", "0", "--no-reload"]
    assert main(args) == status
    _, err = capsys.readouterr()
    [error] = [line for line in err.splitlines() if line.startswith("apigw-ws: error: ")]
    file = (own_modules / "src" / "settings_at_init.py").resolve()
    assert error.startswith(
        f"apigw-ws: error: {template}: Resources.GoodFunction.Properties.Handler: "
    )
    assert (
        f"function 'GoodFunction': its init did not finish within {short_init_limit:.2f} seconds,"
        " Lambda's limit for importing a function's module; it is still running at"
        f" {file}, line 11, in <module>"
    ) in error
