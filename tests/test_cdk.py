"""A synthesized CDK app (cdk.out) imported and served.

``tests/fixtures/cdk/cdk.out`` is what the real ``cdk synth`` wrote for the app
in ``tests/fixtures/cdk/app`` (``regenerate.sh`` writes it again): the API
Gateway tutorial's chat, with a Lambda authorizer, a DynamoDB table, two
functions sharing one asset folder, and a second stack whose bucket one
function names (a cross-stack reference).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.errors import ConfigError
from emulator.model.templates import load_cdk, load_template
from emulator.tools.cli import main
from emulator.tools.reload import Reloader
from emulator.tools.testing import Harness

CDK_OUT = Path(__file__).parent / "fixtures" / "cdk" / "cdk.out"
STACK = "WebSocketChatStack.template.json"
TABLE = "ConnectionsTable8000B8A1"
BUCKET = "StaticBucket92253581"
ASSET_CONNECT = "asset.7b099fb4f9241dbdffbd02046f2915caf5f38ad38f8aa8fc48c27bd5aa97d8e0"
ASSET_CHAT = "asset.7760305e487ef2edb1a7953998d95c386de5d4f1ab890e0659e6b966544cbfdb"
ASSET_AUTHORIZER = "asset.ed3aef53e2904cc7d61d903f03f3eef7eecd85ecf302be4394c5203d6a8539d9"


@pytest.fixture(autouse=True)
def forget_imported_handlers() -> Iterator[None]:
    """The chat's modules (`app`, `chat`) are imported by their bare names: forget them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_the_stack_with_the_websocket_api_is_found_and_read() -> None:
    imported = load_cdk(CDK_OUT)
    config = imported.config

    assert (imported.api, imported.name) == ("ChatApiD29796E1", "cdk-chat")
    assert config.source == str(CDK_OUT / STACK)
    assert config.stage == "prod"
    assert config.route_selection_expression.source == "$request.body.action"
    assert dict(config.stage_variables) == {"greeting": "hello", "tableName": "connections"}
    assert imported.skipped == ()

    routes = {
        key: (route.function.handler, route.function.code_uri, route.function.timeout)
        for key, route in config.routes.items()
        if route.function is not None
    }
    assert routes == {
        "$connect": ("app.handler", Path(ASSET_CONNECT), 10.0),  # Timeout: 10
        "$disconnect": ("app.handler", Path(routes["$disconnect"][1]), 3.0),  # Lambda's default
        # Two functions, one asset folder, two handlers; the function's own Timeout: 30 s.
        "sendmessage": ("chat.on_message", Path(ASSET_CHAT), 30.0),
        "$default": ("chat.on_default", Path(ASSET_CHAT), 3.0),
    }
    # API Gateway waits 29 s at most, whatever the function's timeout.
    assert {route.timeout for route in config.routes.values()} == {29.0}
    assert imported.functions["sendmessage"] == "SendMessageHandlerDCEABF13"


def test_environments_resolve_tables_and_other_stacks_outputs() -> None:
    imported = load_cdk(CDK_OUT)
    routes = imported.config.routes

    # table.table_name is `Ref` to a table without a name: its logical id stands for it.
    assert routes["$connect"].function.environment == {"TABLE_NAME": TABLE, "APP_NAME": "cdk-chat"}
    # The other stack's bucket, through Fn::GetStackOutput and that stack's Outputs;
    # lower case, as bucket names are (and as --mock-aws names an unnamed bucket).
    assert routes["$default"].function.environment == {
        "TABLE_NAME": TABLE,
        "APP_NAME": "cdk-chat",
        "ASSETS_BUCKET": BUCKET.lower(),
    }
    assert imported.warnings[-1] == (
        "ChatAssetsStack.template.json: Outputs.PublishOutputRefStaticBucket922535810D07FD12.Value:"
        f" Ref {BUCKET} is only known once deployed; {BUCKET.lower()!r} stands for it locally"
    )
    # The stack's own table is one --mock-aws creates, under that name: no stand-in.
    assert imported.config.resources[TABLE].name == TABLE
    assert not [warning for warning in imported.warnings if "TABLE_NAME" in warning]


