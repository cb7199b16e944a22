"""serve/check --template and export, through the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.model.templates import load_template
from emulator.tools.cli import main
from tests.conftest import ROOT

TEMPLATES = ROOT / "tests" / "fixtures" / "templates"


@pytest.fixture(autouse=True)
def forget_imported_handlers() -> Iterator[None]:
    """In-process commands import the fixtures' handler modules (`app`...):
    forget them, so that other tests import their own."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if Path(file).resolve().is_relative_to(TEMPLATES):
            del sys.modules[name]  # not botocore, which keeps the emulator's hooks


def test_check_a_sam_template_lists_its_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--template", str(TEMPLATES / "sam_chat" / "template.yaml")]) == 0
    captured = capsys.readouterr()
    for route in ("$connect", "$disconnect", "sendmessage"):
        assert route in captured.out
    # What cannot be known locally is said, not dropped silently.
    assert "is only known once deployed" in captured.err


def test_check_a_template_with_other_runtimes_lists_what_it_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--template", str(TEMPLATES / "mixed_runtimes" / "template.yaml")]) == 0
    assert "apigw-ws: skipped:" in capsys.readouterr().err


def test_a_bad_parameter_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--template", "t.yaml", "--parameter", "novalue"])
    assert exit_info.value.code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_export_writes_a_template_that_imports_to_the_same_routes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(ROOT / "routes.yaml")]) == 0
    exported = tmp_path / "template.yaml"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    # Saved beside routes.yaml, as its header says, its CodeUri folders resolve.
    beside = ROOT / "exported-for-test.yaml"
    try:
        beside.write_text(exported.read_text(encoding="utf-8"), encoding="utf-8")
        imported = load_template(beside)
    finally:
        beside.unlink()
    assert set(imported.config.routes) == {"$connect", "$disconnect", "sendmessage", "$default"}
    assert imported.config.routes["sendmessage"].function.handler == "handlers.chat.send_message"


def test_export_of_a_bad_config_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "routes.yaml"
    bad.write_text("routes: {}\n", encoding="utf-8")
    assert main(["export", str(bad)]) == 2
    assert "routes: must define at least one route" in capsys.readouterr().err


@contextlib.contextmanager
def served(template: Path, tmp_path: Path) -> Iterator[str]:
    """A real `serve --template` process; its URL. It must stop cleanly on SIGTERM."""
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--template", str(template),
         "--port", "0", "--no-reload"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            yield process.stdout.readline().strip()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert process.returncode == 0


def run_client(script: str, url: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def test_serve_a_serverless_project(tmp_path: Path) -> None:
    """A client reaches the function a serverless.yml declares."""
    with served(TEMPLATES / "serverless_single" / "serverless.yml", tmp_path) as url:
        assert url.startswith("ws://127.0.0.1:")
        assert url.endswith("/dev")  # provider.stage defaults to dev
        assert json.loads(run_client(CLIENT, url))["connected"] is True


CLIENT = """
import asyncio, json, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1]) as ws:
        print(json.dumps({"connected": True}))
asyncio.run(main())
"""


def test_serve_resolves_references_to_the_api_itself(tmp_path: Path) -> None:
    """The tutorial's CALLBACK_URL (https://${SimpleChatWebSocket}.execute-api...)
    names the API's own id: served, it is the emulator's, not dropped."""
    with served(TEMPLATES / "sam_chat" / "template.yaml", tmp_path) as url:
        seen = json.loads(run_client(SEND, url))
    callback = seen["environment"]["CALLBACK_URL"]
    # Without the emulator's id it would be left out (None), as `check` says.
    assert re.fullmatch(
        r"https://[a-z0-9]{10}\.execute-api\.us-east-1\.amazonaws\.com/Prod", callback
    )


SEND = """
import asyncio, json, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1]) as ws:
        await ws.send(json.dumps({"action": "sendmessage", "data": "hi"}))
        print(await asyncio.wait_for(ws.recv(), 20))
asyncio.run(main())
"""


MINIMAL_SAM = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    {setting}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {{Name: x, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: ., Handler: {handler}}}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/\
        functions/${{Fn.Arn}}/invocations"
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      {{ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${{Integration}}"}}
"""


@pytest.mark.parametrize(
    ("setting", "handler", "reported"),
    [
        ("Timeout: 1000", "app.handler", "Globals.Function.Timeout: must be a whole number"),
        ("MemorySize: 1", "app.handler", "Globals.Function.MemorySize: must be a whole number"),
        (
            "Timeout: 3",
            "nothere.handler",
            "Resources.Fn.Properties.Handler: function 'Fn': Runtime.ImportModuleError",
        ),
    ],
)
def test_a_templates_errors_are_reported_where_the_template_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, handler: str, reported: str
) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return None\n")
    template = tmp_path / "template.yaml"
    template.write_text(MINIMAL_SAM.format(setting=setting, handler=handler), encoding="utf-8")
    assert main(["check", "--template", str(template)]) == 1
    assert f"apigw-ws: error: {template}: {reported}" in capsys.readouterr().err
