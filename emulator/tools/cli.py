"""The ``apigw-ws`` command."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from emulator.app import Emulator
from emulator.clock import new_api_id
from emulator.errors import ConfigError
from emulator.gateway.explain import explain
from emulator.model.api import ApiConfig
from emulator.model.config import load_config, with_credentials, with_limits
from emulator.model.integration import LambdaIntegration
from emulator.model.selection import compile_expression
from emulator.runtime.loader import load_handler
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


def _template_options(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group(
        "infrastructure templates",
        "serve the API your SAM, CloudFormation or serverless.yml declares",
    )
    group.add_argument(
        "--template", metavar="FILE", help="a SAM/CloudFormation template or a serverless.yml"
    )
    group.add_argument("--api", metavar="LOGICAL_ID", help="which API, if the template has several")
    group.add_argument(
        "--parameter",
        type=_parameter,
        action="append",
        metavar="NAME=VALUE",
        help="a template parameter (serverless.yml: an option such as stage=dev); repeatable",
    )


def _load_api(args: argparse.Namespace, api_id: str | None = None) -> ApiConfig:
    """The API to serve: a routes.yaml, or the one a template declares.

    With ``api_id``, a template's references to its own API (a callback URL
    built from ``${MyApi}``) resolve to the id the emulator serves under.
    """
    if args.template is None:
        return load_config(args.config)
    from emulator.model.templates import load_template  # ~20 ms of start-up, for --template only

    imported = load_template(
        args.template,
        api=args.api,
        parameters=dict(args.parameter or []),
        environ=os.environ,
        api_id=api_id,
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
    access = serve.add_argument_group(
        "who may call the HTTP APIs",
        "@connections needs a SigV4 signature for execute-api in us-east-1, as on AWS",
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

    export = commands.add_parser(
        "export", help="write a routes.yaml as a deployable template (SAM) on stdout"
    )
    export.add_argument("config", nargs="?", default="routes.yaml", help="default: ./routes.yaml")
    export.add_argument("--format", choices=("sam",), default="sam", help="default: sam")

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
    config = with_limits(_load_api(args, api_id), limits)
    return with_credentials(config, _all_credentials(args))


def _all_credentials(args: argparse.Namespace) -> dict[str, str]:
    return {key: secret for pairs in args.credentials or [] for key, secret in pairs}


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
    problems = []
    for function in config.functions.values():
        try:
            load_handler(function, config.base_dir)
        except ConfigError as exc:
            problems.append(exc.at("", config.source))
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
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _check(args)
    if args.command == "export":
        try:
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
        if args.allow_unsigned and not _is_loopback(args.host):
            raise ConfigError(
                f"--allow-unsigned works only on a loopback --host (127.0.0.1, ::1, "
                f"localhost), not {args.host}: anyone who reaches it could post to and "
                "close every connection"
            )
        api_id = new_api_id()
        config = _reload_api(args, overrides, api_id)
        emulator = Emulator(
            config,
            host=args.host,
            port=args.port,
            api_id=api_id,
            max_connections=args.max_connections,
            max_header_bytes=args.max_header_size,
            domains=args.domain,
            allow_unsigned=args.allow_unsigned,
        )
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        anyone = "" if config.iam_credentials else " (any key: --credentials names the keys)"
        print(
            f"apigw-ws: warning: listening on {args.host}: the API is reachable from the "
            f"network, and @connections by whoever signs a request{anyone}",
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
    logs.configure(args.log_format)
    try:
        watched = args.template or args.config
        reload_from = partial(_reload_api, args, overrides, api_id) if args.reload else None
        asyncio.run(_serve(emulator, watched, reload_from))
    except OSError as exc:
        print(f"apigw-ws: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        logs.unconfigure()
    return 0
