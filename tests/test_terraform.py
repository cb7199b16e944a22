"""A Terraform configuration imported: its expressions, its API, what it cannot resolve.

The evaluation of HCL is checked against what a real Terraform printed for
the configurations in ``tests/fixtures/terraform/ground-truth``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.errors import ConfigError
from emulator.model.integration import IntegrationConfig
from emulator.model.templates import load_terraform
from emulator.model.templates.terraform.configuration import Configuration
from emulator.tools.cli import main
from emulator.tools.reload import Reloader
from emulator.tools.testing import Harness
from tests.conftest import ROOT, LocalDynamoDB

FIXTURES = Path(__file__).parent / "fixtures" / "terraform"
GROUND_TRUTH = FIXTURES / "ground-truth"


@pytest.fixture(autouse=True)
def forget_imported_handlers() -> Iterator[None]:
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def outputs(folder: Path, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    root = Configuration(folder, str(folder), variables or {}, []).root
    return {name: root.output(name, 0) for (name,) in root.blocks["output"]}


# What Terraform itself evaluates


@pytest.mark.parametrize("folder", ["expressions", "module-paths"])
def test_expressions_evaluate_as_terraform_evaluates_them(folder: str) -> None:
    """Heredocs (<< and <<-), $${ and %%{, directives, escapes, numbers, path.module."""
    expected = json.loads((GROUND_TRUTH / folder / "terraform-output.json").read_text())
    assert outputs(GROUND_TRUTH / folder) == expected


def test_the_chats_locals_evaluate_as_terraform_evaluates_them() -> None:
    """Its terraform.tfvars (stage_name = "prod") reaches the locals, as in Terraform."""
    expected = json.loads((GROUND_TRUTH / "chat-locals.json").read_text())
    folder = FIXTURES / "chat"
    imported_variables = {"stage_name": "prod"}  # what terraform.tfvars says
    root = Configuration(folder, "chat", imported_variables, []).root
    variables = root.variables()
    evaluated = {name: root._local(name, 0) for name in expected if name in root.locals}
    evaluated |= {name: variables[name] for name in expected if name in variables}
    assert evaluated == expected


# The chat configuration


def test_the_chat_configuration_is_read() -> None:
    imported = load_terraform(FIXTURES / "chat")
    config = imported.config

    assert (imported.api, imported.name) == (
        "aws_apigatewayv2_api.chat",
        "simplechat-prod-websocket",
    )
    assert config.stage == "prod"  # terraform.tfvars over the variable's default "dev"
    assert config.route_selection_expression.source == "$request.body.action"
    assert dict(config.stage_variables) == {
        "tableName": "simplechat_prod_connections",
        "appName": "simplechat-prod",
        "logLevel": "WARNING",
    }
    lambdas = {
        key: (route.function.code_uri, route.function.timeout)
        for key, route in config.routes.items()
        if route.function is not None
    }
    assert lambdas == {
        "$connect": (Path("src/onconnect"), 10.0),
        "$disconnect": (Path("src/ondisconnect"), 10.0),
        "$default": (Path("src/default"), 10.0),  # archive_file's source_file: its folder
        # for_each over local.message_routes; the function's own timeout, 30 s.
        "sendmessage": (Path("src/sendmessage"), 30.0),
        "typing": (Path("src/sendmessage"), 30.0),
    }
    assert imported.functions["typing"] == "simplechat-prod-sendmessage"
    assert config.routes["sendmessage"].function.environment == {
        "TABLE_NAME": "simplechat_prod_connections",
        "APP_NAME": "simplechat-prod",
        "LOG_LEVEL": "WARNING",  # var.stage_name == "prod" ? "WARNING" : "DEBUG"
    }
    assert config.routes["$default"].function.environment["APP_NAME"] == "SIMPLECHAT"


def test_the_chats_backend_routes_are_read() -> None:
    config = load_terraform(FIXTURES / "chat").config
    history = config.routes["history"].integration
    assert isinstance(history, IntegrationConfig)
    assert (history.type.value, history.uri, history.method) == (
        "HTTP_PROXY",
        "http://127.0.0.1:8080/history",
        "POST",
    )
    ping = config.routes["ping"]
    assert isinstance(ping.integration, IntegrationConfig)
    assert ping.route_response  # route_response_selection_expression and a route response
    assert ping.integration.request_templates == {"$default": '{"statusCode":200}'}
    (response,) = ping.integration.responses
    assert response.key == "/200/"
    assert response.response_templates["$default"] == (
        '{\n  "action": "pong",\n  "connectionId": "${context.connectionId}",\n'
        '  "stage": "$context.stage"\n}\n'
    )


def test_what_the_chat_cannot_run_is_said() -> None:
    imported = load_terraform(FIXTURES / "chat")
    assert imported.skipped == ()
    assert imported.config.authorizer is None
    assert imported.warnings == (
        f"{FIXTURES / 'chat'}/apigateway.tf:14: aws_apigatewayv2_authorizer.token: function"
        " aws_lambda_function.auth's filename 'build/authorizer.zip' is a zip built outside"
        " Terraform: the emulator runs code from folders, such as an archive_file data"
        " source's source_dir; connections are not authorized locally",
    )


def test_the_history_route_follows_its_count() -> None:
    imported = load_terraform(FIXTURES / "chat", variables={"enable_history": "false"})
    assert "history" not in imported.config.routes


# Other configurations


def test_a_minimal_configuration() -> None:
    imported = load_terraform(FIXTURES / "minimal")
    route = imported.config.routes["$default"]
    assert route.function is not None
    assert (route.function.handler, route.function.code_uri) == ("echo.handler", None)
    assert imported.config.stage == "dev"
    assert route.function.timeout == 3.0  # Lambda's default
    assert imported.warnings == ()


def test_a_local_module_with_for_each() -> None:
    imported = load_terraform(FIXTURES / "module-based")
    config = imported.config
    assert imported.api == "module.ws.aws_apigatewayv2_api.this"
    assert config.stage == "staging"
    functions = {
        key: (
            r.function.handler,
            r.function.code_uri,
            r.function.timeout,
            dict(r.function.environment),
        )
        for key, r in config.routes.items()
        if r.function is not None
    }
    connection = {"TOPIC_PREFIX": "notifier/staging", "FUNCTION": "connection"}
    message = {"TOPIC_PREFIX": "notifier/staging", "FUNCTION": "message"}
    assert functions == {
        # handler: optional(string, "app.handler"); timeout: the largest of its routes'.
        "$connect": ("app.handler", Path("src/connection"), 10.0, connection),
        "$disconnect": ("app.handler", Path("src/connection"), 10.0, connection),
        "subscribe": ("app.handler", Path("src/message"), 20.0, message),
        "$default": ("app.handler", Path("src/message"), 20.0, message),
    }


# Variables


MAIN = """
variable "stage" {
  type    = string
  default = "from-default"
}

variable "settings" {
  type = object({
    timeout = number
    label   = optional(string, "none")
  })
  default = { timeout = 3 }
}

resource "aws_apigatewayv2_api" "ws" {
  name                       = "ws"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_stage" "ws" {
  api_id = aws_apigatewayv2_api.ws.id
  name   = var.stage
}

data "archive_file" "code" {
  type        = "zip"
  source_dir  = "${path.module}/src"
  output_path = "${path.module}/code.zip"
}

resource "aws_lambda_function" "f" {
  function_name = "f"
  filename      = data.archive_file.code.output_path
  handler       = "app.handler"
  runtime       = "python3.12"
  timeout       = var.settings.timeout

  environment {
    variables = {
      LABEL    = var.settings.label
      CALLBACK = aws_apigatewayv2_stage.ws.invoke_url
      %s
    }
  }
}

resource "aws_apigatewayv2_integration" "f" {
  api_id           = aws_apigatewayv2_api.ws.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.f.invoke_arn
}

resource "aws_apigatewayv2_route" "default" {
  api_id    = aws_apigatewayv2_api.ws.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.f.id}"
}
"""


def configuration(tmp_path: Path, extra_variables: str = "") -> Path:
    """A folder holding MAIN (with ``extra_variables`` in the function's environment)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "main.tf").write_text(MAIN % extra_variables)
    return tmp_path


@pytest.mark.parametrize(
    ("sources", "stage"),
    [
        pytest.param({}, "from-default", id="default"),
        pytest.param({"environ": {"TF_VAR_stage": "from-env"}}, "from-env", id="TF_VAR"),
        pytest.param({"tfvars": True}, "from-tfvars", id="terraform.tfvars"),
        pytest.param({"tfvars": True, "auto": True}, "from-auto", id="auto.tfvars-over-tfvars"),
        pytest.param({"auto": True, "file": True}, "from-file", id="var-file-over-auto"),
        pytest.param({"file": True, "var": True}, "from-var", id="var-over-var-file"),
    ],
)
def test_variables_take_their_values_as_terraform_does(
    tmp_path: Path, sources: dict[str, Any], stage: str
) -> None:
    folder = configuration(tmp_path)
    if sources.get("tfvars"):
        (folder / "terraform.tfvars").write_text('stage = "from-tfvars"\n')
    if sources.get("auto"):
        (folder / "x.auto.tfvars").write_text('stage = "from-auto"\n')
    var_files = []
    if sources.get("file"):
        (tmp_path / "given.tfvars").write_text('stage = "from-file"\n')
        var_files.append(tmp_path / "given.tfvars")
    imported = load_terraform(
        folder,
        variables={"stage": "from-var"} if sources.get("var") else None,
        var_files=var_files,
        environ=sources.get("environ"),
    )
    assert imported.config.stage == stage


def test_a_variable_of_another_type_is_read_as_hcl(tmp_path: Path) -> None:
    imported = load_terraform(
        configuration(tmp_path), variables={"settings": '{ timeout = 7, label = "seven" }'}
    )
    route = imported.config.routes["$default"]
    assert route.function.timeout == 7.0
    assert route.function.environment["LABEL"] == "seven"


def test_optional_attributes_get_their_defaults(tmp_path: Path) -> None:
    route = load_terraform(configuration(tmp_path)).config.routes["$default"]
    assert route.function.environment["LABEL"] == "none"  # optional(string, "none")


def test_a_reference_to_the_api_itself_resolves_to_the_emulators(tmp_path: Path) -> None:
    folder = configuration(tmp_path)
    unbound = load_terraform(folder)
    assert "CALLBACK" not in unbound.config.routes["$default"].function.environment
    assert (
        f"{folder}/main.tf:40: aws_lambda_function.f.environment.variables.CALLBACK:"
        " '${aws_apigatewayv2_stage.ws.invoke_url}' is only known once deployed; it is not set"
    ) in unbound.warnings
    bound = load_terraform(folder, api_id="abcdef1234")
    callback = bound.config.routes["$default"].function.environment["CALLBACK"]
    assert callback == "wss://abcdef1234.execute-api.us-east-1.amazonaws.com/from-default"


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        pytest.param(
            "ARN = aws_lambda_function.f.arn",
            "ARN: '${aws_lambda_function.f.arn}' is only known once deployed; it is not set",
            id="computed-attribute",
        ),
        pytest.param(
            'HASH = filebase64sha256("code.zip")',
            "HASH: cannot be evaluated locally (filebase64sha256() is not evaluated locally);"
            " it is not set",
            id="plan-time-function",
        ),
        pytest.param(
            "NEEDED = var.needed",
            "NEEDED: cannot be evaluated locally (variable 'needed' has no value (give it with"
            " --var needed=VALUE or in a .tfvars file)); it is not set",
            id="variable-without-value",
        ),
    ],
)
def test_what_is_not_known_locally_is_reported_and_left_unset(
    tmp_path: Path, extra: str, warning: str
) -> None:
    folder = configuration(tmp_path, extra)
    (folder / "needed.tf").write_text('variable "needed" {\n  type = string\n}\n')
    imported = load_terraform(folder)
    environment = imported.config.routes["$default"].function.environment
    assert extra.split(" ")[0] not in environment
    assert any(w.endswith(warning) for w in imported.warnings), imported.warnings


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        pytest.param(
            lambda text: text.replace('route_key = "$default"', 'route_key "$default"'),
            # A missing `=` reads as a block header: the error is on the next line, as in Terraform.
            "main.tf: invalid HCL at line 57, column 3: unexpected 'target'",
            id="syntax",
        ),
        pytest.param(
            lambda text: text.replace('handler       = "app.handler"', "handler = var.nope"),
            "main.tf:35: aws_lambda_function.f.handler: var.nope is not declared",
            id="undeclared-variable",
        ),
        pytest.param(
            lambda text: text.replace("name   = var.stage", 'name   = var.stage\n  name = "x"'),
            "main.tf:24: attribute 'name' is given twice",
            id="duplicate-attribute",
        ),
        pytest.param(
            lambda text: text.replace(
                'protocol_type              = "WEBSOCKET"', 'protocol_type = "HTTP"'
            ),
            'no WebSocket API: expected an aws_apigatewayv2_api with protocol_type = "WEBSOCKET"',
            id="no-websocket-api",
        ),
        pytest.param(
            lambda text: text.replace("timeout       = var.settings.timeout", "timeout = local.t"),
            "main.tf:37: aws_lambda_function.f.timeout: local.t is not declared",
            id="undeclared-local",
        ),
    ],
)
def test_mistakes_are_reported_at_their_file_and_line(
    tmp_path: Path, edit: Any, problem: str
) -> None:
    folder = configuration(tmp_path)
    (folder / "main.tf").write_text(edit((folder / "main.tf").read_text()))
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert str(raised.value).endswith(problem), str(raised.value)