def test_the_lambda_authorizer_guards_connect() -> None:
    authorizer = load_cdk(CDK_OUT).config.authorizer
    assert authorizer is not None
    assert authorizer.identity_source == ("route.request.querystring.token",)
    assert authorizer.function.handler == "app.handler"
    assert authorizer.function.code_uri == Path(ASSET_AUTHORIZER)
    assert authorizer.function.environment == {"CHAT_TOKEN": "letmein"}


@pytest.mark.parametrize(
    "stack", ["WebSocketChatStack", "Dev/WebSocketChatStack"], ids=["artifact-id", "path"]
)
def test_a_stack_is_chosen_by_name(stack: str, tmp_path: Path) -> None:
    """By artifact id, stack name or construct path (displayName), as `cdk deploy` takes."""
    nested = _nested_copy(tmp_path)
    imported = load_cdk(nested, stack=stack if "/" in stack else "Dev-WebSocketChatStack")
    assert imported.config.stage == "prod"
    assert imported.config.routes["sendmessage"].function.code_uri == Path("..") / ASSET_CHAT


def test_the_template_of_a_stack_is_the_same_api() -> None:
    """`--template cdk.out/STACK.template.json` reads it with its sibling stacks at hand."""
    by_template = load_template(CDK_OUT / STACK)
    by_assembly = load_cdk(CDK_OUT)
    assert by_template.config == by_assembly.config
    assert by_template.warnings == by_assembly.warnings


@pytest.mark.parametrize("by", ["cdk-out", "template"])
def test_the_region_served_is_the_stacks_aws_region(tmp_path: Path, by: str) -> None:
    """``--region`` (else ``AWS_REGION``) is ``AWS::Region`` in a stack of a cloud
    assembly, read whole or by its template, as in any other template."""
    out = _copy(tmp_path)
    _edit_default_environment(out, {"REGION": {"Ref": "AWS::Region"}})
    if by == "cdk-out":
        imported = load_cdk(out, region="eu-west-2")
        default = load_cdk(out)
    else:
        imported = load_template(out / STACK, region="eu-west-2")
        default = load_template(out / STACK)
    assert imported.config.routes["$default"].function.environment["REGION"] == "eu-west-2"
    assert default.config.routes["$default"].function.environment["REGION"] == "us-east-1"


def test_a_template_taken_out_of_its_assembly_says_what_it_cannot_resolve(
    tmp_path: Path,
) -> None:
    shutil.copytree(CDK_OUT / ASSET_CHAT, tmp_path / ASSET_CHAT)
    for asset in (ASSET_CONNECT, ASSET_AUTHORIZER):
        shutil.copytree(CDK_OUT / asset, tmp_path / asset)
    template = json.loads((CDK_OUT / STACK).read_text(encoding="utf-8"))
    disconnect = template["Resources"]["DisconnectHandlerCB7ED6F7"]["Metadata"]["aws:asset:path"]
    shutil.copytree(CDK_OUT / disconnect, tmp_path / disconnect)
    (tmp_path / STACK).write_text(json.dumps(template), encoding="utf-8")

    imported = load_template(tmp_path / STACK)

    assert "ASSETS_BUCKET" not in imported.config.routes["$default"].function.environment
    assert (
        "Resources.DefaultHandler604DF7AC.Properties.Environment.Variables.ASSETS_BUCKET:"
        " cannot be resolved locally (Fn::GetStackOutput"
        " 'PublishOutputRefStaticBucket922535810D07FD12' is an output of stack"
        " 'cdk-chat-assets'); it is not set"
    ) in imported.warnings


def test_strong_cross_stack_references_resolve_through_exports(tmp_path: Path) -> None:
    """Apps without weak references get Fn::ImportValue of the other stack's Export."""
    out = _copy(tmp_path)
    assets = json.loads((out / "ChatAssetsStack.template.json").read_text(encoding="utf-8"))
    assets["Outputs"]["ExportsOutputRefStaticBucket"] = {
        "Value": {"Ref": BUCKET},
        "Export": {"Name": "cdk-chat-assets:ExportsOutputRefStaticBucket"},
    }
    (out / "ChatAssetsStack.template.json").write_text(json.dumps(assets), encoding="utf-8")
    _edit_default_environment(
        out, {"ASSETS_BUCKET": {"Fn::ImportValue": "cdk-chat-assets:ExportsOutputRefStaticBucket"}}
    )
    environment = load_cdk(out).config.routes["$default"].function.environment
    assert environment["ASSETS_BUCKET"] == BUCKET.lower()


