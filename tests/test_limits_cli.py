"""Limits from the command line: validated like the file's, and routes follow them."""

from __future__ import annotations

import pytest

from emulator.errors import ConfigError
from emulator.model.config import parse_config, with_limits
from emulator.tools.cli import main

DOCUMENT = {
    "routes": {
        "$default": "probe.echo",
        "own": {"handler": "probe.echo", "timeout": 7},
    },
    "limits": {"idleTimeout": 60},
}


def test_overrides_replace_only_what_they_name() -> None:
    config = with_limits(parse_config(DOCUMENT), {"frameSize": 1024, "integrationTimeout": 3})
    assert config.limits.frame_size == 1024
    assert config.limits.idle_timeout == 60  # from the file
    assert config.limits.message_size == 131072  # AWS's default
    # A route without its own timeout follows the new integration timeout.
    assert config.routes["$default"].timeout == 3
    assert config.routes["own"].timeout == 7


def test_no_overrides_is_the_same_config() -> None:
    config = parse_config(DOCUMENT)
    assert with_limits(config, {}) is config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"idleTimeout": -1}, "command line: limits.idleTimeout: must be a positive number"),
        ({"integrationTimeout": 30}, "limits.integrationTimeout: must be a number of seconds from"),
        ({"frameSize": 0}, "limits.frameSize"),
    ],
    ids=["negative-idle", "timeout-over-29", "zero-frame"],
)
def test_bad_overrides_are_config_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_limits(parse_config(DOCUMENT), overrides)


def test_serve_refuses_a_bad_limit_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", "routes.yaml", "--idle-timeout", "-5", "--port", "0"]) == 2
    assert "limits.idleTimeout: must be a positive number of seconds" in capsys.readouterr().err


def test_serve_lists_the_limit_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--idle-timeout",
        "--max-connection-duration",
        "--integration-timeout",
        "--frame-size",
        "--message-size",
    ):
        assert option in out