AUTHORIZER = """
resource "aws_lambda_function" "auth" {
  function_name = "auth"
  filename      = data.archive_file.code.output_path
  handler       = "app.handler"
  runtime       = "python3.12"
  memory_size   = %s
}

resource "aws_apigatewayv2_authorizer" "auth" {
  api_id           = aws_apigatewayv2_api.ws.id
  name             = "auth"
  authorizer_type  = "REQUEST"
  authorizer_uri   = aws_lambda_function.auth.invoke_arn
  identity_sources = ["route.request.header.Auth"]
}

resource "aws_apigatewayv2_route" "connect" {
  api_id             = aws_apigatewayv2_api.ws.id
  route_key          = "$connect"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.auth.id
  target             = "integrations/${aws_apigatewayv2_integration.f.id}"
}
"""


def test_an_authorizers_function_keeps_its_settings_and_their_lines(tmp_path: Path) -> None:
    """The authorizer's function is read as any other: its memory size, and a
    mistake in it reported at its own file and line."""
    folder = configuration(tmp_path)
    (folder / "auth.tf").write_text(AUTHORIZER % "512")
    authorizer = load_terraform(folder).config.authorizer
    assert authorizer is not None
    assert authorizer.function.memory_size == 512
    (folder / "auth.tf").write_text(AUTHORIZER % "64")
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert str(raised.value).endswith(
        f"{folder / 'auth.tf'}:2: aws_lambda_function.auth: must be a whole number of MB"
        " from 128 to 10240 (Lambda's MemorySize), got 64"
    )


