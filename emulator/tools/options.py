"""The ``apigw-ws`` command line: its commands, their options and examples.

A pure module: argparse only. :mod:`emulator.tools.cli` runs the commands.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from emulator.model.config import API_ID, REGION
from emulator.wire.messages import DEFAULT_MAX_HEADER_BYTES

__all__ = ["LIMIT_OPTIONS", "TEMPLATE_NAMES", "missing_config", "parser"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _api_id(text: str) -> str:
    if not API_ID.fullmatch(text):  # as routes.yaml's apiId is checked
        raise argparse.ArgumentTypeError(
            f"an API id is 10 of a-z 0-9, such as 'a1b2c3d4e5', got {text!r}"
        )
    return text


def _region(text: str) -> str:
    if not REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"a region is such as 'eu-west-1', got {text!r}")
    return text


LIMIT_OPTIONS = (
    ("--idle-timeout", "idleTimeout", float),
    ("--max-connection-duration", "maxConnectionDuration", float),
    ("--integration-timeout", "integrationTimeout", float),
    ("--frame-size", "frameSize", int),
    ("--message-size", "messageSize", int),
    ("--concurrency", "concurrency", int),
)


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _credentials(text: str) -> list[tuple[str, str]]:
    """``AKID:SECRET``, or ``@FILE`` with one ``AKID:SECRET`` a line (``#`` comments)."""
    if text.startswith("@"):
        try:
            lines = Path(text[1:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]!r} ({reason})") from None
        entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    else:
        entries = [text]
    pairs = []
    for entry in entries:
        key, colon, secret = entry.partition(":")
        if not colon or not key or not secret:
            raise argparse.ArgumentTypeError(
                "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY (or @FILE of them), got "
                f"{entry.split(':', 1)[0] + ':...' if colon else entry!r}"
            )
        pairs.append((key, secret))
    return pairs


def _access_options(command: argparse.ArgumentParser) -> None:
    access = command.add_argument_group(
        "who may call the HTTP APIs",
        "@connections and the Lambda Invoke API need a SigV4 signature (execute-api,"
        " lambda) in the API's region, as on AWS",
    )
    access.add_argument(
        "--credentials",
        type=_credentials,
        action="append",
        metavar="AKID:SECRET",
        help="accept only these keys, and verify their signatures (also for AWS_IAM on "
        "$connect, with iamCredentials); @FILE reads one AKID:SECRET a line; repeatable. "
        "Without it and iamCredentials, any key is accepted",
    )
    access.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept unsigned @connections requests, for teaching (loopback --host only)",
    )
    access.add_argument(
        "--domain",
        action="append",
        metavar="NAME",
        default=[],
        help="also answer HTTP requests addressed to NAME (a custom domain or a name in "
        "/etc/hosts); others than loopback names and --host get 421; repeatable",
    )


def _identity_options(command: argparse.ArgumentParser, *, api_id: bool = True) -> None:
    group = command.add_argument_group("the API's identity")
    group.add_argument(
        "--region",
        type=_region,
        metavar="REGION",
        help="the region it is served in: AWS_REGION in functions, the domain name"
        " (default: routes.yaml's region, else the shell's AWS_REGION, else us-east-1)",
    )
    if api_id:
        group.add_argument(
            "--api-id",
            type=_api_id,
            metavar="ID",
            help="the API id (default: routes.yaml's apiId; a template's API gets one"
            " that stays the same; else a new one at each start)",
        )


