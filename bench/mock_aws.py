"""What ``--mock-aws`` costs: start-up, and a handler's call to the mocked DynamoDB.

    python -m bench.mock_aws [--rounds 7] [--calls 300]

Start-up: ``apigw-ws serve`` of the repository's default API (the chat, whose
table ``--mock-aws`` creates) from launch until a WebSocket client is
connected, without and with ``--mock-aws``, rounds interleaved. The ratio is
baseline ÷ with-mock (1.00 is parity, lower is slower), and the target is an
absolute one: under 2 s to the first connection.

Calls: a sandboxed function's ``put_item`` then ``get_item`` on a table, in
a thread as handlers run, answered in-process (``--mock-aws``) or by moto's
server on 127.0.0.1 (what the user had to start before: ``moto_server`` and
``AWS_ENDPOINT_URL_DYNAMODB``). The ratio is in-process ÷ server throughput.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

from bench.server import start_serve

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TARGET_S = 2.0


def startup_s(extra: list[str]) -> float:
    """Seconds from launch until a client's WebSocket handshake completed."""
    from websockets.sync.client import connect

    started = time.perf_counter()
    process, url = start_serve(["--port", "0", "--no-reload", "--no-inspector", *extra], ROOT)
    try:
        with connect(f"{url}?name=bench", open_timeout=10):
            elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    return elapsed


def calls_per_s(calls: int, endpoint: str | None) -> float:
    """put_item + get_item pairs per second from a function's sandbox thread."""
    from emulator.model.api import ApiConfig
    from emulator.model.config import parse_config
    from emulator.runtime import boto
    from emulator.runtime.sandbox import AwsAccess

    document = {
        "resources": {"Bench": {"Type": "AWS::Serverless::SimpleTable"}},
        "routes": {"$default": "bench_handler.handler"},
    }
    config: ApiConfig = parse_config(document, base_dir=ROOT)
    boto.install()
    import boto3

    if endpoint is None:
        from emulator.runtime.aws_state import open_mocked

        aws = open_mocked("us-east-1")
        aws.declare(config.resources)
        access = AwsAccess(services=aws)
    else:
        aws = None
        access = AwsAccess()
    import threading

    from emulator.runtime.sandbox import Sandbox

    function = next(iter(config.functions.values()))
    sandbox = Sandbox(function, region="us-east-1", task_root=ROOT, aws=access)
    result: list[float] = []

    def run() -> None:
        client = boto3.session.Session().client(
            "dynamodb", region_name="us-east-1", endpoint_url=endpoint
        )
        client.put_item(TableName="Bench", Item={"id": {"S": "warm"}})
        started = time.perf_counter()
        for n in range(calls):
            client.put_item(TableName="Bench", Item={"id": {"S": str(n)}})
            client.get_item(TableName="Bench", Key={"id": {"S": str(n)}})
        result.append(calls / (time.perf_counter() - started))

    from emulator.runtime import environ, logroot

    environ.install()
    logroot.install()
    # In the function's environment, as an invocation runs.
    thread = threading.Thread(target=sandbox.context(sandbox.scope("bench")).run, args=(run,))
    thread.start()
    thread.join()
    if aws is not None:
        aws.close()
    return result[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()}")

    base, mocked = [], []
    for n in range(args.rounds):
        base.append(startup_s([]))
        mocked.append(startup_s(["--mock-aws"]))
        print(f"  round {n + 1}: serve {base[-1]:.3f} s, serve --mock-aws {mocked[-1]:.3f} s")
    b, m = statistics.median(base), statistics.median(mocked)
    verdict = "PASS" if m < STARTUP_TARGET_S else "FAIL"
    print(
        f"start-up to the first connection: serve {b * 1000:.0f} ms,"
        f" --mock-aws {m * 1000:.0f} ms (+{(m - b) * 1000:.0f} ms), ratio {b / m:.2f},"
        f" target < {STARTUP_TARGET_S:g} s: {verdict}"
    )

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        import boto3

        boto3.client(
            "dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
        ).create_table(
            TableName="Bench",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        remote = [calls_per_s(args.calls, f"http://{host}:{port}") for _ in range(3)]
    finally:
        server.stop()
    local = [calls_per_s(args.calls, None) for _ in range(3)]
    r, loc = statistics.median(remote), statistics.median(local)
    print(
        f"put_item+get_item from a handler: moto server {r:.0f}/s, in-process {loc:.0f}/s,"
        f" ratio {loc / r:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