def _with_memory(folder: Path, written: str) -> None:
    main = folder / "main.tf"
    runtime = 'runtime       = "python3.12"'
    main.write_text(main.read_text().replace(runtime, f"{runtime}\n  memory_size   = {written}"))


@pytest.mark.parametrize(("written", "megabytes"), [("256", 256), ('"256"', 256), ("512 / 2", 256)])
def test_memory_size_is_read_as_terraform_converts_it(
    tmp_path: Path, written: str, megabytes: int
) -> None:
    folder = configuration(tmp_path)
    _with_memory(folder, written)
    assert load_terraform(folder).config.routes["$default"].function.memory_size == megabytes


def test_a_memory_size_that_is_no_number_is_refused_at_its_line(tmp_path: Path) -> None:
    # It was taken for Lambda's default, 128 MB, without a word.
    folder = configuration(tmp_path)
    _with_memory(folder, '"lots"')
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert str(raised.value).endswith(
        "main.tf:37: aws_lambda_function.f.memory_size: must be a whole number of MB, got 'lots'"
    ), str(raised.value)


ROUTE_WITH_COUNT = """
variable "n" {
  default = 3
}

resource "aws_apigatewayv2_route" "counted" {
  count     = %s
  api_id    = aws_apigatewayv2_api.ws.id
  route_key = "r${count.index}"
  target    = "integrations/${aws_apigatewayv2_integration.f.id}"
}
"""