def _template_options(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group(
        "infrastructure templates",
        "serve the API your SAM, CloudFormation, serverless.yml, CDK app or Terraform declares",
    )
    sources = group.add_mutually_exclusive_group()
    sources.add_argument(
        "--template", metavar="FILE", help="a SAM/CloudFormation template or a serverless.yml"
    )
    sources.add_argument(
        "--cdk-out", metavar="DIR", help="a synthesized CDK app: the cdk.out `cdk synth` writes"
    )
    sources.add_argument(
        "--terraform", metavar="DIR", help="a Terraform configuration: a folder of .tf files"
    )
    group.add_argument(
        "--stack", metavar="NAME", help="with --cdk-out: which stack, if several have an API"
    )
    group.add_argument(
        "--var",
        type=_parameter,
        action="append",
        metavar="NAME=VALUE",
        help="with --terraform: a variable's value, as terraform's -var; repeatable",
    )
    group.add_argument(
        "--var-file",
        action="append",
        metavar="FILE",
        help="with --terraform: a .tfvars file, as terraform's -var-file; repeatable",
    )
    group.add_argument("--api", metavar="LOGICAL_ID", help="which API, if the template has several")
    group.add_argument(
        "--parameter",
        type=_parameter,
        action="append",
        metavar="NAME=VALUE",
        help="a template parameter (serverless.yml: an option such as stage=dev); repeatable",
    )


def _aws_options(command: argparse.ArgumentParser, *, serving: bool = True) -> None:
    group = command.add_argument_group(
        "AWS services",
        "what the functions' AWS SDK calls reach (by default: nothing; a call that would"
        " reach AWS is refused with an error that says why)",
    )
    group.add_argument(
        "--mock-aws",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the AWS services the functions call in-process (moto: DynamoDB, SQS, SNS,"
        " S3...), with the tables, queues, topics and buckets the API declares created"
        " first (default: routes.yaml's mockAws); needs pip install 'apigw-ws-emulator[aws]'",
    )
    if not serving:
        return
    group.add_argument(
        "--state-dir",
        metavar="DIR",
        help="with --mock-aws: keep the mocked services' data in DIR across restarts"
        " (a --reload always keeps it)",
    )
    group.add_argument(
        "--shell-credentials",
        action="store_true",
        help="give the functions the shell's AWS credentials (AWS_PROFILE,"
        " AWS_ACCESS_KEY_ID...) instead of placeholders: their calls then reach your AWS"
        " account",
    )


def _examples(*lines: str) -> str:
    """An epilog of examples: each line a command, then ``#`` and what it does."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    *examples: str,
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        help=summary,
        # Raw, for the examples' layout: the prose is wrapped here.
        description=textwrap.fill(description, 78),
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # For errors found after parsing, with the command's own usage line.
    command.set_defaults(command_parser=command)
    return command


def _config_argument(command: argparse.ArgumentParser, verb: str) -> None:
    command.add_argument(
        "config",
        nargs="?",
        default=None,
        metavar="CONFIG",
        help=f"the routes.yaml to {verb} (default: ./routes.yaml)",
    )


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="apigw-ws",
        description="A local emulator of Amazon API Gateway WebSocket APIs.\n"
        "Each command's --help shows its options and examples.",
        epilog=_examples(
            "apigw-ws init my-api                 # write a starter project in my-api/",
            "apigw-ws serve                       # serve ./routes.yaml on ws://127.0.0.1:3001",
            "apigw-ws serve --template template.yaml",
            "apigw-ws check api/routes.yaml       # validate it, import every handler",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = _command(
        commands,
        "serve",
        "serve the API described by a routes.yaml",
        "Serve a WebSocket API, its @connections API and a chat page and inspector, "
        "on one host and port, until Ctrl-C or SIGTERM.",
        "apigw-ws serve                       # ./routes.yaml on ws://127.0.0.1:3001/STAGE",
        "apigw-ws serve api/routes.yaml --port 8080",
        "apigw-ws serve --port 0              # any free port; the URL is printed",
        "apigw-ws serve --template template.yaml --parameter Stage=dev",
        "apigw-ws serve --template serverless.yml --api MyWebSocketApi",
        "apigw-ws serve --cdk-out cdk.out     # a synthesized CDK app",
        "apigw-ws serve --terraform infra/ --var stage_name=dev",
        "apigw-ws serve --mock-aws           # DynamoDB, SQS, SNS, S3... in-process",
        "apigw-ws serve --mock-aws --state-dir .aws-state   # and keep their data",
        "apigw-ws serve --region eu-west-1 --api-id abc123defg",
        "apigw-ws serve --idle-timeout 5 --frame-size 1024   # shrink AWS's limits",
        "apigw-ws serve --no-reload --no-inspector --log-format json",
        "apigw-ws serve --certfile cert.pem --keyfile key.pem   # wss:// and https://",
    )
    _config_argument(serve, "serve")
    serve.add_argument(
        "--config",
        dest="config_option",
        default=None,
        metavar="CONFIG",
        help="the same as CONFIG",
    )
    _template_options(serve)
    _identity_options(serve)
    _aws_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=3001, help="port to listen on; 0 picks a free one"
    )
    limits = serve.add_argument_group(
        "limits", "AWS's quotas by default; set them in routes.yaml or here (seconds, bytes)"
    )
    for option, name, kind in LIMIT_OPTIONS:
        limits.add_argument(option, dest=name, type=kind, metavar="N", default=None)
    serve.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="refuse upgrades beyond N open connections with 429 (default: no cap)",
    )
    serve.add_argument(
        "--max-header-size",
        type=int,
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="BYTES",
        help=f"refuse request heads over BYTES with 431 (default: {DEFAULT_MAX_HEADER_BYTES})",
    )
    _access_options(serve)
    tls = serve.add_argument_group(
        "TLS", "serve wss:// and https:// instead, on the same port: the API, @connections, pages"
    )
    tls.add_argument("--certfile", metavar="FILE", help="the certificate (chain), PEM")
    tls.add_argument(
        "--keyfile", metavar="FILE", help="its private key, PEM (default: in the --certfile)"
    )
    serve.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="apply edits to handler modules and the config without dropping connections",
    )
    serve.add_argument(
        "--inspector",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve a chat page at / and a live inspector at /_inspector on the same "
        "host and port (--no-inspector: GET / answers 426, as on AWS)",
    )
    serve.add_argument(
        "--platform-logs",
        action="store_true",
        help="write Lambda's START, END and REPORT lines for each invocation",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one readable line per connection and frame (text), or JSON lines",
    )
    serve.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="the event loop: uvloop, about twice as fast per message, or asyncio's own "
        "(default auto: uvloop where it is installed, as it is with this package except "
        "on Windows and PyPy)",
    )

    check = _command(
        commands,
        "check",
        "validate a routes.yaml and list its routes and handlers",
        "Validate an API, import every handler, and list the routes.",
        "apigw-ws check                       # ./routes.yaml",
        "apigw-ws check api/routes.yaml",
        "apigw-ws check --template template.yaml --parameter Stage=dev",
    )
    _config_argument(check, "check")
    _template_options(check)
    _identity_options(check, api_id=False)
    _aws_options(check, serving=False)

    state = _command(
        commands,
        "state",
        "print the data of the mocked AWS services: tables and their items, queues, buckets",
        "Print what the AWS services of a running `apigw-ws serve --mock-aws` hold (its"
        " tables and their items, queues and their messages, topics, buckets and their"
        " keys), or what one saved in a --state-dir.",
        "apigw-ws state                       # the emulator on 127.0.0.1:3001",
        "apigw-ws state --url http://127.0.0.1:8080",
        "apigw-ws state --state-dir .aws-state   # what a stopped emulator saved",
        "apigw-ws state --json",
    )
    where = state.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        default="http://127.0.0.1:3001",
        help="the running emulator (default: http://127.0.0.1:3001)",
    )
    where.add_argument("--state-dir", metavar="DIR", help="the --state-dir of a stopped emulator")
    state.add_argument("--json", action="store_true", help="print JSON instead of text")
    state.add_argument(
        "--limit", type=int, default=100, metavar="N", help="items shown per table (default: 100)"
    )

    export = _command(
        commands,
        "export",
        "write a routes.yaml as a SAM template or a Terraform configuration on stdout",
        "Write a SAM template or a Terraform configuration that deploys the API of a "
        "routes.yaml: the API, its routes, integrations, functions, authorizer and stage.",
        "apigw-ws export > template.yaml      # ./routes.yaml",
        "apigw-ws export api/routes.yaml --format sam > template.yaml",
        "apigw-ws export --format terraform > main.tf",
    )
    _config_argument(export, "export")
    export.add_argument(
        "--format",
        choices=("sam", "terraform"),
        default="sam",
        help="sam (template.yaml) or terraform (a .tf file); default: sam",
    )

    route = _command(
        commands,
        "route",
        "explain, step by step, how API Gateway routes a message",
        "Explain how a route selection expression routes MESSAGE, step by step.",
        """apigw-ws route '$request.body.action' '{"action": "join"}'""",
        """apigw-ws route '${request.body.service}/${request.body.action}' """
        """'{"service": "chat", "action": "join"}' --routes 'chat/join,$default'""",
    )
    route.add_argument("expression", help="e.g. '$request.body.action'")
    route.add_argument("message", help="the text of the WebSocket message")
    route.add_argument(
        "--routes",
        type=lambda text: [key.strip() for key in text.split(",") if key.strip()],
        help="the API's route keys, comma-separated, e.g. 'join,leave,$default'",
    )

    init = _command(
        commands,
        "init",
        "write a starter project: routes.yaml, handlers, a test, a README",
        "Write a starter project that serves and passes its tests as it is: routes.yaml, "
        "app.py (Lambda handlers as AWS's samples write them), tests/test_app.py (with "
        "the pytest plugin), pyproject.toml and a README. Existing files are never "
        "overwritten.",
        "apigw-ws init                        # here",
        "apigw-ws init my-api                 # in my-api/, created if need be",
    )
    init.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="default: the current folder"
    )
    return main


# The files `serve --template` reads that a project keeps beside its code.
TEMPLATE_NAMES = ("template.yaml", "template.yml", "serverless.yml", "serverless.yaml")


def missing_config(
    command: str, config: str, *, given: bool, looked_for: str, templates: list[str]
) -> str:
    """What to say when ``command`` finds no routes.yaml: what it looked for, and
    the ways to name an API (``templates``: template files found beside it)."""
    if given:
        problem = f"{config}: file not found (looked for {looked_for})"
    else:
        problem = f"no routes.yaml in this folder (looked for {looked_for})"
    options = [(f"apigw-ws {command} path/to/routes.yaml", "a routes.yaml from elsewhere")]
    if command == "serve":
        options.append(("apigw-ws serve --config path/to/routes.yaml", "the same"))
    if command != "export":
        for name in templates or ["template.yaml"]:
            found = " (found here)" if templates else ""
            options.append(
                (
                    f"apigw-ws {command} --template {name}",
                    f"a SAM or CloudFormation template, or a serverless.yml{found}",
                )
            )
    options.append(("apigw-ws init", "write a starter project here: routes.yaml, handlers, a test"))
    width = max(len(line) for line, _ in options)
    hints = "\n".join(f"  {line.ljust(width)}  # {what}" for line, what in options)
    return f"{problem}; to name the API:\n{hints}"
