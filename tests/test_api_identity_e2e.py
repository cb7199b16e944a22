"""The API's identity: its id and region, as handlers see them.

routes.yaml's ``apiId`` and ``region`` and ``serve --api-id --region`` set
what events say (``apiId``, ``domainName``), what functions get
(``AWS_REGION``, their ARN) and the callback URL a module-level client is
built for; a template's API keeps one id from start to start, so a client
created at import for ``https://${Api}.execute-api...`` keeps working.
(A post to another API's host is refused: tests/test_lambda_invoke.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect

from emulator.tools.cli import main
from emulator.tools.testing import Harness
from tests.conftest import HANDLERS
from tests.serving import serving

LAMBDA_ENV = Path(__file__).parent / "fixtures" / "apps" / "lambda_env"
TIMEOUT = 10.0


async def test_routes_yaml_sets_the_api_id_and_region(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")  # the shell's: the API's own wins
    callback_url = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/dev"
    config = {
        "apiId": "abc123defg",
        "region": "eu-west-1",
        "stage": "dev",
        "environment": {"CALLBACK_URL": callback_url},
        "routes": {"$default": "callback_notice.lambda_handler"},
    }
    async with Harness.from_config(config, base_dir=HANDLERS) as api:
        client = await api.connect()
        await client.send_text("where am I?")
        notice = await client.receive_json()
        assert api.emulator.callback_url == callback_url
    # The client the module built at import, for that URL, reached this emulator.
    assert notice == {
        "callback_url": callback_url,
        "region": "eu-west-1",
        "client_region": "eu-west-1",
        "apiId": "abc123defg",
        "domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "arn": "arn:aws:lambda:eu-west-1:000000000000:function:callback_notice-lambda_handler",
    }


# apigw-ws serve, as a user runs it


async def _report_from_serve(
    args: list[str], cwd: Path, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """Serve, connect, ask lambda_env's report function where it runs, stop."""
    environ = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    async with serving(
        [*args, "--port", "0", "--no-reload", "--no-inspector"],
        cwd=cwd,
        log=cwd / "stderr.log",
        env=environ,
    ) as server:
        assert server.url.startswith("ws://127.0.0.1:"), server.errors()
        url = server.url
        if query:
            url += "?" + urlencode(query)
        async with connect(url, open_timeout=TIMEOUT) as client:
            await client.send(json.dumps({"action": "report", "names": ["AWS_REGION"]}))
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(client.recv(), TIMEOUT))
        await server.stop()
        assert server.process.returncode == 0, server.errors()
    return answer


def _where(answer: dict[str, Any]) -> tuple[str, str, str, str]:
    """(apiId, domainName, AWS_REGION at init, AWS_REGION now)."""
    request_context = answer["requestContext"]
    return (
        request_context["apiId"],
        request_context["domainName"],
        answer["init"]["AWS_REGION"],
        answer["invoke"]["AWS_REGION"],
    )


async def test_serve_options_set_the_api_id_and_region_over_routes_yaml(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text(
        "apiId: abc123defg\n"
        "region: eu-west-1\n"
        "environment: {APP_NAME: identity}\n"
        "routes:\n"
        "  report:\n"
        "    handler: report.lambda_handler\n"
        f"    codeUri: {json.dumps(str(LAMBDA_ENV / 'src'))}\n"
        "    routeResponse: true\n",
        encoding="utf-8",
    )
    answer = await _report_from_serve(
        ["routes.yaml", "--api-id", "zz99yy88xx", "--region", "ap-northeast-2"], tmp_path
    )
    assert _where(answer) == (
        "zz99yy88xx",
        "zz99yy88xx.execute-api.ap-northeast-2.amazonaws.com",
        "ap-northeast-2",
        "ap-northeast-2",
    )
    answer = await _report_from_serve(["routes.yaml"], tmp_path)
    assert _where(answer) == (
        "abc123defg",
        "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "eu-west-1",
        "eu-west-1",
    )


async def test_a_templates_api_keeps_its_id_from_start_to_start(tmp_path: Path) -> None:
    template = ["--template", str(LAMBDA_ENV / "template.yaml")]
    token = {"token": "let-me-in"}
    first = await _report_from_serve(template, tmp_path, token)
    second = await _report_from_serve(template, tmp_path, token)
    api_id = first["requestContext"]["apiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert (
        _where(first)
        == _where(second)
        == (
            api_id,
            f"{api_id}.execute-api.us-east-1.amazonaws.com",  # no AWS_REGION in the shell
            "us-east-1",
            "us-east-1",
        )
    )
    pinned = await _report_from_serve([*template, "--api-id", "qq11ww22ee"], tmp_path, token)
    assert _where(pinned)[0] == "qq11ww22ee"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        pytest.param(
            ["serve", "--api-id", "Not/An.Id"],
            "argument --api-id: an API id is 10 of a-z 0-9, such as 'a1b2c3d4e5', got 'Not/An.Id'",
            id="serve-api-id",
        ),
        pytest.param(
            ["serve", "--api-id", "abc"],
            "argument --api-id: an API id is 10 of a-z 0-9, such as 'a1b2c3d4e5', got 'abc'",
            id="serve-short-api-id",
        ),
        pytest.param(
            ["serve", "--region", "Moon Base"],
            "argument --region: a region is such as 'eu-west-1', got 'Moon Base'",
            id="serve-region",
        ),
        pytest.param(
            ["check", "--region", "eu_west_1"],
            "argument --region: a region is such as 'eu-west-1', got 'eu_west_1'",
            id="check-region",
        ),
    ],
)
def test_a_bad_api_id_or_region_on_the_command_line_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n  $default: nowhere.handler\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main([*args, str(routes)])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == f"apigw-ws {args[0]}: error: {problem}"