@pytest.mark.parametrize(
    ("count", "routes"),
    [("var.n - 1", 2), ("var.n * 2 / 3", 2), ('"1"', 1), ("0", 0)],
    ids=["number", "whole-quotient", "string", "zero"],
)
def test_count_takes_whole_numbers_as_terraform_does(
    tmp_path: Path, count: str, routes: int
) -> None:
    folder = configuration(tmp_path)
    (folder / "count.tf").write_text(ROUTE_WITH_COUNT % count)
    config = load_terraform(folder).config
    assert [key for key in config.routes if key.startswith("r")] == [f"r{n}" for n in range(routes)]


@pytest.mark.parametrize("count", ["var.n / 2", "-1", "true", '"two"'])
def test_a_count_that_is_no_whole_number_is_refused_at_its_line(tmp_path: Path, count: str) -> None:
    folder = configuration(tmp_path)
    (folder / "count.tf").write_text(ROUTE_WITH_COUNT % count)
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert f"{folder / 'count.tf'}:7: count must be a whole number, 0 or more" in str(raised.value)


@pytest.mark.parametrize(
    ("file", "text", "problem"),
    [
        pytest.param(
            "terraform.tfvars.json",
            "[" * 5000 + "]" * 5000,
            "terraform.tfvars.json: cannot read the variables (nested deeper than 100 levels"
            " at line 1, column 101)",
            id="tfvars-json",
        ),
        pytest.param(
            "deep.tf",
            "locals {\n  deep = " + "[" * 3000 + "]" * 3000 + "\n}\n",
            "deep.tf:2: expressions nested deeper than 100 levels",
            id="hcl",
        ),
        pytest.param(
            None,
            'DEEP = jsonencode(jsondecode("' + "[" * 5000 + "]" * 5000 + '"))',
            "aws_lambda_function.f.environment.variables: jsondecode(): nested deeper than"
            " 100 levels at line 1, column 101",
            id="jsondecode",
        ),
        pytest.param(
            None,
            'BIG = file("big.txt")',
            "aws_lambda_function.f.environment.variables: file(): ",
            id="file-over-4-MiB",
        ),
    ],
)
def test_hostile_files_get_a_clear_error(
    tmp_path: Path, file: str | None, text: str, problem: str
) -> None:
    """Nesting that Python's parsers would meet as a RecursionError, and files past
    the size any configuration file may have, are refused with where and why
    (``file`` None: ``text`` is a variable of the function's environment)."""
    folder = configuration(tmp_path, text if file is None else "")
    if file is not None:
        (folder / file).write_text(text)
    (folder / "big.txt").write_text("y" * ((4 << 20) + 1))
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert problem in str(raised.value), str(raised.value)


