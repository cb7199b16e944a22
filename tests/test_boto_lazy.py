"""botocore is not imported at start-up; the in-process hook still catches it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import asyncio, sys
from pathlib import Path
from websockets.asyncio.client import connect
from emulator.app import Emulator
from emulator.model.config import parse_config

async def main():
    config = parse_config(
        {"routes": {"$default": "lazy_boto_handlers.post_back"}},
        base_dir=Path(sys.argv[1]),
    )
    async with Emulator(config, host="127.0.0.1", port=0) as emulator:
        assert "botocore" not in sys.modules, "botocore was imported at start-up"
        async with connect(emulator.url) as ws:
            await ws.send("hello")
            print(await asyncio.wait_for(ws.recv(), 20))

asyncio.run(main())
"""


def test_a_handler_importing_boto3_late_is_still_answered_in_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "tests" / "fixtures" / "lazy_boto")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "posted through boto3"