@pytest.mark.parametrize(
    ("value", "warning"),
    [
        pytest.param(
            {"Fn::ImportValue": "nobody-exports-this"},
            "no stack of the cloud assembly exports 'nobody-exports-this'",
            id="unknown-export",
        ),
        pytest.param(
            {"Fn::GetStackOutput": {"StackName": "cdk-chat-assets", "OutputName": "Nope"}},
            "stack 'cdk-chat-assets' has no output 'Nope'",
            id="unknown-output",
        ),
        pytest.param(
            {"Fn::GetStackOutput": {"StackName": "elsewhere", "OutputName": "X"}},
            "no stack named 'elsewhere' in the cloud assembly",
            id="unknown-stack",
        ),
    ],
)
def test_what_no_stack_provides_is_reported_and_left_unset(
    tmp_path: Path, value: dict[str, Any], warning: str
) -> None:
    out = _copy(tmp_path)
    _edit_default_environment(out, {"ASSETS_BUCKET": value})
    imported = load_cdk(out)
    assert "ASSETS_BUCKET" not in imported.config.routes["$default"].function.environment
    assert any(
        w.endswith(f"ASSETS_BUCKET: cannot be resolved locally ({warning}); it is not set")
        for w in imported.warnings
    ), imported.warnings


@pytest.mark.parametrize(
    ("arrange", "problem"),
    [
        pytest.param(
            lambda out: (out / "manifest.json").unlink(),
            "no manifest.json: not a synthesized CDK app (run `cdk synth`, which writes cdk.out)",
            id="not-synthesized",
        ),
        pytest.param(
            lambda out: shutil.rmtree(out / ASSET_CHAT),
            f"Metadata.aws:asset:path: the code asset {ASSET_CHAT!r} is not in",
            id="asset-missing",
        ),
        pytest.param(
            lambda out: (out / STACK).unlink(),
            "file not found",
            id="template-missing",
        ),
    ],
)
def test_a_broken_cloud_assembly_is_reported(tmp_path: Path, arrange: Any, problem: str) -> None:
    out = _copy(tmp_path)
    arrange(out)
    with pytest.raises(ConfigError) as raised:
        load_cdk(out)
    assert problem in str(raised.value)