def test_a_function_of_another_runtime_is_skipped(tmp_path: Path) -> None:
    folder = configuration(tmp_path)
    text = (
        (folder / "main.tf")
        .read_text()
        .replace('runtime       = "python3.12"', 'runtime = "nodejs22.x"')
    )
    (folder / "main.tf").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_terraform(folder)
    assert "(skipped: $default: function aws_lambda_function.f has runtime 'nodejs22.x'" in str(
        raised.value
    )


def test_several_apis_need_a_choice(tmp_path: Path) -> None:
    folder = configuration(tmp_path)
    (folder / "other.tf").write_text(
        'resource "aws_apigatewayv2_api" "other" {\n'
        '  name          = "o"\n'
        '  protocol_type = "WEBSOCKET"\n'
        "}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"2 WebSocket APIs \(aws_apigatewayv2_api.ws, aws_apigatewayv2_api.other\)",
    ):
        load_terraform(folder)
    assert load_terraform(folder, api="ws").api == "aws_apigatewayv2_api.ws"


def test_a_folder_without_tf_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no \.tf file"):
        load_terraform(tmp_path)


# The command line


def test_check_lists_the_routes_of_a_terraform_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # boto3 resources at import
    assert main(["check", "--terraform", str(FIXTURES / "chat"), "--var", "stage_name=dev"]) == 0
    captured = capsys.readouterr()
    assert "ok, stage 'dev'" in captured.out
    assert "MOCK" in captured.out
    assert "connections are not authorized locally" in captured.err


