"""A Terraform configuration read as Terraform reads it, before any plan.

A pure module but for reading files. :class:`Configuration` loads the root
module's ``.tf`` files (all of a folder's files are one module) and the local
modules it calls (``source = "./modules/ws"``), and gives each the names its
expressions see:

* ``var.*``: the values given (``--var``, ``.tfvars`` files, ``TF_VAR_*``) or
  the declared defaults, converted to the declared ``type``; a module's
  variables are its ``module`` block's arguments, evaluated in the caller;
* ``local.*``, evaluated on first use; ``path.module``, ``path.root``;
* resources and data sources, expanded by ``count`` and ``for_each``: an
  attribute set in the configuration is that setting's value, one AWS computes
  (``id``, ``arn``, ``invoke_arn``) is a reference token
  (:func:`~.evaluate.reference`); ``module.<name>.<output>``.

Each expression is evaluated only when something asks for it, so a setting
that cannot be evaluated locally matters only where it is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.templates.model import whole_number
from emulator.model.templates.terraform.builtins import builtins
from emulator.model.templates.terraform.constraints import convert
from emulator.model.templates.terraform.evaluate import Evaluator, Scope
from emulator.model.templates.terraform.hcl import parse_expression, parse_file
from emulator.model.templates.terraform.syntax import Attribute, Block, Expr, Variable
from emulator.model.templates.terraform.values import EvalError, Unknown, reference

__all__ = ["Configuration", "Instance", "Module", "RawValue"]

# Attributes a plan computes even when they are set: the zip archive_file writes.
_COMPUTED = {("archive_file", "output_path")}
_META = frozenset({"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner"})


@dataclass(frozen=True)
class RawValue:
    """A variable's value as text (``--var``, ``TF_VAR_*``): Terraform reads it as
    HCL unless the variable is a string (``where`` names it in messages)."""

    text: str
    where: str


class Configuration:
    """The root module at ``directory`` and the modules it calls."""

    def __init__(
        self,
        directory: Path,
        source: str,
        variables: Mapping[str, Any],
        warnings: list[str],
    ) -> None:
        self.directory = directory
        self.warnings = warnings
        self.evaluator = Evaluator(builtins(directory))
        # What the emulator knows of what AWS would compute (its API's id).
        self.bound: dict[tuple[str, str], str] = {}
        self.root = Module(self, directory, source, ".", "", inputs=None, given=variables)

    def modules(self) -> Iterator[Module]:
        pending = [self.root]
        while pending:
            module = pending.pop(0)
            yield module
            pending.extend(module.children.values())

    def instances(self, kind: str, *, mode: str = "resource") -> list[Instance]:
        """Every instance of a resource type (``data``: a data source), in every module."""
        found = []
        for module in self.modules():
            for name, block in module.blocks[mode].items():
                if name[0] == kind:
                    found.extend(module.expand(mode, block))
        return found


class Module:
    """One module: its blocks, and the scope its expressions are evaluated in."""

    def __init__(
        self,
        configuration: Configuration,
        directory: Path,
        source: str,
        path_module: str,
        prefix: str,
        *,
        inputs: tuple[Mapping[str, Attribute], Scope] | None,
        given: Mapping[str, Any] | None = None,
    ) -> None:
        self.configuration = configuration
        self.directory = directory
        self.source = source  # the folder as messages name it
        self.path_module = path_module
        self.prefix = prefix  # "module.ws." inside module "ws"
        self.blocks: dict[str, dict[tuple[str, ...], Block]] = {
            kind: {} for kind in ("resource", "data", "variable", "output", "module")
        }
        self.locals: dict[str, tuple[Attribute, Block]] = {}
        self._read()
        self._inputs = inputs
        self._given = dict(given or {})
        self._variables: dict[str, Any] | None = None
        self._locals: dict[str, Any] = {}
        self._evaluating: list[str] = []
        self._expanded: dict[tuple[str, ...], Any] = {}
        names = {
            "var": _Lazy(self._variable),
            "local": _Lazy(self._local),
            "path": {"module": path_module, "root": ".", "cwd": "."},
            "terraform": {"workspace": "default"},
            "data": _Lazy(lambda name, line: _Lazy(self._data_of(name))),
            "module": _Lazy(self._module_outputs),
        }
        self.scope = Scope(_Names(names, self))
        self.children = {
            name[0]: child
            for name, block in self.blocks["module"].items()
            if (child := self._child(name[0], block)) is not None
        }

    def _read(self) -> None:
        files = sorted(self.directory.glob("*.tf"))
        for other in sorted(self.directory.glob("*.tf.json")):
            self.configuration.warnings.append(f"{self._name(other)}: JSON syntax is not read")
        for path in files:
            if path.stem.endswith("_override") or path.stem == "override":
                self.configuration.warnings.append(
                    f"{self._name(path)}: override files are not merged; it is not read"
                )
                continue
            for block in parse_file(path, self._name(path)).blocks:
                self._add(block)

    def _name(self, path: Path) -> str:
        return f"{self.source}/{path.name}"

    def _add(self, block: Block) -> None:
        if block.type == "locals":
            for attribute in block.body.attributes.values():
                if attribute.name in self.locals:
                    raise ConfigError(
                        f"local.{attribute.name} is declared twice",
                        source=f"{block.file}:{attribute.line}",
                    )
                self.locals[attribute.name] = (attribute, block)
            return
        if block.type not in self.blocks:
            return  # terraform, provider, moved, import, check: nothing to emulate
        if block.labels in self.blocks[block.type]:
            problem = f"{block.type} {' '.join(map(repr, block.labels))} is declared twice"
            raise ConfigError(problem, source=f"{block.file}:{block.line}")
        self.blocks[block.type][block.labels] = block

    def evaluate(self, expr: Expr, scope: Scope | None = None) -> Any:
        return self.configuration.evaluator.evaluate(expr, scope or self.scope)

    # var, local, module

    def variables(self) -> dict[str, Any]:
        if self._variables is None:
            self._variables = {}
            for (name,), block in self.blocks["variable"].items():
                self._variables[name] = self._variable_value(name, block)
            for name in self._given:
                if (name,) not in self.blocks["variable"]:
                    self.configuration.warnings.append(
                        f"{self.source}: a value is given for {name!r}, which no variable declares"
                    )
        return self._variables

    def _variable_value(self, name: str, block: Block) -> Any:
        attributes = block.body.attributes
        where = f"{block.file}:{block.line}"
        if self._inputs is not None and name in self._inputs[0]:
            attribute = self._inputs[0][name]
            value = self.configuration.evaluator.evaluate(attribute.value, self._inputs[1])
        elif name in self._given:
            value = self._given[name]
        elif "default" in attributes:
            value = self.evaluate(attributes["default"].value)
        elif self._inputs is not None:
            raise ConfigError(
                f"module {self.prefix[:-1]!r} needs a value for {name!r}", source=where
            )
        else:
            return Unknown(
                f"variable {name!r} has no value (give it with --var {name}=VALUE"
                " or in a .tfvars file)"
            )
        constraint = attributes["type"].value if "type" in attributes else None
        if isinstance(value, RawValue):
            if constraint is None or (
                isinstance(constraint, Variable) and constraint.name == "string"
            ):
                value = value.text
            else:
                try:
                    value = self.evaluate(parse_expression(value.text, value.where, 1), Scope({}))
                except EvalError as exc:
                    raise ConfigError(exc.problem, source=value.where) from exc
        try:
            return convert(value, constraint, self.evaluate)
        except EvalError as exc:
            raise ConfigError(f"var.{name}: {exc.problem}", source=where) from exc

    def _variable(self, name: str, line: int) -> Any:
        variables = self.variables()
        if name not in variables:
            raise EvalError(f"var.{name} is not declared", line)
        return variables[name]

    def _local(self, name: str, line: int) -> Any:
        if name in self._locals:
            return self._locals[name]
        if name not in self.locals:
            raise EvalError(f"local.{name} is not declared", line)
        if name in self._evaluating:
            raise EvalError(
                f"the locals refer to each other: {' -> '.join(self._evaluating)}", line
            )
        self._evaluating.append(name)
        try:
            value = self.evaluate(self.locals[name][0].value)
        finally:
            self._evaluating.pop()
        self._locals[name] = value
        return value

    def _child(self, name: str, block: Block) -> Module | None:
        attributes = block.body.attributes
        where = f"{block.file}:{block.line}"
        source = self.evaluate(attributes["source"].value) if "source" in attributes else None
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            self.configuration.warnings.append(
                f"{where}: module {name!r} (source {source!r}) is not a local folder;"
                " its resources are not read"
            )
            return None
        if "count" in attributes or "for_each" in attributes:
            self.configuration.warnings.append(
                f"{where}: module {name!r} has count or for_each, which are not expanded;"
                " its resources are not read"
            )
            return None
        directory = (self.directory / source).resolve()
        if not directory.is_dir():
            raise ConfigError(f"module {name!r}: no folder {source!r}", source=where)
        root = self.configuration.directory.resolve()
        relative = directory.relative_to(root) if directory.is_relative_to(root) else directory
        path = Path(self.source) / source
        inputs = {k: v for k, v in attributes.items() if k not in ("source", "version", *_META)}
        return Module(
            self.configuration,
            directory,
            path.as_posix(),
            relative.as_posix(),
            f"{self.prefix}module.{name}.",
            inputs=(inputs, self.scope),
        )

    def _module_outputs(self, name: str, line: int) -> Any:
        child = self.children.get(name)
        if child is None:
            return Unknown(f"module {name!r} is not read")
        return _Lazy(child.output)

    def output(self, name: str, line: int) -> Any:
        block = self.blocks["output"].get((name,))
        if block is None or "value" not in block.body.attributes:
            raise EvalError(f"module {self.prefix[:-1]!r} has no output {name!r}", line)
        return self.evaluate(block.body.attributes["value"].value)

    # Resources and data sources

    def _data_of(self, kind: str) -> Any:
        return lambda name, line: self._resource("data", kind, name, line)

    def _resource(self, mode: str, kind: str, name: str, line: int) -> Any:
        block = self.blocks[mode].get((kind, name))
        if block is None:
            what = f"data.{kind}.{name}" if mode == "data" else f"{kind}.{name}"
            raise EvalError(f"{what} is not declared", line)
        instances = self.expand(mode, block)
        attributes = block.body.attributes
        if "for_each" in attributes:
            return {str(instance.key): instance for instance in instances}
        if "count" in attributes:
            return instances
        return instances[0]

    def expand(self, mode: str, block: Block) -> list[Instance]:
        """The instances ``count`` or ``for_each`` make of a resource block."""
        key = (mode, *block.labels)
        if key not in self._expanded:
            self._expanded[key] = self._expand(mode, block)
        instances: list[Instance] = self._expanded[key]
        return instances

    def _expand(self, mode: str, block: Block) -> list[Instance]:
        attributes = block.body.attributes
        for meta in ("count", "for_each"):
            if meta not in attributes:
                continue
            try:
                value = self.evaluate(attributes[meta].value)
            except EvalError as exc:
                raise ConfigError(exc.problem, source=f"{block.file}:{exc.line}") from exc
            if isinstance(value, Unknown):
                problem = f"{meta} cannot be evaluated locally: {value.reason}"
                raise ConfigError(problem, source=f"{block.file}:{attributes[meta].line}")
            if meta == "count":
                # Terraform converts a numeric string, and takes a whole quotient (4 / 2).
                count = whole_number(value)
                if count is None or count < 0:
                    # Terraform: "Invalid count argument ... must be a whole number".
                    problem = f"count must be a whole number, 0 or more; got {value!r}"
                    raise ConfigError(problem, source=f"{block.file}:{attributes[meta].line}")
                return [
                    Instance(self, mode, block, n, {"count": {"index": n}}) for n in range(count)
                ]
            items = value.items() if isinstance(value, dict) else ((v, v) for v in value)
            return [
                Instance(self, mode, block, k, {"each": {"key": k, "value": v}}) for k, v in items
            ]
        return [Instance(self, mode, block, None, {})]


class Instance:
    """One instance of a resource or data source; its attributes evaluated on demand."""

    def __init__(
        self, module: Module, mode: str, block: Block, key: Any, names: Mapping[str, Any]
    ) -> None:
        self.module = module
        self.mode = mode
        self.block = block
        self.type, self.name = block.labels
        self.key = key
        self.scope = module.scope.child(names) if names else module.scope
        index = "" if key is None else f"[{key}]" if isinstance(key, int) else f'["{key}"]'
        data = "data." if mode == "data" else ""
        self.address = f"{module.prefix}{data}{self.type}.{self.name}{index}"

    def attribute(self, name: str) -> Attribute | None:
        return self.block.body.attributes.get(name)

    def value(self, name: str) -> Any:
        """A setting's value, None if it is not set; raises :class:`EvalError`."""
        attribute = self.attribute(name)
        return None if attribute is None else self.module.evaluate(attribute.value, self.scope)

    def nested(self, name: str) -> list[Block]:
        return self.block.body.blocks_of(name)

    def evaluate(self, expr: Expr) -> Any:
        return self.module.evaluate(expr, self.scope)

    def get(self, name: str, line: int) -> Any:
        """``<instance>.<name>`` in an expression."""
        bound = self.module.configuration.bound.get((self.address, name))
        if bound is not None:
            return bound
        if name in self.block.body.attributes and (self.type, name) not in _COMPUTED:
            return self.value(name)
        blocks = self.nested(name)
        if blocks:
            return [_block_value(block, self) for block in blocks]
        return reference(self.address, name)


def _block_value(block: Block, instance: Instance) -> dict[str, Any]:
    value: dict[str, Any] = {
        name: instance.evaluate(attribute.value)
        for name, attribute in block.body.attributes.items()
    }
    for nested in block.body.blocks:
        value.setdefault(nested.type, []).append(_block_value(nested, instance))
    return value


class _Lazy:
    """A namespace whose names are resolved by a function: ``local``, ``var``, ``module.x``."""

    def __init__(self, resolve: Any) -> None:
        self._resolve = resolve

    def get(self, name: str, line: int) -> Any:
        return self._resolve(name, line)


class _Names(Mapping[str, Any]):
    """A module's root names: the fixed ones, then any resource type."""

    def __init__(self, fixed: dict[str, Any], module: Module) -> None:
        self._fixed = fixed
        self._module = module

    def __getitem__(self, name: str) -> Any:
        if name in self._fixed:
            return self._fixed[name]
        if any(labels[0] == name for labels in self._module.blocks["resource"]):
            module = self._module
            return _Lazy(lambda label, line: module._resource("resource", name, label, line))
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        try:
            self[str(name)]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._fixed)

    def __len__(self) -> int:
        return len(self._fixed)
