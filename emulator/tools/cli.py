"""The ``apigw-ws`` command."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import hashlib
import logging
import os
import signal
import string
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.app import Emulator, served_region
from emulator.clock import new_api_id
from emulator.errors import ConfigError
from emulator.gateway.access import origins
from emulator.gateway.explain import explain
from emulator.model.api import ApiConfig
from emulator.model.config import load_config, with_credentials, with_limits
from emulator.model.integration import LambdaIntegration
from emulator.model.selection import compile_expression
from emulator.runtime import boto
from emulator.runtime.loader import load_functions
from emulator.runtime.sandbox import AwsAccess
from emulator.tools import logs
from emulator.tools.export.sam import export_sam
from emulator.tools.inspector import INSPECTOR_PATH, Inspector
from emulator.tools.options import LIMIT_OPTIONS, TEMPLATE_NAMES, missing_config, parser
from emulator.tools.starter import starter_files

if TYPE_CHECKING:
    from emulator.runtime.mock_aws import MockedAws

__all__ = ["main"]


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
            region=region,
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


def _aws_problem(args: argparse.Namespace, config: ApiConfig) -> str | None:
    """What is wrong with the AWS options, given the API's ``mockAws``."""
    mock = config.mock_aws if args.mock_aws is None else args.mock_aws
    if args.state_dir is not None and not mock:
        return "--state-dir keeps the data of the mocked AWS services: add --mock-aws"
    if args.shell_credentials and mock:
        source = "--mock-aws" if args.mock_aws else f"mockAws: true in {config.source}"
        return (
            f"--shell-credentials and {source}: the mocked services answer every call to AWS;"
            " give one"
        )
    return None


def _is_loopback(host: str) -> bool:
    return origins.trusted_name(host.lower(), ())


def _reload_api(
    args: argparse.Namespace, limits: dict[str, object], api_id: str | None
) -> ApiConfig:
    config = with_limits(_load_api(args, api_id), limits)
    return with_credentials(config, _all_credentials(args))


def _all_credentials(args: argparse.Namespace) -> dict[str, str]:
    return {key: secret for pairs in args.credentials or [] for key, secret in pairs}


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``--loop`` asks for: ``auto`` is uvloop where it can be
    imported (a dependency except on Windows and PyPy), asyncio's own elsewhere."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "--loop uvloop: uvloop is not installed (pip install uvloop; it does not "
                "run on Windows or PyPy)"
            ) from None
        return None
    # uvloop.new_event_loop is typed as returning uvloop.Loop, an AbstractEventLoop.
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(
    emulator: Emulator, watched: str, reload_from: Callable[[], ApiConfig] | None
) -> None:
    loop = asyncio.get_running_loop()
    logs.bind(loop)  # the log's lines in batches, written from this loop
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
        # The watcher sees `stop` within its step (10 ms) on its own thread; the
        # connections close meanwhile.
        await emulator.stop()
        if watching is not None:
            await watching
        logs.bind(None)


def _check(args: argparse.Namespace) -> int:
    try:
        config = _load_api(args)
    except ConfigError as exc:
        print(f"apigw-ws: error: {exc}", file=sys.stderr)
        return 1
    problems: list[ConfigError] = []
    # Each function's init as `serve` runs it: its environment, the region, the
    # mocked AWS services and their resources.
    boto.install()
    region = served_region(args.region, config)
    aws = None
    try:
        if config.mock_aws if args.mock_aws is None else args.mock_aws:
            aws = _mocked_aws(region, config)
        load_functions(config, region=region, problems=problems, aws=AwsAccess(services=aws))
    except ConfigError as exc:
        problems.append(exc)
    finally:
        if aws is not None:
            aws.close()
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


def _mocked_aws(region: str, config: ApiConfig) -> MockedAws:
    from emulator.runtime.aws_state import open_mocked

    aws = open_mocked(region)
    try:
        aws.declare(config.resources, config.source)
    except ConfigError:
        aws.close()
        raise
    return aws


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


