"""The pure core stays pure (STYLE: "A layout that shows the architecture").

Pure modules take plain values and return plain values: they import no
``asyncio``, ``websockets`` or ``socket`` (not even through a dependency), and
they neither read the clock nor draw random ids themselves; time and ids are
passed in. Each module is imported alone, in a fresh interpreter.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PURE = [
    "emulator",  # the package: the adapters it exports are imported on first use
    "emulator.errors",
    # the layers' packages import nothing of their own
    "emulator.wire",
    "emulator.model",
    "emulator.runtime",
    "emulator.gateway",
    "emulator.gateway.access",
    "emulator.gateway.integrations",
    "emulator.tools",
    # the API model: every module
    "emulator.model.api",
    "emulator.model.bounds",
    "emulator.model.config",
    "emulator.model.function",
    "emulator.model.identity",
    "emulator.model.integration",
    "emulator.model.mapping",
    "emulator.model.references",
    "emulator.model.resources",
    "emulator.model.sections",
    "emulator.model.sections.access",
    "emulator.model.sections.checks",
    "emulator.model.sections.functions",
    "emulator.model.sections.integrations",
    "emulator.model.sections.models",
    "emulator.model.sections.resources",
    "emulator.model.sections.routes",
    "emulator.model.selection",
    "emulator.model.template_selection",
    "emulator.model.yaml_files",
    "emulator.model.templates",
    "emulator.model.templates.cdk",
    "emulator.model.templates.cloudformation",
    "emulator.model.templates.documents",
    "emulator.model.templates.functions",
    "emulator.model.templates.integrations",
    "emulator.model.templates.intrinsics",
    "emulator.model.templates.model",
    "emulator.model.templates.resources",
    "emulator.model.templates.serverless",
    "emulator.model.templates.terraform",
    "emulator.model.templates.terraform.backends",
    "emulator.model.templates.terraform.builtins",
    "emulator.model.templates.terraform.configuration",
    "emulator.model.templates.terraform.constraints",
    "emulator.model.templates.terraform.evaluate",
    "emulator.model.templates.terraform.hcl",
    "emulator.model.templates.terraform.importer",
    "emulator.model.templates.terraform.lambdas",
    "emulator.model.templates.terraform.reading",
    "emulator.model.templates.terraform.syntax",
    "emulator.model.templates.terraform.values",
    "emulator.model.templates.variables",
    # the values at the wire's edge
    "emulator.wire.messages",
    # the runtime's values, and the calls that create a declared resource
    "emulator.runtime.invocation",
    "emulator.runtime.aws_requests",
    # the gateway's pure steps: select, authorize and validate, events, results
    "emulator.gateway.selection",
    "emulator.gateway.respond",
    "emulator.gateway.explain",
    "emulator.gateway.events",
    "emulator.gateway.log",
    "emulator.gateway.results",
    "emulator.gateway.registry",
    "emulator.gateway.management",
    "emulator.gateway.access.authorizer",
    "emulator.gateway.access.policy",
    "emulator.gateway.access.apikeys",
    "emulator.gateway.access.origins",
    "emulator.gateway.access.signed",
    "emulator.gateway.validation",
    "emulator.gateway.integrations.outcome",
    "emulator.gateway.integrations.mapping",
    "emulator.gateway.integrations.select",
    "emulator.gateway.integrations.mock",
    "emulator.gateway.integrations.backend",
    "emulator.gateway.integrations.vtl",
    # tools that only transform values
    "emulator.tools.feed",
    "emulator.tools.export",
    "emulator.tools.export.resources",
    "emulator.tools.export.hcl",
    "emulator.tools.export.terraform",
    "emulator.tools.export.terraform_resources",
    "emulator.tools.export.sam",
    "emulator.tools.options",
    "emulator.tools.starter",
    "emulator.tools.state_format",
]

IO = ("asyncio", "websockets", "socket")

# Reading the clock or drawing an id, as attribute calls: `time.time()`, `uuid.uuid4()`.
CLOCK_AND_IDS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "urandom"),
}


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    assert spec.origin is not None, module
    return Path(spec.origin)


def _name(node: ast.expr) -> str:
    """``time`` for ``time``, ``datetime`` for ``datetime.datetime``."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


@pytest.mark.parametrize("module", PURE)
def test_imports_no_io(module: str) -> None:
    code = f"import sys, {module}; print(sorted(set({IO!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()}"


@pytest.mark.parametrize("module", PURE)
def test_reads_no_clock_and_draws_no_ids(module: str) -> None:
    tree = ast.parse(_source(module).read_text(encoding="utf-8"))
    imported = {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {name.partition(".")[0] for name in imported} & {"random", "secrets", "uuid"}
    calls = {
        (_name(node.func.value), node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK_AND_IDS, module


def test_every_module_is_pure_or_an_adapter() -> None:
    """A new module is put on one side on purpose: PURE above, or ADAPTERS here."""
    adapters = {
        "emulator.__main__",
        "emulator.app",
        "emulator.clock",  # the one place the clock and random ids come from
        "emulator.wire.connection",
        "emulator.wire.http1",  # sans-I/O, but the network front
        "emulator.wire.server",
        "emulator.runtime.aws_state",  # the mocked services' data, saved and restored
        "emulator.runtime.aws_view",  # and shown, through their APIs
        "emulator.runtime.boto",
        "emulator.runtime.context",
        "emulator.runtime.environ",
        "emulator.runtime.guards",
        "emulator.runtime.invoke",
        "emulator.runtime.lambda_api",  # pure steps, but the Lambda context it names is not
        "emulator.runtime.lambda_service",
        "emulator.runtime.lambda_logs",
        "emulator.runtime.logroot",
        "emulator.runtime.sandbox",
        "emulator.runtime.loader",
        "emulator.runtime.mock_aws",  # moto, in-process
        "emulator.runtime.output",
        "emulator.runtime.workers",
        "emulator.gateway.access.admit",
        "emulator.gateway.access.sigv4",  # pure in itself, but botocore imports socket
        "emulator.gateway.connections",
        "emulator.gateway.integrations.aws",
        "emulator.gateway.integrations.http",
        "emulator.gateway.integrations.lambda_proxy",
        "emulator.gateway.integrations.runner",
        "emulator.gateway.lifecycle",
        "emulator.gateway.pipeline",
        "emulator.gateway.timers",
        "emulator.tools.cli",
        "emulator.tools.logs",
        "emulator.tools.inspector",
        "emulator.tools.pytest_plugin",
        "emulator.tools.reload",
        "emulator.tools.state",  # asks a running emulator over HTTP
        "emulator.tools.testing",
    }
    package = _source("emulator").parent
    modules = {
        ".".join(("emulator", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("*.py")
    }
    modules = {name.removesuffix(".__init__") for name in modules}
    assert modules == set(PURE) | adapters
    assert not set(PURE) & adapters
