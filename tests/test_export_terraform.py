"""``apigw-ws export --format terraform``: a .tf file that parses and loads back.

Each case of the SAM export's tests is exported into its own folder (where its
code folders are), parsed back by python-hcl2, and imported back with
:func:`emulator.model.templates.load_terraform` to the same routes. Whether
Terraform's AWS provider accepts it (``terraform validate``) is checked where
a ``terraform`` binary and its providers are at hand.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.model.api import ApiConfig
from emulator.model.templates import load_terraform
from emulator.model.templates.terraform.hcl import parse_file
from emulator.tools.cli import main
from emulator.tools.export.terraform import export_terraform
from tests.test_export import CASES, route_facts

FIXTURES = Path(__file__).parent / "fixtures" / "terraform"


def terraform_chat(base_dir: Path) -> ApiConfig:
    """The Terraform chat imported: backend routes, a MOCK two-way route, stage variables.

    Its own .tf files are removed once read: only the export is read back.
    """
    shutil.copytree(FIXTURES / "chat", base_dir, dirs_exist_ok=True)
    config = load_terraform(base_dir).config
    for path in [*base_dir.glob("*.tf"), base_dir / "terraform.tfvars"]:
        path.unlink()
    return config


ALL_CASES = {**CASES, "terraform-chat-imported": terraform_chat}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ApiConfig, Path]]:
    results = {}
    for case, make in ALL_CASES.items():
        folder = tmp_path_factory.mktemp(case)
        config = make(folder)
        path = Path(config.base_dir) / "main.tf"
        path.write_text(export_terraform(config), encoding="utf-8")
        results[case] = (config, path)
    return results


@pytest.mark.parametrize("case", ALL_CASES)
def test_the_export_parses(case: str, exported: dict[str, tuple[ApiConfig, Path]]) -> None:
    _, path = exported[case]
    body = parse_file(path, str(path))
    kinds = {block.labels[0] for block in body.blocks if block.type == "resource"}
    assert {"aws_apigatewayv2_api", "aws_apigatewayv2_stage", "aws_lambda_function"} <= kinds


@pytest.mark.parametrize("case", ALL_CASES)
def test_round_trip(case: str, exported: dict[str, tuple[ApiConfig, Path]]) -> None:
    original, path = exported[case]

    imported = load_terraform(path.parent)
    config = imported.config

    assert route_facts(config) == route_facts(original)
    assert list(config.routes) == list(original.routes)
    assert config.stage == original.stage
    assert config.stage_variables == original.stage_variables
    assert config.route_selection_expression == original.route_selection_expression
    assert config.authorization_type == original.authorization_type
    if original.authorizer is None:
        assert config.authorizer is None
    else:
        assert config.authorizer is not None
        assert config.authorizer.identity_source == original.authorizer.identity_source
        mine, theirs = config.authorizer.function, original.authorizer.function
        assert (mine.handler, mine.code_uri, mine.environment) == (
            theirs.handler,
            theirs.code_uri,
            theirs.environment,
        )
    assert (imported.skipped, imported.warnings) == ((), ())


TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")
@pytest.mark.parametrize("case", ALL_CASES)
def test_terraforms_own_parser_reads_the_export(
    case: str, exported: dict[str, tuple[ApiConfig, Path]]
) -> None:
    """`terraform fmt` parses with HashiCorp's HCL parser, offline."""
    assert TERRAFORM is not None
    _, path = exported[case]
    done = subprocess.run(
        [TERRAFORM, "fmt", "-no-color", "-"],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")
def test_terraform_validates_the_export(exported: dict[str, tuple[ApiConfig, Path]]) -> None:
    """`terraform validate` needs the AWS and archive providers from the Terraform registry."""
    assert TERRAFORM is not None
    _, path = exported["project-routes-yaml"]
    init = subprocess.run(
        [TERRAFORM, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if init.returncode != 0 and "could not connect to registry" in init.stderr:
        pytest.skip("the Terraform registry is out of reach: providers cannot be installed")
    assert init.returncode == 0, init.stderr
    done = subprocess.run(
        [TERRAFORM, "validate", "-no-color"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_export_format_terraform_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).parent.parent
    assert main(["export", "--format", "terraform", str(root / "routes.yaml")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Generated by `apigw-ws export --format terraform`")
    assert 'resource "aws_apigatewayv2_route" "sendmessage"' in text
    # The default app's table, its name in every function, and the role's access to it.
    assert 'resource "aws_dynamodb_table" "connections_table"' in text
    assert '"TABLE_NAME" = "${aws_dynamodb_table.connections_table.name}"' in text
    assert '"Action" = ["dynamodb:*"]' in text
