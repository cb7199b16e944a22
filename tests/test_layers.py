"""The layers of the package, and the imports allowed between them (STYLE: a layout
that shows the architecture).

From the bottom up: the foundation (errors, the clock), the wire, the API
model, the Lambda runtime, the gateway, the emulator that composes them, and
the tools on top. A module may import its own layer and the layers below it,
never one above: the wire knows bytes and connections, not routes; the model
knows nothing of sockets; the runtime invokes functions without knowing which
route asked. Every import counts, those made inside functions or only for type
checking included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "emulator"

# Each layer's modules, bottom up: a module name, or a package and all below it.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundation": ("emulator.errors", "emulator.clock"),
    "wire": ("emulator.wire",),
    "model": ("emulator.model",),
    "runtime": ("emulator.runtime",),
    "gateway": ("emulator.gateway",),
    "app": ("emulator.app",),
    "tools": ("emulator.tools", "emulator.__main__"),
}
ORDER = list(LAYERS)
# The package itself re-exports the public API from every layer, imported on first use.
ROOT = "emulator"


def layer_of(module: str) -> str:
    for layer, prefixes in LAYERS.items():
        if any(module == prefix or module.startswith(f"{prefix}.") for prefix in prefixes):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """The project modules ``path`` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(ROOT)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(ROOT):
            if node.module == ROOT:  # `from emulator import x`: x is a module of the root
                found |= {f"{ROOT}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


MODULES = sorted(
    (module_name(path), path) for path in PACKAGE.rglob("*.py") if module_name(path) != ROOT
)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_imports_only_its_layer_and_the_layers_below(module: str, path: Path) -> None:
    mine = ORDER.index(layer_of(module))
    above = {
        imported: layer_of(imported)
        for imported in imports_of(path)
        if imported != ROOT and ORDER.index(layer_of(imported)) > mine
    }
    assert not above, f"{module} ({layer_of(module)}) imports from higher layers: {above}"


def test_every_layer_has_modules() -> None:
    assert {layer_of(name) for name, _ in MODULES} == set(ORDER)


def test_the_root_only_reexports() -> None:
    """``emulator/__init__.py`` imports the errors now and the rest on first use."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    eager = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(ROOT)
    }
    assert eager == {"emulator.errors"}


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("emulator.errors", "foundation"),
        ("emulator.wire.connection", "wire"),
        ("emulator.model.templates.cloudformation", "model"),
        ("emulator.runtime.invoke", "runtime"),
        ("emulator.gateway.integrations.lambda_proxy", "gateway"),
        ("emulator.app", "app"),
        ("emulator.tools.cli", "tools"),
        ("emulator.__main__", "tools"),
    ],
)
def test_layer_of(module: str, layer: str) -> None:
    assert layer_of(module) == layer


def test_a_module_outside_the_layers_is_reported() -> None:
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("emulator.helpers")
