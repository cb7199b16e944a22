"""What a newcomer types first: each command's help and its examples, the config
given positionally, and the error when there is no API to serve.

In-process, through ``main(argv)``; ``apigw-ws init`` has tests of its own
(tests/test_cli_init.py).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from emulator.tools.cli import main
from emulator.tools.options import parser

FIXTURE = Path(__file__).parent / "fixtures" / "cli_app"
COMMANDS = ["serve", "check", "export", "route", "init", "state"]


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _examples(help_text: str) -> list[list[str]]:
    """The example commands of a help text, as argv lists (shell redirections cut)."""
    assert "\nexamples:\n" in help_text, help_text
    commands = []
    for line in help_text.split("\nexamples:\n", 1)[1].splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["apigw-ws"]:
            argv = words[1:]
            if ">" in argv:
                argv = argv[: argv.index(">")]
            commands.append(argv)
    return commands


def test_every_command_is_covered() -> None:
    (commands,) = (a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(commands.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_has_examples_that_parse(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    examples = _examples(_help(capsys, command))
    assert len(examples) >= 2, examples
    for argv in examples:
        args = parser().parse_args(argv)  # an example that does not parse exits here
        assert args.command == command, argv


def test_the_top_level_help_has_examples_that_parse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Each command's --help shows its options and examples." in out
    examples = _examples(out)
    assert {argv[0] for argv in examples} >= {"init", "serve"}
    for argv in examples:
        parser().parse_args(argv)


# The config, positionally (as check and export take it) or with --config


def test_serve_takes_the_config_positionally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  $default: [unclosed\n", encoding="utf-8")
    for argv in (["serve", str(path)], ["serve", "--config", str(path)]):
        assert main([*argv, "--port", "0"]) == 2
        assert capsys.readouterr().err.startswith(f"apigw-ws: error: {path}: invalid YAML")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["serve", "a.yaml", "--config", "b.yaml"],
            "two configs: a.yaml and --config b.yaml; give one",
            id="both-ways-differing",
        ),
        pytest.param(
            ["serve", "a.yaml", "--template", "template.yaml"],
            "a.yaml and --template template.yaml: give one API",
            id="config-and-template",
        ),
        pytest.param(
            ["check", "a.yaml", "--template", "template.yaml"],
            "a.yaml and --template template.yaml: give one API",
            id="check-config-and-template",
        ),
    ],
)
def test_two_apis_at_once_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: apigw-ws {argv[0]} ")
    assert err.endswith(f"apigw-ws {argv[0]}: error: {message}\n")


def test_the_same_config_both_ways_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes: []\n", encoding="utf-8")
    assert main(["serve", str(path), "--config", str(path), "--port", "0"]) == 2
    assert capsys.readouterr().err.startswith(f"apigw-ws: error: {path}: routes")


# No API to serve: what was looked for, and the ways to name one


def _no_api(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()


def test_no_routes_yaml_here_lists_what_was_looked_for_and_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = _no_api(capsys, ["serve"])
    looked_for = tmp_path / "routes.yaml"
    assert lines[0] == (
        f"apigw-ws: error: no routes.yaml in this folder (looked for {looked_for}); "
        "to name the API:"
    )
    hints = [line.split("#")[0].strip() for line in lines[1:]]
    assert hints == [
        "apigw-ws serve path/to/routes.yaml",
        "apigw-ws serve --config path/to/routes.yaml",
        "apigw-ws serve --template template.yaml",
        "apigw-ws init",
    ]
    # Each hint is a command that parses.
    for hint in hints:
        parser().parse_args(shlex.split(hint)[1:])


def test_a_template_beside_is_named_in_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "serverless.yml").write_text("service: chat\n", encoding="utf-8")
    lines = _no_api(capsys, ["check"])
    assert any(
        line.startswith("  apigw-ws check --template serverless.yml ")
        and line.endswith("(found here)")
        for line in lines
    ), lines
    assert not any("template.yaml" in line for line in lines)


def test_export_has_no_template_option_to_suggest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    hints = [line.split("#")[0].strip() for line in _no_api(capsys, ["export"])[1:]]
    assert hints == ["apigw-ws export path/to/routes.yaml", "apigw-ws init"]


def test_a_named_config_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "routes.yaml"
    lines = _no_api(capsys, ["serve", str(missing), "--port", "0"])
    assert lines[0] == (
        f"apigw-ws: error: {missing}: file not found (looked for {missing}); to name the API:"
    )
    assert any("--template" in line for line in lines)
    assert lines[-1].startswith("  apigw-ws init ")
