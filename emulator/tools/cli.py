"""The ``apigw-ws`` command."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import logging
import os
import signal
import string
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from emulator.app import Emulator, served_region
from emulator.clock import new_api_id
from emulator.errors import ConfigError
from emulator.gateway.explain import explain
from emulator.model.api import ApiConfig
from emulator.model.config import load_config, with_limits
from emulator.model.integration import LambdaIntegration
from emulator.model.selection import compile_expression
from emulator.runtime import boto
from emulator.runtime.loader import load_functions
from emulator.tools import logs
from emulator.tools.export.sam import export_sam
from emulator.tools.inspector import INSPECTOR_PATH, Inspector
from emulator.wire.server import DEFAULT_MAX_HEADER_BYTES

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


_LIMIT_OPTIONS = (
    ("--idle-timeout", "idleTimeout", float),
    ("--max-connection-duration", "maxConnectionDuration", float),
    ("--integration-timeout", "integrationTimeout", float),
    ("--frame-size", "frameSize", int),
    ("--message-size", "messageSize", int),
)


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _identity_options(command: argparse.ArgumentParser, *, api_id: bool = True) -> None:
    group = command.add_argument_group("the API's identity")
    group.add_argument(
        "--region",
        metavar="REGION",
        help="the region it is served in: AWS_REGION in functions, the domain name"
        " (default: routes.yaml's region, else the shell's AWS_REGION, else us-east-1)",
    )
    if api_id:
        group.add_argument(
            "--api-id",
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


def _from_template(args: argparse.Namespace) -> bool:
    return args.template is not None or args.cdk_out is not None or args.terraform is not None


def _stable_api_id(args: argparse.Namespace) -> str:
    """An API id for a template's API that is the same at every start: from the
    template's path and the API chosen (AWS's ids: 10 lowercase letters and digits)."""
    where = args.template or args.cdk_out or args.terraform
    key = f"{Path(where).resolve()}|{args.api or ''}|{getattr(args, 'stack', None) or ''}"
    digest = hashlib.sha256(key.encode()).digest()
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:10])


def _load_api(args: argparse.Namespace, api_id: str | None = None) -> ApiConfig:
    """The API to serve: a routes.yaml, or the one a template declares.

    With ``api_id``, a template's references to its own API (a callback URL
    built from ``${MyApi}``) resolve to the id the emulator serves under; its
    ``AWS::Region`` is ``--region``, else the shell's ``AWS_REGION``.
    """
    if not _from_template(args):
        return load_config(args.config)
    region = args.region or os.environ.get("AWS_REGION") or None
    # ~20 ms of start-up, for templates only
    from emulator.model.templates import load_cdk, load_template, load_terraform

    if args.terraform is not None:
        imported = load_terraform(
            args.terraform,
            api=args.api,
            variables=dict(args.var or []),
            var_files=args.var_file or (),
            environ=os.environ,
            api_id=api_id,
        )
    elif args.cdk_out is not None:
        imported = load_cdk(
            args.cdk_out,
            stack=args.stack,
            api=args.api,
            parameters=dict(args.parameter or []),
            api_id=api_id,
        )
    else:
        imported = load_template(
            args.template,
            api=args.api,
            parameters=dict(args.parameter or []),
            environ=os.environ,
            api_id=api_id,
            region=region,
        )
    for skipped in imported.skipped:
        print(f"apigw-ws: skipped: {skipped}", file=sys.stderr)
    for warning in imported.warnings:
        print(f"apigw-ws: warning: {warning}", file=sys.stderr)
    return imported.config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apigw-ws",
        description="A local emulator of Amazon API Gateway WebSocket APIs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the API described by a routes.yaml")
    serve.add_argument(
        "--config", default="routes.yaml", help="the API to serve (default: ./routes.yaml)"
    )
    _template_options(serve)
    _identity_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=3001, help="port to listen on; 0 picks a free one"
    )
    limits = serve.add_argument_group(
        "limits", "AWS's quotas by default; set them in routes.yaml or here (seconds, bytes)"
    )
    for option, name, kind in _LIMIT_OPTIONS:
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

    check = commands.add_parser(
        "check", help="validate a routes.yaml and list its routes and handlers"
    )
    check.add_argument("config", nargs="?", default="routes.yaml", help="default: ./routes.yaml")
    _template_options(check)
    _identity_options(check, api_id=False)

    export = commands.add_parser(
        "export",
        help="write a routes.yaml as a SAM template or a Terraform configuration on stdout",
    )
    export.add_argument("config", nargs="?", default="routes.yaml", help="default: ./routes.yaml")
    export.add_argument(
        "--format",
        choices=("sam", "terraform"),
        default="sam",
        help="sam (template.yaml) or terraform (a .tf file); default: sam",
    )

    route = commands.add_parser(
        "route",
        help="explain, step by step, how API Gateway routes a message",
        description="Explain how a route selection expression routes MESSAGE, step by step.",
    )
    route.add_argument("expression", help="e.g. '$request.body.action'")
    route.add_argument("message", help="the text of the WebSocket message")
    route.add_argument(
        "--routes",
        type=lambda text: [key.strip() for key in text.split(",") if key.strip()],
        help="the API's route keys, comma-separated, e.g. 'join,leave,$default'",
    )
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reload_api(args: argparse.Namespace, limits: dict[str, object], api_id: str) -> ApiConfig:
    return with_limits(_load_api(args, api_id), limits)


async def _serve(
    emulator: Emulator, watched: str, reload_from: Callable[[], ApiConfig] | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    watching = None
    if reload_from is not None:
        from emulator.tools.reload import Reloader  # watchfiles is needed only here

        reloader = Reloader(emulator, watched, load=reload_from)
        watching = loop.create_task(reloader.watch(stop))
    print(emulator.url, flush=True)
    if INSPECTOR_PATH in emulator.http_routes:
        pages = emulator.management_url.rsplit("/", 1)[0]
        # Through logging, so that --log-format json stays JSON lines.
        logging.getLogger("emulator").info("chat %s/  inspector %s%s", pages, pages, INSPECTOR_PATH)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if watching is not None:
            await watching
        await emulator.stop()


def _check(args: argparse.Namespace) -> int:
    try:
        config = _load_api(args)
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 1
    problems: list[ConfigError] = []
    # Each function's init as `serve` runs it: its environment, the region.
    boto.install()
    load_functions(config, region=served_region(args.region, config), problems=problems)
    for problem in problems:
        print(f"apigw-ws: error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"{config.source}: ok, stage {config.stage!r}, "
        f"route selection {config.route_selection_expression.source}"
    )
    rows = [("ROUTE", "HANDLER", "RESPONSE", "TIMEOUT")]
    for route in config.routes.values():
        kind = _response_kind(route.route_key, route.route_response)
        integration = route.integration
        if isinstance(integration, LambdaIntegration):
            target = integration.function.handler
        else:
            target = f"{integration.type.value} {integration.uri or ''}".strip()
        rows.append((route.route_key, target, kind, f"{route.timeout:g} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(("  " + "  ".join(cells)).rstrip())
    return 0


def _response_kind(route_key: str, route_response: bool) -> str:
    if route_key in ("$connect", "$disconnect"):
        return "-"  # no client message to answer
    return "two-way" if route_response else "one-way"


def _route(expression: str, message: str, routes: list[str] | None) -> int:
    try:
        compiled = compile_expression(expression)
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 2
    print(explain(compiled, message, routes))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``apigw-ws``; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "stack", None) is not None and getattr(args, "cdk_out", None) is None:
        parser.error("--stack needs --cdk-out")
    if (getattr(args, "var", None) or getattr(args, "var_file", None)) and not getattr(
        args, "terraform", None
    ):
        parser.error("--var and --var-file need --terraform")
    if args.command == "check":
        return _check(args)
    if args.command == "export":
        try:
            if args.format == "terraform":
                from emulator.tools.export.terraform import export_terraform

                template = export_terraform(load_config(args.config))
            else:
                template = export_sam(load_config(args.config))
        except ConfigError as exc:
            print(f"apigw-ws: error: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(template)
        return 0
    if args.command == "route":
        return _route(args.expression, args.message, args.routes)
    try:
        overrides = {
            name: getattr(args, name)
            for _, name, _ in _LIMIT_OPTIONS
            if getattr(args, name) is not None
        }
        # A template's references to its own API need the id before it is read.
        api_id = args.api_id or (_stable_api_id(args) if _from_template(args) else None)
        config = with_limits(_load_api(args, api_id), overrides)
        api_id = api_id or config.api_id or new_api_id()
        # Before the functions' init: what their modules print or log at import is shown.
        logs.configure(args.log_format)
        emulator = Emulator(
            config,
            host=args.host,
            port=args.port,
            region=args.region,
            api_id=api_id,
            max_connections=args.max_connections,
            max_header_bytes=args.max_header_size,
            platform_logs=args.platform_logs,
        )
    except ConfigError as exc:
        logs.unconfigure()
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(
            f"apigw-ws: warning: listening on {args.host}: the API and its @connections "
            "management endpoint are reachable from the network, without authentication",
            file=sys.stderr,
        )
        if args.inspector:
            print(
                f"apigw-ws: warning: the inspector shows every message to whoever reaches "
                f"{args.host}; --no-inspector turns it off",
                file=sys.stderr,
            )
    if args.inspector:
        Inspector(emulator).install()
    try:
        # A template's file; for a cdk.out, the stack's template that `cdk synth` rewrites.
        watched = args.config if args.template is None and args.cdk_out is None else config.source
        if args.terraform is not None:
            watched = args.terraform
        reload_from = partial(_reload_api, args, overrides, api_id) if args.reload else None
        asyncio.run(_serve(emulator, watched, reload_from))
    except OSError as exc:
        print(f"apigw-ws: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        logs.unconfigure()
    return 0
