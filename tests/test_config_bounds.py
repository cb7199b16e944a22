"""Hostile or broken configuration: a clear error naming the file and line, never
a hang, an exhausted memory or a RecursionError traceback.

Each case goes through the real command (``python -m emulator``) in its own
process, with a guard: without the bounds, an alias bomb hangs ``serve``,
``check`` and ``export`` (or eats the machine's memory), and that must fail
this test, not hang the run.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.errors import ConfigError
from emulator.model import yaml_files
from emulator.model.bounds import MAX_DEPTH, MAX_FILE_BYTES, json_too_deep
from emulator.model.config import load_config
from emulator.model.yaml_files import read_config_yaml

GUARD = 60.0  # seconds; each case takes well under one
HANDLERS = "def ok(event, context):\n    return {'statusCode': 200}\n"


def laughs(levels: int = 9, indent: str = "") -> str:
    """The billion laughs: nine lines of aliases, 10**9 values once expanded."""
    lines = [f'{indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"{indent}l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    name: str
    file: str  # its name decides how it is read: routes.yaml, template.yaml, ...
    text: str
    problem: str  # what the error says
    line: int | None  # where, when a line is known


SAM_HEAD = (
    'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\n'
    "Resources:\n"
    "  Api:\n    Type: AWS::ApiGatewayV2::Api\n"
    "    Properties: {Name: chat, ProtocolType: WEBSOCKET,"
    " RouteSelectionExpression: $request.body.action}\n"
)


def refs(name: str) -> str:
    return ", ".join([f"!Ref {name}"] * 10)


def sam_with_a_route(variable: str, resources: str = "") -> str:
    """A SAM template serving one route, whose function's variable X is ``variable``."""
    return (
        SAM_HEAD + "  Route:\n    Type: AWS::ApiGatewayV2::Route\n"
        "    Properties: {ApiId: !Ref Api, RouteKey: $default,"
        " Target: !Join [/, [integrations, !Ref Integ]]}\n"
        "  Integ:\n    Type: AWS::ApiGatewayV2::Integration\n"
        "    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !Sub "
        "'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations'}\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: handlers.ok, Runtime: python3.12, CodeUri: .,"
        f" Environment: {{Variables: {{X: {variable}}}}}}}\n" + resources
    )


CASES = [
    Case(
        "routes-alias-bomb-in-a-model-schema",
        "routes.yaml",
        "models:\n  m:\n    schema:\n      type: object\n      properties:\n        x:\n"
        "          enum:\n"
        '            - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
        + "".join(f"            - &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 9))
        + "routes: {$default: handlers.ok}\n",
        "aliases expand the document to more than 200000 values",
        16,
    ),
    Case(
        "routes-deep-flow",
        "routes.yaml",
        "routes: " + "[" * 100_000 + "]" * 100_000 + "\n",
        f"nested deeper than {MAX_DEPTH} levels",
        1,
    ),
    Case(
        "routes-deep-block",
        "routes.yaml",
        "routes:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(150)),
        f"nested deeper than {MAX_DEPTH} levels",
        100,
    ),
    Case(
        "routes-alias-cycle",
        "routes.yaml",
        "routes: &r {$default: handlers.ok, again: *r}\n",
        "an alias refers to a node that contains it",
        1,
    ),
    Case(
        "routes-schema-json-too-deep",
        "routes.yaml",
        "models:\n  m:\n    schema: '" + "[" * 5000 + "]" * 5000 + "'\n"
        "routes: {$default: handlers.ok}\n",
        f"nested deeper than {MAX_DEPTH} levels",
        None,
    ),
    Case(
        "sam-join-of-aliases",
        "template.yaml",
        "Metadata:\n  a0: &a0 lollollollollollollollollollol\n"
        + "".join(
            f"  a{n}: &a{n} !Join ['', [{', '.join([f'*a{n - 1}'] * 10)}]]\n" for n in range(1, 9)
        )
        + sam_with_a_route("*a8"),
        "aliases expand the document to more than 200000 values",
        25,  # the function's variable: the alias that stands for the most
    ),
    Case(
        "sam-names-that-multiply",
        "template.yaml",
        sam_with_a_route(
            "!Ref T9",
            "  T0:\n    Type: AWS::DynamoDB::Table\n    Properties: {TableName: lollollol}\n"
            + "".join(
                f"  T{n}:\n    Type: AWS::DynamoDB::Table\n"
                f"    Properties: {{TableName: !Join ['', [{refs(f'T{n - 1}')}]]}}\n"
                for n in range(1, 10)
            ),
        ),
        "resolving the intrinsic functions takes more than",
        None,
    ),
    Case(
        "sam-deep",
        "template.yaml",
        SAM_HEAD + "Metadata: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n",
        f"nested deeper than {MAX_DEPTH} levels",
        7,
    ),
    Case(
        "json-template-deep",
        "template.json",
        '{"Resources": ' + "[" * 100_000 + "]" * 100_000 + "}",
        f"nested deeper than {MAX_DEPTH} levels",
        1,
    ),
    Case(
        "serverless-variables-that-multiply",
        "serverless.yml",
        "service: chat\nprovider: {name: aws, runtime: python3.12}\ncustom:\n  l0: lollollol\n"
        + "".join(
            f'  l{n}: "{"".join(["${self:custom.l" + str(n - 1) + "}"] * 10)}"\n'
            for n in range(1, 10)
        )
        + "functions:\n  f:\n    handler: handlers.ok\n"
        "    environment: {X: '${self:custom.l9}'}\n"
        "    events: [{websocket: {route: $default}}]\n",
        "resolving the serverless.yml variables takes more than",
        None,
    ),
    Case(
        "serverless-alias-bomb-behind-a-variable",
        "serverless.yml",
        "service: chat\nprovider: {name: aws, runtime: python3.12}\ncustom:\n"
        + laughs(indent="  ")
        + "functions:\n  f:\n    handler: handlers.ok\n"
        "    environment: {X: '${self:custom.l8}'}\n"
        "    events: [{websocket: {route: $default}}]\n",
        "aliases expand the document to more than 200000 values",
        12,
    ),
]


def write(tmp_path: Path, case: Case) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / case.file
    path.write_text(case.text)
    return path


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def commands(case: Case, path: Path) -> list[list[str]]:
    if case.file == "routes.yaml":
        return [
            ["check", str(path)],
            ["export", str(path)],
            ["serve", "--config", str(path), "--port", "0", "--no-reload"],
        ]
    return [
        ["check", "--template", str(path)],
        ["serve", "--template", str(path), "--port", "0", "--no-reload"],
    ]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_serve_check_and_export_refuse_it_clearly(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case)
    for command in commands(case, path):
        result = run(tmp_path, *command)
        assert result.returncode != 0, (command, result.stdout)
        assert "Traceback" not in result.stderr, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"apigw-ws: error: {path}: "), line
        assert case.problem in line, line
        if case.line is not None:
            assert f"line {case.line}, column " in line, line