def _config(command: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """Settle ``args.config``; the message to print if there is no API to load."""
    option = getattr(args, "config_option", None)
    if option is not None and args.config is not None and option != args.config:
        command.error(f"two configs: {args.config} and --config {option}; give one")
    if getattr(args, "keyfile", None) is not None and args.certfile is None:
        command.error("--keyfile needs --certfile: the certificate it is the key of")
    given = args.config or option
    if getattr(args, "stack", None) is not None and getattr(args, "cdk_out", None) is None:
        command.error("--stack needs --cdk-out")
    if (getattr(args, "var", None) or getattr(args, "var_file", None)) and not getattr(
        args, "terraform", None
    ):
        command.error("--var and --var-file need --terraform")
    from_template = hasattr(args, "template") and _from_template(args)
    if given is not None and from_template:
        command.error(f"{given} and {_template_option(args)}: give one API")
    args.config = given or "routes.yaml"
    if from_template or os.path.isfile(args.config):
        return None
    templates = [name for name in TEMPLATE_NAMES if os.path.isfile(name)]
    return missing_config(
        args.command,
        args.config,
        given=given is not None,
        looked_for=os.path.abspath(args.config),
        templates=templates,
    )


def _template_option(args: argparse.Namespace) -> str:
    if args.template is not None:
        return f"--template {args.template}"
    if args.cdk_out is not None:
        return f"--cdk-out {args.cdk_out}"
    return f"--terraform {args.terraform}"


def _export(args: argparse.Namespace) -> int:
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


def _init(directory: str) -> int:
    folder = Path(directory)
    files = {folder / path: text for path, text in starter_files(folder.resolve().name).items()}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        print(
            f"apigw-ws: error: {', '.join(existing)}: already there; nothing written "
            "(init never overwrites a file: pick another folder, e.g. apigw-ws init my-api)",
            file=sys.stderr,
        )
        return 1
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(str(path) for path in files)}")
    steps = [f"cd {directory}"] if folder.resolve() != Path.cwd().resolve() else []
    steps += [
        "apigw-ws serve        # then open http://127.0.0.1:3001/",
        "pytest                # with pytest and pytest-asyncio installed",
    ]
    print("next:\n" + "\n".join(f"  {step}" for step in steps))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``apigw-ws``; returns the process exit status."""
    args = parser().parse_args(argv)
    if args.command == "route":
        return _route(args.expression, args.message, args.routes)
    if args.command == "init":
        return _init(args.directory)
    if args.command == "state":
        from emulator.tools.state import print_state

        return print_state(args.url, args.state_dir, as_json=args.json, limit=args.limit)
    problem = _config(args.command_parser, args)
    if problem is not None:
        print(f"apigw-ws: error: {problem}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(args)
    if args.command == "export":
        return _export(args)
    return _run_serve(args)


def _run_serve(args: argparse.Namespace) -> int:
    # Logging is set up before the handlers' modules are imported, as Lambda's
    # runtime has it before a function's init: a module that sets the root
    # logger's level at import (AWS's samples do) keeps that level, and what
    # it prints or logs at import is shown.
    logs.configure(args.log_format)
    try:
        return _serve_api(args)
    finally:
        logs.unconfigure()


def _serve_api(args: argparse.Namespace) -> int:
    try:
        overrides = {
            name: getattr(args, name)
            for _, name, _ in LIMIT_OPTIONS
            if getattr(args, name) is not None
        }
        loop_factory = _loop_factory(args.loop)
        # A template's references to its own API need the id before it is read.
        api_id = args.api_id or (_stable_api_id(args) if _from_template(args) else None)
        if args.allow_unsigned and not _is_loopback(args.host):
            raise ConfigError(
                f"--allow-unsigned works only on a loopback --host (127.0.0.1, ::1, "
                f"localhost), not {args.host}: anyone who reaches it could post to and "
                "close every connection"
            )
        config = _reload_api(args, overrides, api_id)
        api_id = api_id or config.api_id or new_api_id()
        problem = _aws_problem(args, config)
        if problem is not None:
            print(f"apigw-ws: error: {problem}", file=sys.stderr)
            return 2
        emulator = Emulator(
            config,
            host=args.host,
            port=args.port,
            region=args.region,
            api_id=api_id,
            max_connections=args.max_connections,
            max_header_bytes=args.max_header_size,
            platform_logs=args.platform_logs,
            certfile=args.certfile,
            keyfile=args.keyfile,
            domains=args.domain,
            allow_unsigned=args.allow_unsigned,
            mock_aws=args.mock_aws,
            state_dir=args.state_dir,
            shell_credentials=args.shell_credentials,
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
    try:
        # A template's file; for a cdk.out, the stack's template that `cdk synth` rewrites.
        watched = args.config if args.template is None and args.cdk_out is None else config.source
        if args.terraform is not None:
            watched = args.terraform
        reload_from = partial(_reload_api, args, overrides, api_id) if args.reload else None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(emulator, watched, reload_from))
        # Stopped cleanly: every connection closed, every $disconnect run. What
        # is left is the interpreter's last garbage collection, over everything
        # the handlers loaded (boto3's service models alone are most of it):
        # that took longer than the whole stop. The process is ending and its
        # memory goes back at once, so skip it: frozen objects are not collected.
        atexit.register(gc.freeze)
    except OSError as exc:
        print(f"apigw-ws: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