def test_the_stack_must_be_named_when_several_have_an_api(tmp_path: Path) -> None:
    out = _copy(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    second = dict(manifest["artifacts"]["WebSocketChatStack"], displayName="SecondChat")
    manifest["artifacts"]["SecondChat"] = second
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_cdk(out)
    assert str(raised.value).endswith(
        "2 stacks declare a WebSocket API (WebSocketChatStack, SecondChat); choose one with --stack"
    )
    assert load_cdk(out, stack="SecondChat").config.stage == "prod"
    with pytest.raises(ConfigError, match=r"no stack 'Nope' in the cloud assembly \(its stacks:"):
        load_cdk(out, stack="Nope")
    with pytest.raises(ConfigError, match="no WebSocket API in the template"):
        load_cdk(out, stack="cdk-chat-assets")


def test_check_lists_the_routes_of_a_cdk_app(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # boto3 resources at import
    assert main(["check", "--cdk-out", str(CDK_OUT)]) == 0
    captured = capsys.readouterr()
    assert "chat.on_message" in captured.out
    assert f"{BUCKET.lower()!r} stands for it locally" in captured.err  # another stack's


def test_stack_needs_cdk_out(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--stack", "WebSocketChatStack"])
    assert exit_info.value.code == 2
    assert "--stack needs --cdk-out" in capsys.readouterr().err


# Served: the tutorial's chat, two clients


async def test_the_chat_app_serves_two_clients() -> None:
    imported = load_cdk(CDK_OUT)
    # The table the stack declares, created in-process under the name its functions see.
    emulator = Emulator(imported.config, host="127.0.0.1", port=0, mock_aws=True)
    async with Harness(emulator) as harness:
        assert await harness.connect_rejected(query={"token": "wrong"}) == 403
        ann = await harness.connect(query={"token": "letmein", "user": "ann"})
        bob = await harness.connect(query={"token": "letmein", "user": "bob"})
        stored = {item["connectionId"]: item["user"] for item in harness.aws.items(TABLE)}
        assert stored == {ann.connection_id: "ann", bob.connection_id: "bob"}

        await ann.send_json({"action": "sendmessage", "message": "hello, bob"})
        assert await bob.receive_text() == "hello, bob"
        assert await ann.receive_text() == "hello, bob"

        await bob.send_json({"action": "whoami"})  # no such route: $default answers
        hint = await bob.receive_json()
        assert hint["connectionId"] == bob.connection_id
        assert (hint["app"], hint["assets"]) == ("cdk-chat", BUCKET.lower())

        await ann.close()
        await harness.record.wait_for_invocations("$disconnect")
        assert [item["connectionId"] for item in harness.aws.items(TABLE)] == [bob.connection_id]


# Assemblies made from the fixture


def _copy(tmp_path: Path) -> Path:
    out = tmp_path / "cdk.out"
    shutil.copytree(CDK_OUT, out)
    return out


def _edit_default_environment(out: Path, variables: dict[str, Any]) -> None:
    template = json.loads((out / STACK).read_text(encoding="utf-8"))
    function = template["Resources"]["DefaultHandler604DF7AC"]["Properties"]
    function["Environment"]["Variables"].update(variables)
    (out / STACK).write_text(json.dumps(template), encoding="utf-8")


def _nested_copy(tmp_path: Path) -> Path:
    """The fixture as `cdk.Stage(app, "Dev")` writes it: the stacks in a nested
    assembly, the assets left in the top-level folder (`"../asset.…"`)."""
    out = _copy(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    nested = out / "assembly-Dev"
    nested.mkdir()
    artifacts: dict[str, Any] = {}
    for artifact_id in ("ChatAssetsStack", "WebSocketChatStack"):
        artifact = manifest["artifacts"].pop(artifact_id)
        template = json.loads((out / f"{artifact_id}.template.json").read_text(encoding="utf-8"))
        for resource in template["Resources"].values():
            metadata = resource.get("Metadata", {})
            if "aws:asset:path" in metadata:
                metadata["aws:asset:path"] = "../" + metadata["aws:asset:path"]
        unique = f"Dev{artifact_id}27EF4D6B"
        (nested / f"{unique}.template.json").write_text(json.dumps(template), encoding="utf-8")
        artifact["properties"]["templateFile"] = f"{unique}.template.json"
        artifact["properties"].setdefault("stackName", f"Dev-{artifact_id}")
        artifact["displayName"] = f"Dev/{artifact_id}"
        artifacts[unique] = artifact
        (out / f"{artifact_id}.template.json").unlink()
    (nested / "manifest.json").write_text(
        json.dumps({"version": manifest["version"], "artifacts": artifacts}), encoding="utf-8"
    )
    manifest["artifacts"]["assembly-Dev"] = {
        "type": "cdk:cloud-assembly",
        "properties": {"directoryName": "assembly-Dev", "displayName": "Dev"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


async def test_a_new_synth_reloads_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # boto3 resources at import
    out = _copy(tmp_path)
    emulator = Emulator(load_cdk(out).config, host="127.0.0.1", port=0)
    async with Harness(emulator):
        watched = emulator.config.source
        reloader = Reloader(emulator, watched, load=lambda: load_cdk(out).config)
        template = json.loads((out / STACK).read_text(encoding="utf-8"))
        template["Resources"]["ProdStage6F7F36FB"]["Properties"]["StageName"] = "beta"
        (out / STACK).write_text(json.dumps(template), encoding="utf-8")  # what `cdk synth` does
        assert reloader.apply([out / STACK]) is True
        assert emulator.config.stage == "beta"