def test_a_file_over_the_size_bound_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes: {$default: handlers.ok}\n" + "#" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        read_config_yaml(path)


def test_aliases_used_as_intended_are_fine(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "routes.yaml"
    path.write_text(
        "environment: &env {TABLE: t, STAGE: dev}\n"
        "routes:\n"
        "  $default: {handler: handlers.ok, environment: *env}\n"
        "  other: {handler: handlers.ok, environment: *env}\n"
    )
    config = load_config(path)
    assert config.routes["other"].integration.function.environment["TABLE"] == "t"  # type: ignore[union-attr]


@pytest.mark.parametrize(("depth", "refused"), [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_the_depth_bound_counts_the_document_itself(
    tmp_path: Path, depth: int, refused: bool
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("[" * depth + "]" * depth + "\n")
    if refused:
        with pytest.raises(ConfigError, match=f"column {depth}: nested deeper"):
            read_config_yaml(path)
    else:
        assert read_config_yaml(path) is not None


def test_the_value_bound_counts_values_without_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At the real bound PyYAML takes seconds to compose that many values.
    monkeypatch.setattr(yaml_files, "MAX_VALUES", 1000)
    path = tmp_path / "routes.yaml"
    path.write_text("routes: {$default: handlers.ok}\nbig: [\n" + "1,\n" * 1000 + "1]\n")
    with pytest.raises(ConfigError, match="line 996, column 1: more than 1000 values"):
        read_config_yaml(path)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("[" * 101, (1, 101), id="arrays"),
        pytest.param('{"a":' * 101, (1, 501), id="objects"),
        pytest.param('"[[[[[["' + "[" * 100 + "]" * 100, None, id="brackets-in-a-string-count-not"),
        pytest.param('"\\"[' + "[" * 100, None, id="escaped-quote-stays-in-the-string"),
        pytest.param("[\n" * 101, (101, 1), id="lines"),
    ],
)
def test_json_too_deep(text: str, where: tuple[int, int] | None) -> None:
    assert json_too_deep(text) == where


def test_a_resource_named_after_itself_is_reported_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "template.yaml"
    path.write_text(
        sam_with_a_route(
            "!Ref Table",
            "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties: {TableName: !Ref Table}\n",
        )
    )
    result = run(tmp_path, "check", "--template", str(path))
    assert "Traceback" not in result.stderr, result.stderr
    assert "refer to each other in a cycle" in result.stderr, result.stderr
