"""``apigw-ws init``: a starter project that serves and passes its tests as written.

Writing is tested in-process; the project itself as a user runs it: ``pytest``
in it, ``apigw-ws serve`` from it (both in child processes), and the linter.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from emulator.tools.cli import main
from emulator.tools.starter import starter_files

TIMEOUT = 30.0
FILES = ["routes.yaml", "app.py", "tests/test_app.py", "pyproject.toml", "README.md"]


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "my-api"
    assert main(["init", str(folder)]) == 0
    capsys.readouterr()
    return folder


def _env() -> dict[str, str]:
    """The environment of a user's shell: none of this test run's pytest settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}


def test_init_writes_the_project_and_says_what_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my-api"
    assert main(["init", str(folder)]) == 0
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(
        FILES
    )
    for path, text in starter_files("my-api").items():
        assert (folder / path).read_text(encoding="utf-8") == text
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("# my-api\n")
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {folder / 'routes.yaml'}, ")
    assert f"  cd {folder}\n" in out
    assert "  apigw-ws serve " in out
    assert "  pytest " in out


def test_init_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert all((tmp_path / name).is_file() for name in FILES)
    assert "cd " not in capsys.readouterr().out


def test_init_never_overwrites_and_then_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text("mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"apigw-ws: error: {tmp_path / 'README.md'}: already there; ")
    assert "nothing written" in err
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "mine\n"


def test_pytest_passes_in_the_project(project: Path) -> None:
    # pytest-asyncio in its default strict mode, nothing configured but the
    # plugin's apigw_routes; warnings are errors.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^3 passed in ", result.stdout, re.MULTILINE), result.stdout


def test_the_project_is_lint_clean(project: Path) -> None:
    # With ruff's own defaults, as a project without settings of its own gets.
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--isolated", "."],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


async def test_serve_runs_the_project(project: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "emulator", "serve", "--port", "0"],
        cwd=project,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode().strip()
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/local", url), url
        async with connect(url, open_timeout=TIMEOUT) as client:
            await client.send(json.dumps({"action": "echo", "data": "hi"}))
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == "hi"
            # $default answers through the @connections API with boto3.
            await client.send("what can I send?")
            hint = await asyncio.wait_for(client.recv(), TIMEOUT)
            assert hint == 'hello! Send {"action": "echo", "data": "..."}'
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0, err.decode()
        # The handlers' logging, under their invocations: both routes ran.
        assert "connected: " in err.decode()
        assert "disconnected: " in err.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), TIMEOUT)