def test_var_needs_terraform(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--var", "a=b"])
    assert exit_info.value.code == 2
    assert "--var and --var-file need --terraform" in capsys.readouterr().err


# Served: the tutorial's chat, two clients


async def test_the_chat_app_serves_two_clients(local_dynamodb: LocalDynamoDB) -> None:
    imported = load_terraform(FIXTURES / "chat")
    # The table dynamodb.tf declares, under the name the configuration gives it.
    table = imported.config.routes["$connect"].function.environment["TABLE_NAME"]
    local_dynamodb.create_table(table, "connectionId")

    async with Harness(Emulator(imported.config, host="127.0.0.1", port=0)) as harness:
        ann = await harness.connect(query={"user": "ann"})
        bob = await harness.connect(query={"user": "bob"})
        stored = {item["connectionId"] for item in local_dynamodb.items(table)}
        assert stored == {ann.connection_id, bob.connection_id}

        await ann.send_json({"action": "sendmessage", "data": "hello, bob"})
        expected = {"type": "message", "from": ann.connection_id, "data": "hello, bob"}
        assert await bob.receive_json() == expected
        assert await ann.receive_json() == expected

        await bob.send_json({"action": "typing"})  # for_each: the same function, another route
        assert await ann.receive_json() == {"type": "typing", "from": bob.connection_id}
        assert await bob.receive_json() == {"type": "typing", "from": bob.connection_id}

        await ann.send_json({"action": "ping"})  # MOCK, two-way, with a heredoc template
        pong = await ann.receive_json()
        assert pong == {"action": "pong", "connectionId": ann.connection_id, "stage": "prod"}

        await bob.send_json({"action": "unknown"})  # $default: get_connection, then post
        hint = await bob.receive_json()
        assert hint["message"] == "SIMPLECHAT: use the sendmessage route to send a message."
        assert hint["connectionInfo"]["Identity"]["SourceIp"] == "127.0.0.1"

        await ann.close()
        await harness.record.wait_for_invocations("$disconnect")
        assert [item["connectionId"] for item in local_dynamodb.items(table)] == [bob.connection_id]


async def test_an_edited_tf_file_reloads_the_api(tmp_path: Path) -> None:
    folder = configuration(tmp_path)
    emulator = Emulator(load_terraform(folder).config, host="127.0.0.1", port=0)
    async with Harness(emulator):
        reloader = Reloader(emulator, folder, load=lambda: load_terraform(folder).config)
        (folder / "notes.txt").write_text("not Terraform")
        assert reloader.apply([folder / "notes.txt"]) is False
        (folder / "stage.auto.tfvars").write_text('stage = "edited"\n')
        assert reloader.apply([folder / "stage.auto.tfvars"]) is True
        assert emulator.config.stage == "edited"


ECHO_CLIENT = """
import asyncio, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1]) as ws:
        await ws.send("hello")
        print(await asyncio.wait_for(ws.recv(), 20))
asyncio.run(main())
"""


def test_serve_a_terraform_configuration(tmp_path: Path) -> None:
    """The real command: `serve --terraform DIR` answers a client, and stops on SIGTERM."""
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--terraform", str(FIXTURES / "minimal"),
         "--port", "0", "--no-reload", "--no-inspector"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.endswith("/dev")  # the stage's name
            echoed = subprocess.run(
                [sys.executable, "-c", ECHO_CLIENT, url],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            assert echoed.strip() == "hello"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert process.returncode == 0
